/**
 * The statistics a summary may state, each bound to its widget, series and unit. Read defensively from the model
 * input (which is `unknown` to the checker: the model saw JSON, and tests pass partial inputs), so that a missing
 * field simply offers no fact rather than failing the check.
 */

/** How a figure is expressed: a level in the widget's unit, a change, a relative change in %, a share, or pp. */
export type FactKind = 'level' | 'delta' | 'pct' | 'share' | 'pp' | 'rate';

export interface Fact {
  widgetId: string;
  /** The series (or breakdown category) the figure belongs to; null for widget-wide figures (totals). */
  seriesKey: string | null;
  /** Which statistic: latest, mean, min, max, currentMean, previousMean, change, changePct, slopePerDay, … */
  statistic: string;
  kind: FactKind;
  value: number;
}

export interface WidgetFacts {
  widgetId: string;
  title: string;
  unit: string;
  /** higher_is_better, higher_is_worse or neutral: what "improved" and "worsened" mean for this widget. */
  polarity: string;
  comparisonWindow: string;
  seriesKeys: string[];
  /** Anomalies the data marks, as (series, instant, value). */
  anomalies: { seriesKey: string; t: string; v: number }[];
  facts: Fact[];
  /** Every instant the widget's data covers (series first/last, anomalies): what a stated timestamp may be. */
  instants: string[];
}

export interface DataFacts {
  title: string;
  widgets: WidgetFacts[];
  /** Instants of the whole input (time range, data as-of) plus every widget's. */
  instants: string[];
  /** Why widgets are missing: quoting these verbatim states no figure. */
  missingReasons: string[];
}

/** Which widgets a claim of one field may be about. */
export interface Scope {
  /** The field's widgetIds, or every widget for the headline and recommendations. */
  allowed: WidgetFacts[];
  all: WidgetFacts[];
}

/** Signed statistics: a direction word must agree with their sign. */
export const SIGNED_KINDS: ReadonlySet<FactKind> = new Set(['delta', 'pct', 'pp', 'rate']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

const SERIES_STATS: [field: string, statistic: string, kind: FactKind][] = [
  ['lastValue', 'latest', 'level'],
  ['min', 'min', 'level'],
  ['max', 'max', 'level'],
  ['mean', 'mean', 'level'],
  ['currentMean', 'current-window mean', 'level'],
  ['previousMean', 'previous-window mean', 'level'],
  ['change', 'change vs previous window', 'delta'],
  ['changePct', 'change % vs previous window', 'pct'],
  ['slopePerDay', 'trend per day', 'rate'],
];

function seriesFacts(widgetId: string, series: Record<string, unknown>): Fact[] {
  const seriesKey = str(series.key) || widgetId;
  return SERIES_STATS.flatMap(([field, statistic, kind]) => {
    const value = num(series[field]);
    return value === null ? [] : [{ widgetId, seriesKey, statistic, kind, value }];
  });
}

function breakdownFacts(widgetId: string, breakdown: Record<string, unknown>): Fact[] {
  const facts: Fact[] = [];
  const add = (seriesKey: string | null, statistic: string, kind: FactKind, value: number | null) => {
    if (value !== null) facts.push({ widgetId, seriesKey, statistic, kind, value });
  };
  const total = isRecord(breakdown.total) ? breakdown.total : {};
  const current = num(total.current);
  const previous = num(total.previous);
  add(null, 'total (current window)', 'level', current);
  add(null, 'total (previous window)', 'level', previous);
  // The total's change is a statistic of the data (the local summarizer states it), derived the one obvious way.
  if (current !== null && previous !== null) {
    add(null, 'total change vs previous window', 'delta', current - previous);
    if (previous !== 0) {
      add(
        null,
        'total change % vs previous window',
        'pct',
        ((current - previous) / Math.abs(previous)) * 100,
      );
    }
  }
  for (const mover of records(breakdown.topMovers)) {
    const key = str(mover.key);
    add(key, 'current window', 'level', num(mover.current));
    add(key, 'previous window', 'level', num(mover.previous));
    add(key, 'change vs previous window', 'delta', num(mover.change));
    add(key, 'change % vs previous window', 'pct', num(mover.changePct));
  }
  for (const shift of records(breakdown.shareShifts)) {
    const key = str(shift.key);
    add(key, 'share', 'share', num(shift.share));
    add(key, 'previous share', 'share', num(shift.previousShare));
    add(key, 'share shift (pp)', 'pp', num(shift.shiftPp));
  }
  return facts;
}

function widgetFacts(widget: Record<string, unknown>): WidgetFacts | null {
  const widgetId = str(widget.widgetId);
  if (!widgetId) return null;
  const series = records(widget.series);
  const anomalies = records(widget.anomalies).flatMap((a) => {
    const v = num(a.v);
    return v === null ? [] : [{ seriesKey: str(a.seriesKey) || widgetId, t: str(a.t), v }];
  });
  const facts = [
    ...series.flatMap((s) => seriesFacts(widgetId, s)),
    ...(isRecord(widget.breakdown) ? breakdownFacts(widgetId, widget.breakdown) : []),
    ...anomalies.map(
      (a): Fact => ({
        widgetId,
        seriesKey: a.seriesKey,
        statistic: 'anomaly value',
        kind: 'level',
        value: a.v,
      }),
    ),
  ];
  const breakdownKeys = isRecord(widget.breakdown)
    ? [...records(widget.breakdown.topMovers), ...records(widget.breakdown.shareShifts)].map((m) =>
        str(m.key),
      )
    : [];
  return {
    widgetId,
    title: str(widget.title),
    unit: str(widget.unit),
    polarity: str(widget.polarity),
    comparisonWindow: str(widget.comparisonWindow),
    seriesKeys: [...new Set([...series.map((s) => str(s.key)), ...breakdownKeys].filter(Boolean))],
    anomalies,
    facts,
    instants: [...series.flatMap((s) => [str(s.first), str(s.last)]), ...anomalies.map((a) => a.t)].filter(
      Boolean,
    ),
  };
}

export function dataFacts(input: unknown): DataFacts {
  const data = isRecord(input) ? input : {};
  const widgets = records(data.widgets).flatMap((w) => widgetFacts(w) ?? []);
  const range = isRecord(data.timeRange) ? data.timeRange : {};
  return {
    title: str(data.title),
    widgets,
    instants: [
      str(range.from),
      str(range.to),
      str(data.dataAsOf),
      ...widgets.flatMap((w) => w.instants),
    ].filter(Boolean),
    missingReasons: records(data.missing)
      .map((m) => str(m.reason))
      .filter(Boolean),
  };
}
