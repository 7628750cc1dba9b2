import { type Dashboard, durationMs, type Widget } from '../domain/dashboard';
import type { Point } from '../domain/event';
import type { SeriesData } from '../sources/types';
import { emptyRedactionCounts, redactPii, sanitizeText } from './redact';
import { median, robustZScores } from './stats';
import type {
  CleanedDashboard,
  CleanedSeries,
  CleanedWidget,
  CleanReport,
  CollectedDashboard,
  Gap,
  Outlier,
} from './types';
import { conversionFactor } from './units';

/** Robust z-score beyond which a point is flagged (Iglewicz & Hoaglin recommend 3.5). */
export const OUTLIER_SCORE = 3.5;
/** Longest series key kept (category names, labels). */
export const MAX_KEY_LENGTH = 120;
/** Series kept per widget; the largest by magnitude win, the rest are counted as dropped. */
export const MAX_SERIES_PER_WIDGET = 50;
/** Smallest deviation from the median, relative to it, that can be an outlier. */
export const MIN_OUTLIER_DEVIATION = 0.05;
/** Outlier detection needs enough points to know what normal is. */
const MIN_POINTS_FOR_OUTLIERS = 5;

export function emptyCleanReport(): CleanReport {
  return {
    nonFinitePointsRemoved: 0,
    invalidTimestampsRemoved: 0,
    pointsOutsideWindowRemoved: 0,
    pointsAligned: 0,
    duplicatePointsMerged: 0,
    unitConversions: 0,
    unitMismatches: 0,
    gapBucketsMarked: 0,
    outliersFlagged: 0,
    seriesDropped: 0,
    textsSanitized: 0,
    textsTruncated: 0,
    redactions: emptyRedactionCounts(),
  };
}

/** The span a widget's data must fall in: two comparison windows ending at `asOf`. */
export function widgetWindow(widget: Widget, asOf: Date): { from: number; to: number } {
  return { from: asOf.getTime() - 2 * durationMs(widget.comparisonWindow), to: asOf.getTime() };
}

/**
 * Cleans collected data deterministically (same input, same output) and counts what every rule changed:
 * timestamps to UTC and aligned to the widget's buckets, points outside the window or not finite removed,
 * several points in one bucket merged with the widget's aggregation, units converted to the widget's unit,
 * gaps marked (never filled), outliers flagged (never dropped), series names stripped of control characters,
 * capped and redacted of personal data before anything can reach a model.
 */
export function cleanDashboard(dashboard: Dashboard, collected: CollectedDashboard): CleanedDashboard {
  const report = emptyCleanReport();
  const asOf = new Date(collected.asOf);
  const widgetsById = new Map(dashboard.widgets.map((widget) => [widget.id, widget]));
  const widgets = collected.widgets.map((item): CleanedWidget => {
    const widget = widgetsById.get(item.widgetId);
    if (!widget)
      return { widgetId: item.widgetId, status: 'failed', reason: 'widget is not on the dashboard' };
    if (item.status === 'failed') return item;
    const factor = unitFactor(item.data.unit, widget.unit, report);
    const series = item.data.series.map((s) => cleanSeries(s, widget, asOf, factor, report));
    return { widgetId: widget.id, status: 'ok', unit: widget.unit, series: keepLargest(series, report) };
  });
  return { dashboardId: collected.dashboardId, asOf: collected.asOf, widgets, report };
}

function unitFactor(sourceUnit: string | undefined, widgetUnit: string, report: CleanReport): number {
  if (sourceUnit === undefined || sourceUnit === widgetUnit || widgetUnit === '') return 1;
  const factor = conversionFactor(sourceUnit, widgetUnit);
  if (factor === null) {
    report.unitMismatches++;
    return 1;
  }
  report.unitConversions++;
  return factor;
}

function cleanKey(key: string, report: CleanReport): string {
  const { text, changed, truncated } = sanitizeText(key, MAX_KEY_LENGTH);
  if (changed) report.textsSanitized++;
  if (truncated) report.textsTruncated++;
  return redactPii(text, report.redactions) || '(unnamed)';
}

