import { type Dashboard, durationMs, type Widget } from '../domain/dashboard';
import { canonicalJson, sha256Hex } from './canonical';
import { mean, roundSig, slope, sum } from './stats';
import type {
  Anomaly,
  BreakdownStats,
  CleanedDashboard,
  CleanedSeries,
  EnrichedDashboard,
  EnrichedWidget,
  Mover,
  SeriesStats,
  ShareShift,
} from './types';

export interface EnrichOptions {
  /** Estimated tokens the model input may use. */
  tokenBudget: number;
}

/** Sparkline lengths tried in turn when the input is over budget; 0 = statistics only. */
const RECENT_POINT_STEPS = [24, 12, 6, 0] as const;
const TOP_MOVERS = 5;
const DAY_MS = 86_400_000;

/** Rough token estimate for JSON text (≈ 4 characters per token for English and digits). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Turns cleaned data into the canonical, compact model input: per-series statistics and the change over the
 * widget's comparison window, trend, anomalies with the points that triggered them, movers and share shifts for
 * breakdowns, and what is missing. It is shrunk to the token budget (shorter sparklines first, then the least
 * changed series; anomalies are never dropped and every cut is listed), and hashed over exactly what a summary
 * depends on: key order, the collection instant and event ids do not change the hash.
 */
export function enrichDashboard(
  dashboard: Dashboard,
  cleaned: CleanedDashboard,
  options: EnrichOptions,
): EnrichedDashboard {
  const asOf = Date.parse(cleaned.asOf);
  const widgetsById = new Map(dashboard.widgets.map((widget) => [widget.id, widget]));
  const missing: EnrichedDashboard['missing'] = [];
  const full: { widget: Widget; series: CleanedSeries[] }[] = [];
  for (const item of cleaned.widgets) {
    const widget = widgetsById.get(item.widgetId);
    if (!widget) continue;
    if (item.status === 'failed') missing.push({ widgetId: widget.id, reason: item.reason });
    else if (item.series.every((s) => s.points.length === 0)) {
      missing.push({ widgetId: widget.id, reason: 'no data points in the comparison windows' });
    } else full.push({ widget, series: item.series.filter((s) => s.points.length > 0) });
  }

  const allLast = full.flatMap(({ series }) => series.map((s) => s.points[s.points.length - 1]?.t ?? ''));
  const allFirst = full.flatMap(({ series }) => series.map((s) => s.points[0]?.t ?? ''));
  const dataAsOf = allLast.sort().at(-1) ?? cleaned.asOf;
  const base = {
    dashboardId: dashboard.id,
    title: dashboard.title,
    description: dashboard.description,
    timezone: dashboard.timezone,
    dataAsOf,
    timeRange: { from: allFirst.sort()[0] ?? cleaned.asOf, to: dataAsOf },
    missing,
    cleaning: cleaned.report,
  };

  let widgets: EnrichedWidget[] = [];
  let truncation: EnrichedDashboard['truncation'] = { recentPoints: 0, seriesDropped: [], overBudget: false };
  let tokens = 0;
  for (const recentPoints of RECENT_POINT_STEPS) {
    widgets = full.map(({ widget, series }) => enrichWidget(widget, series, recentPoints));
    truncation = { recentPoints, seriesDropped: [], overBudget: false };
    tokens = estimateTokens(canonicalJson({ ...base, widgets, truncation }));
    if (tokens <= options.tokenBudget) break;
  }
  if (tokens > options.tokenBudget) {
    ({ widgets, truncation, tokens } = dropLeastChangedSeries(
      base,
      widgets,
      truncation,
      options.tokenBudget,
    ));
  }

  const body = { ...base, widgets, truncation };
  return {
    ...body,
    estimatedTokens: tokens,
    freshness: {
      asOf: cleaned.asOf,
      dataAgeSeconds: Math.max(0, Math.round((asOf - Date.parse(dataAsOf)) / 1000)),
    },
    inputHash: sha256Hex(canonicalJson(body)),
  };
}

