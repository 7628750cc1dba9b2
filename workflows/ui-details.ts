/**
 * What a dashboard's run shows of itself in the Temporal UI beyond its raw payloads: the outcome of its latest
 * summary, the "current details" text (what it is doing now), and the one-line summaries of its activities.
 * Pure functions of workflow state and workflow time: deterministic, and cheap enough to call on every change.
 */
import type { Delivered, RunPlan } from '../activities';

/**
 * How the latest summary came about, shown as the `PrecisOutcome` search attribute, in the memo and in the result:
 * - `called`: the model made it; `cache-hit`: the model's reply came from the reply cache (no call paid);
 * - `unchanged` / `immaterial`: the data did not change (enough); the stored summary still holds, no model call;
 * - `local`: the local summarizer made it (no model configured: the default, not a degradation);
 * - `fallback`: a lower rung of the ladder made it (labelled degraded, with the reason);
 * - `upgraded`: a degraded summary replaced by the model's once it was back;
 * - `abandoned`: the dashboard is no longer configured, its waiting events were dropped.
 * A run whose latest attempt made no summary shows `PrecisStatus` `retrying`; its outcome stays the last summary's.
 */
export type RunOutcome =
  | 'called'
  | 'cache-hit'
  | 'unchanged'
  | 'immaterial'
  | 'local'
  | 'fallback'
  | 'upgraded'
  | 'abandoned';

/** The latest summary a run delivered, as the UI shows it (memo `latest`, workflow result `latest`). */
export interface LatestSummary {
  version: number;
  outcome: RunOutcome;
  /** Absent when the run only confirmed an earlier summary (unchanged, immaterial). */
  headline?: string;
  model?: string;
  degradedReason?: string;
  /** What this summary cost in model calls (USD); 0 without a paid call. */
  costUsd: number;
}

/** The model name the local summarizer stamps on its summaries (src/summarize/local.ts LOCAL_MODEL). */
const LOCAL_MODEL_PREFIX = 'precis-local';

export function outcomeOf(delivered: Delivered, upgrade: boolean): RunOutcome {
  if (delivered.kind === 'touched') return delivered.cause ?? 'unchanged';
  if (delivered.degraded) return 'fallback';
  if (upgrade) return 'upgraded';
  if (delivered.model.startsWith(LOCAL_MODEL_PREFIX)) return 'local';
  return delivered.cacheOutcome === 'hit' ? 'cache-hit' : 'called';
}

/**
 * The latest summary after `delivered`. A summary that still holds (unchanged, immaterial) keeps the headline and
 * model of the version it confirms (as deliver read them, else as this run knew them).
 */
export function latestSummary(
  delivered: Delivered,
  upgrade: boolean,
  previous: LatestSummary | null,
): LatestSummary {
  const outcome = outcomeOf(delivered, upgrade);
  if (delivered.kind === 'touched') {
    const same = previous?.version === delivered.version ? previous : null;
    const headline = delivered.headline ?? same?.headline;
    const model = delivered.model ?? same?.model;
    return {
      version: delivered.version,
      outcome,
      ...(headline !== undefined ? { headline } : {}),
      ...(model !== undefined ? { model } : {}),
      costUsd: 0,
    };
  }
  return {
    version: delivered.version,
    outcome,
    ...(delivered.headline !== undefined ? { headline: delivered.headline } : {}),
    model: delivered.model,
    ...(delivered.degradedReason ? { degradedReason: delivered.degradedReason } : {}),
    costUsd: delivered.costUsd ?? 0,
  };
}

