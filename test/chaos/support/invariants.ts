/**
 * The invariants of issue #10, judged after each scenario from what the scenario recorded and what the engines
 * hold: nothing lost (every event in a summary or freshness record of its dashboard, or dead-lettered with a
 * reason), nothing twice (no version published twice, no summary stored twice), no run ended Failed or Terminated,
 * and no model call paid for without a summary to show for it.
 */
import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { DeliveredRecord } from '../../../bench/observe';
import type { Summary } from '../../../src/domain/summary';
import { SummaryStore } from '../../../src/store/summaries';
import type { RecordedRequest } from '../../support/openai-server';
import type { Recorder } from './recorder';

export interface Verdict {
  holds: boolean;
  detail: string;
}

export type Verdicts = Record<string, Verdict>;

export interface JudgeContext {
  redis: Redis;
  keyPrefix: string;
  temporal: Client;
  pipelineTaskQueue: string;
  workflowIdPrefix: string;
  recorder: Recorder;
  /** Summary and freshness announcements seen on Redis pub/sub since the stack started. */
  announced: () => readonly DeliveredRecord[];
  modelRequests: () => readonly RecordedRequest[];
}

/** What the store holds of a scenario's dashboards, plus what was announced (a freshness record is overwritten). */
export interface Observed {
  summaries: Map<string, Summary[]>;
  coveredIds: Map<string, Set<string>>;
}

const HISTORY_LIMIT = 50;

function verdict(holds: boolean, detail: string): Verdict {
  return { holds, detail };
}

function sample(items: readonly string[], max = 5): string {
  return items.length <= max
    ? items.join(', ')
    : `${items.slice(0, max).join(', ')} … (+${items.length - max})`;
}

export async function observe(context: JudgeContext, dashboardIds: readonly string[]): Promise<Observed> {
  const store = new SummaryStore(context.redis, context.keyPrefix, HISTORY_LIMIT);
  const summaries = new Map<string, Summary[]>();
  const coveredIds = new Map<string, Set<string>>();
  const announced = context.announced();
  for (const id of dashboardIds) {
    const history = await store.history(id, HISTORY_LIMIT);
    summaries.set(id, history);
    const covered = new Set<string>(history.flatMap((summary) => summary.eventIds));
    for (const record of announced)
      if (record.dashboardId === id) for (const e of record.eventIds) covered.add(e);
    const freshness = await context.redis.get(`${context.keyPrefix}summary:${id}:freshness`);
    if (freshness)
      for (const e of (JSON.parse(freshness) as { eventIds?: string[] }).eventIds ?? []) covered.add(e);
    coveredIds.set(id, covered);
  }
  return { summaries, coveredIds };
}

/** Every valid event in a record of its dashboard or dead-lettered with a reason; every invalid one dead-lettered. */
export function nothingLost(
  context: JudgeContext,
  observed: Observed,
  dashboardIds: readonly string[],
): Verdict {
  const deadLettered = new Set(
    context.recorder.deadLetters.filter((letter) => letter.reason).map((letter) => letter.eventId),
  );
  const missing: string[] = [];
  let produced = 0;
  for (const id of dashboardIds) {
    const covered = observed.coveredIds.get(id) ?? new Set<string>();
    for (const eventId of context.recorder.produced.get(id) ?? []) {
      produced++;
      if (!covered.has(eventId) && !deadLettered.has(eventId)) missing.push(eventId);
    }
    for (const eventId of context.recorder.invalidProduced.get(id) ?? []) {
      produced++;
      if (!deadLettered.has(eventId)) missing.push(`${eventId} (invalid, not dead-lettered)`);
    }
  }
  return verdict(
    missing.length === 0 && produced > 0,
    missing.length === 0
      ? `${produced} events accounted for`
      : `${missing.length}/${produced} missing: ${sample(missing)}`,
  );
}