function enrichWidget(widget: Widget, series: CleanedSeries[], recentPoints: number): EnrichedWidget {
  const windowMs = durationMs(widget.comparisonWindow);
  const enriched: EnrichedWidget = {
    widgetId: widget.id,
    title: widget.title,
    kind: widget.kind,
    unit: widget.unit,
    polarity: widget.polarity,
    comparisonWindow: widget.comparisonWindow,
    series: series.map((s) => seriesStats(s, windowMs, recentPoints)),
    anomalies: series
      .flatMap((s) =>
        s.outliers.map(
          (o): Anomaly => ({
            seriesKey: s.key,
            t: o.t,
            v: roundSig(o.v),
            score: roundSig(o.score, 3),
            direction: o.score > 0 ? 'spike' : 'dip',
          }),
        ),
      )
      .sort((a, b) => Math.abs(b.score) - Math.abs(a.score) || a.t.localeCompare(b.t)),
  };
  if (widget.kind === 'breakdown' || widget.kind === 'table') {
    enriched.breakdown = breakdownStats(series, windowMs, widget);
  }
  return enriched;
}

/** Splits a series at the comparison boundary: the current window ends at its last point. */
function windows(
  series: CleanedSeries,
  windowMs: number,
): { current: number[]; previous: number[]; currentTimes: number[] } {
  const lastTime = Date.parse(series.points[series.points.length - 1]?.t ?? '');
  const current: number[] = [];
  const currentTimes: number[] = [];
  const previous: number[] = [];
  for (const point of series.points) {
    const time = Date.parse(point.t);
    if (time > lastTime - windowMs) {
      current.push(point.v);
      currentTimes.push(time);
    } else if (time > lastTime - 2 * windowMs) previous.push(point.v);
  }
  return { current, previous, currentTimes };
}

function changeOf(
  current: number,
  previous: number | null,
): { change: number | null; changePct: number | null } {
  if (previous === null) return { change: null, changePct: null };
  const change = current - previous;
  const pct = (change / Math.abs(previous)) * 100;
  // A percentage of (nearly) nothing is no information: 0 or a subnormal previous value gives null, not ±Infinity.
  return { change: roundSig(change), changePct: Number.isFinite(pct) ? roundSig(pct, 4) : null };
}

function seriesStats(series: CleanedSeries, windowMs: number, recentPoints: number): SeriesStats {
  const values = series.points.map((p) => p.v);
  const { current, previous, currentTimes } = windows(series, windowMs);
  const currentMean = mean(current);
  const previousMean = previous.length > 0 ? mean(previous) : null;
  const trend = slope(
    currentTimes.map((t) => t / DAY_MS),
    current,
  );
  return {
    key: series.key,
    points: values.length,
    first: series.points[0]?.t ?? '',
    last: series.points[series.points.length - 1]?.t ?? '',
    lastValue: roundSig(values[values.length - 1] as number),
    min: roundSig(Math.min(...values)),
    max: roundSig(Math.max(...values)),
    mean: roundSig(mean(values)),
    currentMean: roundSig(currentMean),
    previousMean: previousMean === null ? null : roundSig(previousMean),
    ...changeOf(currentMean, previousMean),
    slopePerDay: trend === null ? null : roundSig(trend, 4),
    gapBuckets: series.gaps.reduce((total, gap) => total + gap.missingBuckets, 0),
    recent: downsample(values, recentPoints),
  };
}

/** Averages consecutive values into at most `target` buckets, keeping the shape and the latest value's bucket. */
export function downsample(values: readonly number[], target: number): number[] {
  if (target <= 0) return [];
  if (values.length <= target) return values.map((v) => roundSig(v, 4));
  const out: number[] = [];
  for (let i = 0; i < target; i++) {
    const start = Math.floor((i * values.length) / target);
    const end = Math.floor(((i + 1) * values.length) / target);
    out.push(roundSig(mean(values.slice(start, end)), 4));
  }
  return out;
}

/**
 * Breakdown widgets compare categories: each one's total (counts) or mean (rates, levels) per window, the
 * categories that moved most, and how each one's share of the whole shifted (in percentage points). Tables
 * compare latest values and have no shares.
 */