/** Search attribute values must stay short (Keyword columns of SQL visibility stores hold 255 characters). */
export function clip(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** USD with enough digits for a fraction of a cent. */
export function usd(amount: number): string {
  return `$${amount.toFixed(amount > 0 && amount < 0.01 ? 4 : 2)}`;
}

/** Workflow time to the second, in UTC: what the UI's reader compares with the clock. */
export function at(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A duration in its largest whole unit, for text (5000 → "5 s", 60000 → "1 min"). */
export function duration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}

/** What the run is doing now: the first line of its current details. */
export type Phase =
  | { kind: 'starting' }
  | { kind: 'debouncing'; until: number; deadline: number }
  | { kind: 'collecting'; widgets: number }
  | { kind: 'preparing'; widgets: number }
  | { kind: 'summarizing'; widgets: number; model: string | null }
  | { kind: 'delivering' }
  | { kind: 'idle'; until: number | null }
  | { kind: 'retrying'; reason: string; failedAttempts: number; nextAttemptAt: number }
  | { kind: 'upgrading'; version: number; model: string | null; nextTryAt: number }
  | { kind: 'done'; text: string };

function phaseText(phase: Phase): string {
  switch (phase.kind) {
    case 'starting':
      return 'starting';
    case 'debouncing':
      return phase.until < phase.deadline
        ? `waiting for the quiet period until ${at(phase.until)} (at the latest ${at(phase.deadline)})`
        : `waiting for the max delay until ${at(phase.deadline)}`;
    case 'collecting':
      // 0: the run has no plan yet (its first summary plans and collects in one step).
      return phase.widgets > 0 ? `collecting ${plural(phase.widgets, 'widget')}` : 'planning and collecting';
    case 'preparing':
      return `cleaning and enriching ${plural(phase.widgets, 'widget')}`;
    case 'summarizing':
      return phase.model
        ? `summarizing ${plural(phase.widgets, 'widget')} with ${phase.model}`
        : `summarizing ${plural(phase.widgets, 'widget')} locally`;
    case 'delivering':
      return 'storing and publishing the summary';
    case 'idle':
      return phase.until === null
        ? 'waiting for the next change'
        : `waiting for the next change (completes at ${at(phase.until)} if none comes)`;
    case 'retrying':
      return `retrying after ${phase.reason} (${plural(phase.failedAttempts, 'failed attempt')}), next attempt at ${at(phase.nextAttemptAt)}`;
    case 'upgrading':
      return `upgrading degraded version ${phase.version}${phase.model ? ` with ${phase.model}` : ''}, next try at ${at(phase.nextTryAt)}`;
    case 'done':
      return phase.text;
  }
}

export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}

/** Everything the current details are made of. */
export interface DetailsView {
  dashboardId: string;
  plan: Pick<RunPlan, 'title' | 'widgets'> | null;
  quietPeriodMs: number;
  maxDelayMs: number;
  phase: Phase;
  pending: number;
  latest: LatestSummary | null;
  summariesMade: number;
  runCostUsd: number;
}

/**
 * The run's current details (markdown). They also describe the dashboard: a run begun by continue-as-new carries
 * no static details (Temporal sets those only when a client starts the run).
 */
export function currentDetails(view: DetailsView): string {
  const dashboard = view.plan?.title
    ? `${view.plan.title} (\`${view.dashboardId}\`)`
    : `\`${view.dashboardId}\``;
  // A markdown list: the UI renders single line breaks as spaces.
  const lines = [
    `**Now:** ${phaseText(view.phase)}`,
    `**Pending events:** ${view.pending}`,
    `**Latest summary:** ${view.latest ? describeLatest(view.latest) : 'none yet in this run'}`,
    `**This run:** ${plural(view.summariesMade, 'summary', 'summaries')}, ${usd(view.runCostUsd)} in model calls`,
    `**Dashboard:** ${dashboard}, quiet period ${duration(view.quietPeriodMs)}, max delay ${duration(view.maxDelayMs)}`,
  ];
  if (view.plan)
    lines.push(`**Widgets:** ${view.plan.widgets.map((w) => `${w.title} (${w.source})`).join(', ')}`);
  return lines.map((line) => `- ${line}`).join('\n');
}

function describeLatest(latest: LatestSummary): string {
  const parts = [`v${latest.version}`, latest.outcome];
  if (latest.model) parts.push(latest.model);
  if (latest.costUsd > 0) parts.push(usd(latest.costUsd));
  const headline = latest.headline ? ` — “${latest.headline}”` : '';
  const degraded = latest.degradedReason ? ` (degraded: ${latest.degradedReason})` : '';
  return `${parts.join(' · ')}${headline}${degraded}`;
}
