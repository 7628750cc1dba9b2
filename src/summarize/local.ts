import type { Summary } from '../domain/summary';
import type { EnrichedDashboard, WidgetStats } from '../pipeline/types';
import type { SummaryContent } from './types';

export const LOCAL_MODEL = 'precis-local-extractive-v1';

type Severity = Summary['insights'][number]['severity'];

/** Changes smaller than this (in %) are reported as stable. */
const STABLE_PCT = 2;

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

function direction(stats: WidgetStats): 'up' | 'down' | 'flat' {
  if (stats.changePct === null || Math.abs(stats.changePct) < STABLE_PCT) return 'flat';
  return stats.changePct > 0 ? 'up' : 'down';
}

/** Whether the move is good news, bad news or neither, given the widget's polarity. */
function judgement(stats: WidgetStats): 'good' | 'bad' | 'neutral' {
  const dir = direction(stats);
  if (dir === 'flat' || stats.polarity === 'neutral') return 'neutral';
  const better = stats.polarity === 'higher_is_better' ? dir === 'up' : dir === 'down';
  return better ? 'good' : 'bad';
}

function severity(stats: WidgetStats): Severity {
  const pct = Math.abs(stats.changePct ?? 0);
  const verdict = judgement(stats);
  if (verdict === 'bad') return pct >= 25 ? 'critical' : pct >= 10 ? 'warning' : 'notice';
  return pct >= 10 ? 'notice' : 'info';
}

function insightText(stats: WidgetStats): string {
  const now = formatNumber(stats.currentMean, stats.unit);
  if (stats.changePct === null || stats.previousMean === null) {
    return `${stats.title} averages ${now} (latest ${formatNumber(stats.lastValue, stats.unit)}); no earlier window to compare.`;
  }
  const dir = direction(stats);
  const before = formatNumber(stats.previousMean, stats.unit);
  if (dir === 'flat') return `${stats.title} is stable at ${now} (previous window ${before}).`;
  const verb = dir === 'up' ? 'rose' : 'fell';
  return `${stats.title} ${verb} ${Math.abs(stats.changePct).toFixed(1)}% to ${now} (previous window ${before}).`;
}

const SEVERITY_RANK: Record<Severity, number> = { critical: 3, warning: 2, notice: 1, info: 0 };

/**
 * The embedded default summarizer: extractive and deterministic, built only from the enriched data, so every
 * number it states is in its input. It needs no API key and is the last rung before a stale summary.
 */
export function summarizeLocally(input: EnrichedDashboard): SummaryContent {
  const ranked = [...input.widgets].sort(
    (a, b) =>
      SEVERITY_RANK[severity(b)] - SEVERITY_RANK[severity(a)] ||
      Math.abs(b.changePct ?? 0) - Math.abs(a.changePct ?? 0) ||
      a.widgetId.localeCompare(b.widgetId),
  );
  const insights = ranked.map((stats) => ({
    widgetIds: [stats.widgetId],
    severity: severity(stats),
    text: insightText(stats),
  }));
  const top = ranked[0];
  const headline = top
    ? `${input.title}: ${insightText(top)}`
    : `${input.title}: no widget data available (${input.missing.length} missing).`;
  const recommendations = ranked
    .filter((stats) => judgement(stats) === 'bad' && SEVERITY_RANK[severity(stats)] >= SEVERITY_RANK.warning)
    .map(
      (stats) =>
        `Investigate ${stats.title}: it moved ${Math.abs(stats.changePct ?? 0).toFixed(1)}% in the wrong direction.`,
    );
  for (const gap of input.missing)
    recommendations.push(`Check the source of widget ${gap.widgetId}: ${gap.reason}.`);
  return { headline: headline.slice(0, 300), insights, anomalies: [], recommendations };
}
