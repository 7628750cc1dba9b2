import type { Summary } from '../domain/summary';
import { textProblem } from '../grounding/text-checks';
import { checkGrounding, groundingRecord } from '../llm/grounding';
import { modelInput } from '../llm/prompt';
import type { EnrichedDashboard, EnrichedWidget, SeriesStats } from '../pipeline/types';
import type { SummaryContent } from './types';

export const LOCAL_MODEL = 'precis-local-extractive-v1';

type Severity = Summary['insights'][number]['severity'];

/** Changes smaller than this (in %) are reported as stable. */
const STABLE_PCT = 2;
/** The strongest anomalies a summary lists; the enriched input keeps them all. */
const MAX_ANOMALIES = 5;
const SEVERITY_RANK: Record<Severity, number> = { critical: 3, warning: 2, notice: 1, info: 0 };

function formatNumber(value: number, unit: string): string {
  const abs = Math.abs(value);
  const text =
    abs >= 1_000_000
      ? `${(value / 1_000_000).toFixed(2)}M`
      : abs >= 10_000
        ? `${(value / 1_000).toFixed(1)}k`
        : abs >= 100
          ? value.toFixed(0)
          : value.toFixed(2);
  if (!unit) return text;
  return unit === '%' ? `${text}%` : `${text} ${unit}`;
}

/** The figure a widget is judged by: its first (for breakdowns: its total) series. */
interface Headline {
  widget: EnrichedWidget;
  stats: SeriesStats;
}

/** A breakdown is judged by its total; any other widget by its first series. */
function headlineStats(widget: EnrichedWidget): SeriesStats | undefined {
  const first = widget.series[0];
  const total = widget.breakdown?.total;
  if (!first || !total || widget.kind !== 'breakdown') return first;
  const change = total.previous === null ? null : total.current - total.previous;
  const changePct = change === null || !total.previous ? null : (change / Math.abs(total.previous)) * 100;
  return {
    ...first,
    key: 'total',
    currentMean: total.current,
    lastValue: total.current,
    previousMean: total.previous,
    change,
    changePct,
  };
}

function direction(stats: SeriesStats): 'up' | 'down' | 'flat' {
  if (stats.changePct === null || Math.abs(stats.changePct) < STABLE_PCT) return 'flat';
  return stats.changePct > 0 ? 'up' : 'down';
}

/** Whether the move is good news, bad news or neither, given the widget's polarity. */
function judgement({ widget, stats }: Headline): 'good' | 'bad' | 'neutral' {
  const dir = direction(stats);
  if (dir === 'flat' || widget.polarity === 'neutral') return 'neutral';
  const better = widget.polarity === 'higher_is_better' ? dir === 'up' : dir === 'down';
  return better ? 'good' : 'bad';
}

function severity(headline: Headline): Severity {
  const pct = Math.abs(headline.stats.changePct ?? 0);
  const verdict = judgement(headline);
  if (verdict === 'bad') return pct >= 25 ? 'critical' : pct >= 10 ? 'warning' : 'notice';
  return pct >= 10 || headline.widget.anomalies.length > 0 ? 'notice' : 'info';
}

function changeText({ widget, stats }: Headline): string {
  const name =
    widget.series.length > 1 && widget.kind !== 'breakdown' ? `${widget.title} (${stats.key})` : widget.title;
  const now = formatNumber(stats.currentMean, widget.unit);
  if (stats.changePct === null || stats.previousMean === null) {
    return `${name} averages ${now} (latest ${formatNumber(stats.lastValue, widget.unit)}); no earlier window to compare.`;
  }
  const dir = direction(stats);
  const before = formatNumber(stats.previousMean, widget.unit);
  if (dir === 'flat') return `${name} is stable at ${now} (previous window ${before}).`;
  const verb = dir === 'up' ? 'rose' : 'fell';
  return `${name} ${verb} ${Math.abs(stats.changePct).toFixed(1)}% to ${now} (previous window ${before}).`;
}

function breakdownText(widget: EnrichedWidget): string | null {
  const mover = widget.breakdown?.topMovers[0];
  const shift = widget.breakdown?.shareShifts[0];
  const parts: string[] = [];
  if (mover?.change != null) {
    parts.push(
      `largest move: ${mover.key} ${mover.change > 0 ? '+' : ''}${formatNumber(mover.change, widget.unit)}`,
    );
  }
  if (shift?.shiftPp != null) {
    // A shift that rounds to 0.0 is stated as steady: "-0.0 pp" would claim a direction the data does not show.
    const shown = shift.shiftPp.toFixed(1);
    parts.push(
      Number(shown) === 0
        ? `${shift.key} share steady at ${shift.share.toFixed(1)}%`
        : `${shift.key} share ${shift.shiftPp > 0 ? '+' : ''}${shown} pp to ${shift.share.toFixed(1)}%`,
    );
  }
  return parts.length > 0 ? `${widget.title}: ${parts.join('; ')}.` : null;
}