function breakdownStats(series: CleanedSeries[], windowMs: number, widget: Widget): BreakdownStats {
  const withShares = widget.kind === 'breakdown';
  // Counts add up over a window; rates, levels and ratios do not, so those compare window means.
  const perWindow = widget.aggregation === 'sum' ? sum : mean;
  const totals = series.map((s) => {
    const { current, previous } = windows(s, windowMs);
    return withShares
      ? {
          key: s.key,
          current: perWindow(current),
          previous: previous.length > 0 ? perWindow(previous) : null,
        }
      : {
          key: s.key,
          current: current[current.length - 1] ?? 0,
          previous: previous[previous.length - 1] ?? null,
        };
  });
  const currentTotal = sum(totals.map((t) => t.current));
  const previousKnown = totals.filter((t) => t.previous !== null);
  const previousTotal = previousKnown.length > 0 ? sum(previousKnown.map((t) => t.previous as number)) : null;
  const movers: Mover[] = totals.map((t) => ({
    key: t.key,
    current: roundSig(t.current),
    previous: t.previous === null ? null : roundSig(t.previous),
    ...changeOf(t.current, t.previous),
  }));
  const byMagnitude = (a: { key: string }, b: { key: string }, ma: number, mb: number) =>
    mb - ma || a.key.localeCompare(b.key);
  const topMovers = movers
    .filter((m) => m.change !== null && m.change !== 0)
    .sort((a, b) => byMagnitude(a, b, Math.abs(a.change ?? 0), Math.abs(b.change ?? 0)))
    .slice(0, TOP_MOVERS);
  const shareShifts: ShareShift[] = withShares
    ? totals
        .map((t) => {
          const share = currentTotal === 0 ? 0 : (t.current / currentTotal) * 100;
          const previousShare =
            t.previous === null || previousTotal === null || previousTotal === 0
              ? null
              : (t.previous / previousTotal) * 100;
          return {
            key: t.key,
            share: roundSig(share, 4),
            previousShare: previousShare === null ? null : roundSig(previousShare, 4),
            shiftPp: previousShare === null ? null : roundSig(share - previousShare, 3),
          };
        })
        .filter((s) => s.shiftPp !== null && s.shiftPp !== 0)
        .sort((a, b) => byMagnitude(a, b, Math.abs(a.shiftPp ?? 0), Math.abs(b.shiftPp ?? 0)))
        .slice(0, TOP_MOVERS)
    : [];
  return {
    total: {
      current: roundSig(currentTotal),
      previous: previousTotal === null ? null : roundSig(previousTotal),
    },
    topMovers,
    shareShifts,
  };
}

/**
 * Last resort over budget: leaves out whole series, least changed first. A series with an anomaly and the
 * first series of every widget stay, so every widget keeps its headline figure and no anomaly is lost.
 */
function dropLeastChangedSeries(
  base: object,
  widgets: EnrichedWidget[],
  truncation: EnrichedDashboard['truncation'],
  budget: number,
): { widgets: EnrichedWidget[]; truncation: EnrichedDashboard['truncation']; tokens: number } {
  const candidates = widgets.flatMap((widget) => {
    const anomalous = new Set(widget.anomalies.map((a) => a.seriesKey));
    return widget.series
      .slice(1)
      .filter((s) => !anomalous.has(s.key))
      .map((s) => ({ widgetId: widget.widgetId, series: s, cost: estimateTokens(canonicalJson(s)) + 1 }));
  });
  candidates.sort(
    (a, b) =>
      Math.abs(a.series.changePct ?? 0) - Math.abs(b.series.changePct ?? 0) ||
      `${a.widgetId}/${a.series.key}`.localeCompare(`${b.widgetId}/${b.series.key}`),
  );
  const measure = (kept: EnrichedWidget[], cut: EnrichedDashboard['truncation']) =>
    estimateTokens(canonicalJson({ ...base, widgets: kept, truncation: cut }));
  const dropped = new Set<SeriesStats>();
  const droppedKeys: string[] = [];
  let next = 0;
  let kept = widgets;
  let finalTruncation = truncation;
  let finalTokens = measure(kept, finalTruncation);
  // Per-series costs are estimates (the list of dropped keys grows too), so re-measure after each round.
  while (finalTokens > budget && next < candidates.length) {
    let saving = 0;
    while (next < candidates.length && finalTokens - saving > budget) {
      const candidate = candidates[next++] as (typeof candidates)[number];
      dropped.add(candidate.series);
      droppedKeys.push(`${candidate.widgetId}/${candidate.series.key}`);
      saving += candidate.cost;
    }
    kept = widgets.map((w) => ({ ...w, series: w.series.filter((s) => !dropped.has(s)) }));
    finalTruncation = { ...truncation, seriesDropped: [...droppedKeys].sort(), overBudget: false };
    finalTokens = measure(kept, finalTruncation);
  }
  if (finalTokens > budget) {
    finalTruncation = { ...finalTruncation, overBudget: true };
    finalTokens = measure(kept, finalTruncation);
  }
  return { widgets: kept, truncation: finalTruncation, tokens: finalTokens };
}