function aggregate(values: number[], how: Widget['aggregation']): number {
  switch (how) {
    case 'last':
      return values[values.length - 1] as number;
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'mean':
      // Running mean: a plain sum of large values overflows to Infinity before the division.
      return values.reduce((m, v, i) => m + (v - m) / (i + 1), 0);
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
  }
}

function cleanSeries(
  series: SeriesData,
  widget: Widget,
  asOf: Date,
  factor: number,
  report: CleanReport,
): CleanedSeries {
  const resolution = durationMs(widget.resolution);
  const window = widgetWindow(widget, asOf);
  // Bucket start → values in arrival order (so that `last` means the last one the source reported).
  const buckets = new Map<number, number[]>();
  for (const point of series.points) {
    const time = Date.parse(point.t);
    if (!Number.isFinite(time)) {
      report.invalidTimestampsRemoved++;
      continue;
    }
    if (typeof point.v !== 'number' || !Number.isFinite(point.v)) {
      report.nonFinitePointsRemoved++;
      continue;
    }
    if (time <= window.from - resolution || time > window.to) {
      report.pointsOutsideWindowRemoved++;
      continue;
    }
    const bucket = Math.floor(time / resolution) * resolution;
    if (bucket !== time) report.pointsAligned++;
    const values = buckets.get(bucket);
    if (values) {
      values.push(point.v * factor);
      report.duplicatePointsMerged++;
    } else buckets.set(bucket, [point.v * factor]);
  }
  const points: Point[] = [];
  for (const time of [...buckets.keys()].sort((a, b) => a - b)) {
    const v = aggregate(buckets.get(time) as number[], widget.aggregation);
    // A sum can overflow even when every value was finite; such a bucket is unusable, not infinite.
    if (Number.isFinite(v)) points.push({ t: new Date(time).toISOString(), v });
    else report.nonFinitePointsRemoved++;
  }
  const times = points.map((p) => Date.parse(p.t));
  const gaps = findGaps(times, resolution);
  for (const gap of gaps) report.gapBucketsMarked += gap.missingBuckets;
  const outliers = findOutliers(points);
  report.outliersFlagged += outliers.length;
  return { key: cleanKey(series.key, report), points, gaps, outliers };
}

function findGaps(times: number[], resolution: number): Gap[] {
  const gaps: Gap[] = [];
  for (let i = 1; i < times.length; i++) {
    const previous = times[i - 1] as number;
    const current = times[i] as number;
    const missing = Math.round((current - previous) / resolution) - 1;
    if (missing > 0) {
      gaps.push({
        from: new Date(previous + resolution).toISOString(),
        to: new Date(current - resolution).toISOString(),
        missingBuckets: missing,
      });
    }
  }
  return gaps;
}

function findOutliers(points: Point[]): Outlier[] {
  if (points.length < MIN_POINTS_FOR_OUTLIERS) return [];
  const values = points.map((p) => p.v);
  const scores = robustZScores(values);
  // A very steady series has a tiny spread, which makes noise look extreme; a point must also be materially
  // away from the typical value to count.
  const floor = MIN_OUTLIER_DEVIATION * Math.abs(median(values));
  const outliers: Outlier[] = [];
  points.forEach((point, i) => {
    const score = scores[i] as number;
    if (Math.abs(score) > OUTLIER_SCORE && Math.abs(point.v - median(values)) > floor) {
      outliers.push({ t: point.t, v: point.v, score });
    }
  });
  return outliers;
}

/** Keeps the series with the largest absolute totals; a dashboard with thousands of categories stays bounded. */
function keepLargest(series: CleanedSeries[], report: CleanReport): CleanedSeries[] {
  if (series.length <= MAX_SERIES_PER_WIDGET) return series;
  const magnitude = (s: CleanedSeries) => s.points.reduce((total, p) => total + Math.abs(p.v), 0);
  const kept = [...series]
    .sort((a, b) => magnitude(b) - magnitude(a) || a.key.localeCompare(b.key))
    .slice(0, MAX_SERIES_PER_WIDGET);
  report.seriesDropped += series.length - kept.length;
  const keep = new Set(kept);
  return series.filter((s) => keep.has(s));
}