/** No (dashboard, version) on the summaries topic twice. */
export function publishedOnce(context: JudgeContext, dashboardIds: readonly string[]): Verdict {
  const mine = new Set(dashboardIds);
  const counts = new Map<string, number>();
  for (const message of context.recorder.published) {
    if (!mine.has(message.dashboardId)) continue;
    const key = `${message.dashboardId}@${message.version}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const twice = [...counts].filter(([, n]) => n > 1).map(([key, n]) => `${key}×${n}`);
  return verdict(
    twice.length === 0,
    twice.length === 0 ? `${counts.size} versions, each once` : sample(twice),
  );
}

/** Every stored version reached the summaries topic (a version stored but never published is lost downstream). */
export function everyVersionPublished(
  context: JudgeContext,
  observed: Observed,
  dashboardIds: readonly string[],
): Verdict {
  const mine = new Set(dashboardIds);
  const published = new Set(
    context.recorder.published
      .filter((message) => mine.has(message.dashboardId))
      .map((message) => `${message.dashboardId}@${message.version}`),
  );
  const unpublished = [...observed.summaries]
    .flatMap(([id, history]) => history.map((summary) => `${id}@${summary.version}`))
    .filter((key) => !published.has(key));
  return verdict(
    unpublished.length === 0,
    unpublished.length === 0
      ? `${published.size} versions on the topic`
      : `not published: ${sample(unpublished)}`,
  );
}

/** No two stored versions of a dashboard that are the same summary (same input, events, model and label). */
export function storedOnce(observed: Observed): Verdict {
  const repeats: string[] = [];
  let stored = 0;
  for (const [id, history] of observed.summaries) {
    const seen = new Map<string, number>();
    for (const summary of history) {
      stored++;
      const identity = [summary.inputHash, summary.model, summary.degraded, summary.eventIds.join(',')].join(
        '|',
      );
      const earlier = seen.get(identity);
      if (earlier !== undefined) repeats.push(`${id} v${earlier}=v${summary.version}`);
      seen.set(identity, summary.version);
    }
  }
  return verdict(repeats.length === 0, repeats.length === 0 ? `${stored} versions stored` : sample(repeats));
}

/** No run of the scenario's dashboards closed as Failed, Terminated or TimedOut. */
export async function noFailedRuns(context: JudgeContext, dashboardIds: readonly string[]): Promise<Verdict> {
  const ids = new Set(dashboardIds.map((id) => `${context.workflowIdPrefix}${id}`));
  const bad: string[] = [];
  const query =
    `TaskQueue = '${context.pipelineTaskQueue}' AND ` +
    `(ExecutionStatus = 'Failed' OR ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut')`;
  for await (const execution of context.temporal.workflow.list({ query })) {
    if (ids.has(execution.workflowId)) bad.push(`${execution.workflowId} ${execution.status.name}`);
  }
  return verdict(bad.length === 0, bad.length === 0 ? 'none' : sample(bad));
}

/**
 * Paid model calls (answered 200) ≤ summaries made by a model call (cache outcome `miss`) + repair calls: every
 * other request must have failed (a retry's cause). A repair call (the stricter prompt after a reply the review
 * rejected) is the issue's "retry observed": the rejected reply was paid once and produced no summary, the repair
 * produced it. Requests are matched to the scenario by the dashboard id in their prompt; the detail breaks the
 * counts down per dashboard so that a miss says where the extra reply went.
 */
export function modelCallsPaidOnce(
  context: JudgeContext,
  observed: Observed,
  dashboardIds: readonly string[],
): Verdict {
  const requests = context.modelRequests().filter((r) => dashboardIds.some((id) => r.rawBody.includes(id)));
  const answered = (r: (typeof requests)[number]) =>
    r.outcome.type === 'response' && r.outcome.status === 200;
  const isRepair = (r: (typeof requests)[number]) => r.rawBody.includes('Your previous reply was rejected');
  const paid = requests.filter(answered).length;
  const repairs = requests.filter((r) => answered(r) && isRepair(r)).length;
  let made = 0;
  const perDashboard: string[] = [];
  for (const id of dashboardIds) {
    const madeHere = (observed.summaries.get(id) ?? []).filter(
      (summary) => summary.cacheOutcome === 'miss',
    ).length;
    const paidHere = requests.filter((r) => answered(r) && r.rawBody.includes(id)).length;
    made += madeHere;
    if (paidHere !== madeHere) perDashboard.push(`${id}: ${paidHere} paid, ${madeHere} made`);
  }
  const failed = requests.length - paid;
  return verdict(
    paid <= made + repairs,
    `${requests.length} model requests (${paid} answered 200 of which ${repairs} repairs, ${failed} failed or aborted), ${made} model summaries${
      perDashboard.length > 0 ? `; ${perDashboard.join('; ')}` : ''
    }`,
  );
}

/** The invariants every scenario shares. */
export async function judge(context: JudgeContext, dashboardIds: readonly string[]): Promise<Verdicts> {
  const observed = await observe(context, dashboardIds);
  return {
    nothingLost: nothingLost(context, observed, dashboardIds),
    publishedOnce: publishedOnce(context, dashboardIds),
    everyVersionPublished: everyVersionPublished(context, observed, dashboardIds),
    storedOnce: storedOnce(observed),
    noFailedRuns: await noFailedRuns(context, dashboardIds),
    modelCallsPaidOnce: modelCallsPaidOnce(context, observed, dashboardIds),
  };
}