function widgetText(headline: Headline): string {
  const base = changeText(headline);
  const extra = breakdownText(headline.widget);
  return extra ? `${base} ${extra}` : base;
}

/**
 * The embedded default summarizer: extractive and deterministic, built only from the enriched data, so every
 * number it states is in its input. It needs no API key and is the last rung before a stale summary.
 */
export function summarizeLocally(input: EnrichedDashboard): SummaryContent {
  const headlines: Headline[] = input.widgets.flatMap((widget) => {
    const stats = headlineStats(widget);
    return stats ? [{ widget, stats }] : [];
  });
  const ranked = [...headlines].sort(
    (a, b) =>
      SEVERITY_RANK[severity(b)] - SEVERITY_RANK[severity(a)] ||
      Math.abs(b.stats.changePct ?? 0) - Math.abs(a.stats.changePct ?? 0) ||
      a.widget.widgetId.localeCompare(b.widget.widgetId),
  );
  const insights = ranked.map((h) => ({
    widgetIds: [h.widget.widgetId],
    severity: severity(h),
    text: widgetText(h),
  }));
  const top = ranked[0];
  const headline = top
    ? `${input.title}: ${changeText(top)}`
    : `${input.title}: no widget data available (${input.missing.length} missing).`;
  const anomalies = input.widgets
    .flatMap((widget) => widget.anomalies.map((a) => ({ widget, a })))
    .sort((x, y) => Math.abs(y.a.score) - Math.abs(x.a.score))
    .slice(0, MAX_ANOMALIES)
    .map(({ widget, a }) => ({
      widgetId: widget.widgetId,
      at: a.t,
      value: a.v,
      description: `${widget.title}${widget.series.length > 1 ? ` (${a.seriesKey})` : ''}: ${a.direction} to ${formatNumber(a.v, widget.unit)} on ${a.t.slice(0, 16).replace('T', ' ')} UTC`,
    }));
  const recommendations = ranked
    .filter((h) => judgement(h) === 'bad' && SEVERITY_RANK[severity(h)] >= SEVERITY_RANK.warning)
    .map(
      (h) =>
        `Investigate ${h.widget.title}: it moved ${Math.abs(h.stats.changePct ?? 0).toFixed(1)}% in the wrong direction.`,
    );
  for (const gap of input.missing)
    recommendations.push(`Check the source of widget ${gap.widgetId}: ${gap.reason}.`);
  return checked({ headline: headline.slice(0, 300), insights, anomalies, recommendations }, input);
}

/**
 * The same bar as a model reply: the local output goes through the text checks and the claim checker too. It has no repair call and
 * no next rung, so a part whose claims fail is left out rather than served unchecked; the record says what was
 * checked and bound.
 */
function checked(content: SummaryContent, input: EnrichedDashboard): SummaryContent {
  const data = modelInput(input);
  const report = checkGrounding(content, data);
  const failed = new Set(report.claims.filter((c) => !c.ok).map((c) => c.field.replace(/\.\w+$/, '')));
  const why = report.claims
    .filter((c) => !c.ok)
    .map((c) => `${c.field}: ${c.text} (${c.reason ?? 'not bound'})`);
  const flagUnsafe = (field: string, text: string) => {
    const problem = textProblem([text], '');
    if (problem === null) return;
    failed.add(field);
    why.push(`${field}: ${problem}`);
  };
  flagUnsafe('headline', content.headline);
  for (const [i, insight] of content.insights.entries()) flagUnsafe(`insights[${i}]`, insight.text);
  for (const [i, anomaly] of content.anomalies.entries()) flagUnsafe(`anomalies[${i}]`, anomaly.description);
  for (const [i, text] of content.recommendations.entries()) flagUnsafe(`recommendations[${i}]`, text);
  if (failed.size === 0) return { ...content, grounding: groundingRecord(report) };
  const keep = (prefix: string) => (_item: unknown, index: number) => !failed.has(`${prefix}[${index}]`);
  const kept: SummaryContent = {
    headline: failed.has('headline') ? `${input.title}: summary of the latest data.` : content.headline,
    insights: content.insights.filter(keep('insights')),
    anomalies: content.anomalies.filter(keep('anomalies')),
    recommendations: content.recommendations.filter(keep('recommendations')),
  };
  return { ...kept, grounding: { ...groundingRecord(checkGrounding(kept, data)), omitted: why } };
}
