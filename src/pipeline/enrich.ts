import { type Dashboard, durationMs, type Widget } from '../domain/dashboard';
import type { Point } from '../domain/event';
import { contentHash } from './canonical';
import type { CleanedDashboard, EnrichedDashboard, WidgetStats } from './types';

/** Rounds to a fixed number of significant digits so float noise never changes the input hash. */
export function roundSig(value: number, digits = 6): number {
  if (value === 0 || !Number.isFinite(value)) return value;
  return Number(value.toPrecision(digits));
}

const mean = (values: number[]): number => values.reduce((sum, v) => sum + v, 0) / values.length;

/**
 * Turns cleaned data into the canonical model input: per-widget statistics and the change over the widget's
 * comparison window, plus which widgets are missing and why. The hash covers exactly what a summary depends on.
 */
export function enrichDashboard(dashboard: Dashboard, cleaned: CleanedDashboard): EnrichedDashboard {
  const widgetsById = new Map(dashboard.widgets.map((widget) => [widget.id, widget]));
  const widgets: WidgetStats[] = [];
  const missing: EnrichedDashboard['missing'] = [];
  for (const collected of cleaned.widgets) {
    const widget = widgetsById.get(collected.widgetId);
    if (!widget) continue;
    if (collected.status === 'failed') missing.push({ widgetId: widget.id, reason: collected.reason });
    else if (collected.points.length === 0) missing.push({ widgetId: widget.id, reason: 'no data points' });
    else widgets.push(widgetStats(widget, collected.points));
  }
  // ISO-8601 UTC strings sort in time order.
  const dataAsOf = widgets
    .map((w) => w.last)
    .sort()
    .at(-1);
  const body = {
    dashboardId: dashboard.id,
    title: dashboard.title,
    description: dashboard.description,
    dataAsOf: dataAsOf ?? cleaned.asOf,
    widgets,
    missing,
  };
  return { ...body, inputHash: contentHash(body) };
}

function widgetStats(widget: Widget, points: Point[]): WidgetStats {
  const values = points.map((p) => p.v);
  const first = points[0] as Point;
  const last = points[points.length - 1] as Point;
  const windowMs = durationMs(widget.comparisonWindow);
  const lastTime = Date.parse(last.t);
  const current = points.filter((p) => Date.parse(p.t) > lastTime - windowMs).map((p) => p.v);
  const previous = points
    .filter((p) => {
      const time = Date.parse(p.t);
      return time > lastTime - 2 * windowMs && time <= lastTime - windowMs;
    })
    .map((p) => p.v);
  const currentMean = mean(current);
  const previousMean = previous.length > 0 ? mean(previous) : null;
  const change = previousMean === null ? null : currentMean - previousMean;
  const changePct =
    previousMean === null || previousMean === 0 || change === null
      ? null
      : (change / Math.abs(previousMean)) * 100;
  return {
    widgetId: widget.id,
    title: widget.title,
    kind: widget.kind,
    unit: widget.unit,
    polarity: widget.polarity,
    points: points.length,
    first: first.t,
    last: last.t,
    lastValue: roundSig(last.v),
    min: roundSig(Math.min(...values)),
    max: roundSig(Math.max(...values)),
    mean: roundSig(mean(values)),
    currentMean: roundSig(currentMean),
    previousMean: previousMean === null ? null : roundSig(previousMean),
    change: change === null ? null : roundSig(change),
    changePct: changePct === null ? null : roundSig(changePct, 4),
  };
}
