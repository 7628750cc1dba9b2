import {
  ActivityFailure,
  type ActivityOptions,
  ApplicationFailure,
  condition,
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, WidgetOutcome } from '../activities';
import type { LlmActivities } from '../activities/llm';
import type { PendingEvent } from '../src/domain/event';
import type { SummaryDraft } from '../src/domain/summary';
import type { LlmPlan } from '../src/llm/plan';
import type { SummarizeResult } from '../src/llm/summarizer';
import type { EnrichedDashboard } from '../src/pipeline/types';
import type { DashboardWorkflowInput, DashboardWorkflowState } from './dashboard';
import { PrecisDegradedKey, PrecisModelKey, PrecisStatusKey } from './search-attributes';
import { eventsArrivedSignal, eventsHandedOverSignal, stateQuery } from './signals';

/**
 * The dashboard workflow as precis 0.1 ran it, kept unchanged so that runs begun by that version finish on the code
 * they began with (see dashboardWorkflow): every stage a remote activity, the events themselves in signals and
 * history. New runs take the lean path. Remove once no run of this version can be open (runs complete when idle).
 */

/** Event ids remembered to absorb redeliveries; bounded so the workflow state stays small. */
const REMEMBERED_EVENT_IDS = 2_000;
/** Summaries per execution before continue-as-new keeps the history short. */
const SUMMARIES_PER_RUN = 50;

/** Stages that only touch Redis and CPU: quick, and worth retrying for a while if Redis blips. */
const PIPELINE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 10,
  },
};
const { clean, enrich, store, publish, summarizeLocally, touch } =
  proxyActivities<Activities>(PIPELINE_OPTIONS);

/**
 * Each widget is its own activity, so a slow or failing source is retried alone and shows up by name in the UI.
 * Sources heartbeat while they wait; a source that hangs is noticed after the heartbeat timeout, not the
 * start-to-close one. Few attempts: a widget that keeps failing is reported missing rather than holding the summary.
 */
const COLLECT_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '20 seconds',
    maximumAttempts: 4,
  },
};
const { collectWidget } = proxyActivities<Activities>(COLLECT_OPTIONS);

const { planCollection } = proxyLocalActivities<Activities>({ startToCloseTimeout: '10 seconds' });

/**
 * Model calls run on their own task queue. The activity owns the ladder; Temporal owns the retries of the
 * primary model (the activity passes the provider's Retry-After as the next delay). Past the last attempt or the
 * total retry time, the activity itself answers from a lower rung, so these limits only bound a lost worker.
 */
function modelActivities(plan: LlmPlan) {
  return proxyActivities<LlmActivities>({
    taskQueue: plan.taskQueue,
    startToCloseTimeout: '2 minutes',
    scheduleToCloseTimeout: plan.maxRetryMs + 180_000,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: plan.primaryAttempts + 1,
    },
  });
}

/**
 * Runs started before `llm` joined the input (an older precis) get the defaults of the starter: the default LLM
 * queue and no upgrade loop. Inputs only ever gain optional fields, so open runs survive an upgrade of precis.
 */
type RunInput = DashboardWorkflowInput & { llm: LlmPlan };

const LEGACY_LLM_PLAN: LlmPlan = {
  enabled: false,
  taskQueue: 'precis-llm',
  primaryAttempts: 4,
  maxRetryMs: 120_000,
  upgradeDelaysMs: [],
};

export async function dashboardWorkflowV1(started: DashboardWorkflowInput): Promise<DashboardWorkflowState> {
  const input: RunInput = { ...started, llm: started.llm ?? LEGACY_LLM_PLAN };
  const pending: PendingEvent[] = [...(input.pending ?? [])];
  const recentIds: string[] = [...(input.recentEventIds ?? [])];
  const seen = new Set(recentIds);
  const state: DashboardWorkflowState = {
    pending: pending.length,
    summariesMade: 0,
    lastVersion: null,
    status: 'waiting',
  };

  setHandler(eventsArrivedSignal, (events) => {
    for (const event of events) {
      if (seen.has(event.eventId)) continue; // a redelivered event changes nothing
      seen.add(event.eventId);
      recentIds.push(event.eventId);
      pending.push(event);
    }
    if (recentIds.length > REMEMBERED_EVENT_IDS) {
      for (const old of recentIds.splice(0, recentIds.length - REMEMBERED_EVENT_IDS)) seen.delete(old);
    }
    state.pending = pending.length;
  });
  // Hand-overs from a newer ingest reach a run of this version during an upgrade: their ids join the pending events
  // (their inline data, passed by reference, is beyond this version's collect step).
  setHandler(eventsHandedOverSignal, (handover) => {
    for (const eventId of handover.eventIds) {
      if (seen.has(eventId)) continue;
      seen.add(eventId);
      recentIds.push(eventId);
      pending.push({ eventId, occurredAt: handover.newestOccurredAt });
    }
    state.pending = pending.length;
  });
  setHandler(stateQuery, () => state);

  const setStatus = (status: DashboardWorkflowState['status']): void => {
    state.status = status;
    upsertSearchAttributes([{ key: PrecisStatusKey, value: status }]);
  };

  while (pending.length > 0) {
    setStatus('waiting');
    await debounce(pending, input.quietPeriodMs, input.maxDelayMs);
    const batch = pending.splice(0);
    state.pending = 0;
    setStatus('summarizing');
    const made = await summarizeOnce(input, batch, state.summariesMade);
    state.summariesMade++;
    state.lastVersion = made.version;
    if (made.degraded && input.llm.enabled) await upgradeWhenModelIsBack(input, made, pending, state);

    if (
      pending.length > 0 &&
      (state.summariesMade >= SUMMARIES_PER_RUN || workflowInfo().continueAsNewSuggested)
    ) {
      await continueAsNew<typeof dashboardWorkflowV1>({ ...input, pending, recentEventIds: recentIds });
    }
  }
  setStatus('idle');
  return state;
}

/** Waits until no event arrived for `quietMs`, or `maxDelayMs` after the wait began, whichever is first. */
async function debounce(pending: PendingEvent[], quietMs: number, maxDelayMs: number): Promise<void> {
  if (quietMs <= 0) return;
  const deadline = Date.now() + maxDelayMs;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return;
    const seenCount = pending.length;
    const moreArrived = await condition(() => pending.length !== seenCount, Math.min(quietMs, remaining));
    if (!moreArrived) return;
  }
}

/** The message of the error a failed activity ended with, for the summary's list of missing widgets. */
function failureReason(error: unknown): string {
  if (error instanceof ActivityFailure && error.cause) return error.cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** Collects every widget in parallel; only a dashboard whose every widget failed fails the run. */
async function collectAll(
  dashboardId: string,
  asOf: string,
  events: PendingEvent[],
): Promise<WidgetOutcome[]> {
  const plan = await planCollection(dashboardId);
  const outcomes = await Promise.all(
    plan.widgets.map(({ widgetId, title, source }) =>
      collectWidget
        .executeWithOptions({ ...COLLECT_OPTIONS, summary: `collect ${title} (${source})` }, [
          { dashboardId, widgetId, asOf, events: source === 'inline' ? events : [] },
        ])
        .then(
          ({ ref }): WidgetOutcome => ({ widgetId, ref }),
          (error: unknown): WidgetOutcome => ({ widgetId, failed: failureReason(error) }),
        ),
    ),
  );
  const failures = outcomes.filter((o) => 'failed' in o);
  if (failures.length === outcomes.length) {
    const reasons = failures.map((o) => `${o.widgetId}: ${'failed' in o ? o.failed : ''}`).join('; ');
    throw ApplicationFailure.nonRetryable(`every widget failed to collect (${reasons})`, 'CollectionFailed');
  }
  return outcomes;
}

interface Made {
  version: number;
  degraded: boolean;
  enriched: EnrichedDashboard;
  events: PendingEvent[];
}

async function summarizeOnce(input: RunInput, events: PendingEvent[], iteration: number): Promise<Made> {
  const { dashboardId } = input;
  const asOf = new Date().toISOString();
  const widgets = await collectAll(dashboardId, asOf, events);
  const cleaned = await clean({ dashboardId, asOf, widgets });
  const enriched = await enrich({ dashboardId, cleanedRef: cleaned.ref });
  const outcome = await modelActivities(input.llm)
    .summarizeWithModel(enriched)
    .catch(async (error: unknown) => {
      // Even the LLM queue gave nothing (no worker, every attempt lost): the last rung still answers.
      const result = await summarizeLocally({
        enriched,
        reason: `model stage failed: ${failureReason(error)}`,
      });
      return { kind: 'summary' as const, result };
    });
  if (outcome.kind === 'skip') {
    await touch({
      dashboardId,
      freshness: {
        version: outcome.version,
        checkedAt: new Date().toISOString(),
        dataAsOf: enriched.dataAsOf,
        cause: outcome.cause,
        eventIds: events.map((event) => event.eventId),
      },
    });
    return { version: outcome.version, degraded: false, enriched, events };
  }
  const version = await storeResult(outcome.result, enriched, events, `${iteration}`);
  return { version, degraded: outcome.result.degraded, enriched, events };
}

async function storeResult(
  result: SummarizeResult,
  enriched: EnrichedDashboard,
  events: PendingEvent[],
  idempotencySuffix: string,
): Promise<number> {
  const info = workflowInfo();
  const draft: SummaryDraft = {
    dashboardId: enriched.dashboardId,
    generatedAt: new Date().toISOString(),
    dataAsOf: enriched.dataAsOf,
    ...result.content,
    missingWidgets: enriched.missing,
    model: result.model,
    degraded: result.degraded,
    degradedReason: result.degradedReason,
    usage: result.usage,
    cacheOutcome: result.cacheOutcome,
    inputHash: enriched.inputHash,
    eventIds: events.map((event) => event.eventId),
    workflowId: info.workflowId,
    runId: info.runId,
  };
  const stored = await store({
    draft,
    idempotencyKey: `${info.workflowId}/${info.runId}/${idempotencySuffix}`,
  });
  await publish({ dashboardId: enriched.dashboardId, version: stored.version });
  upsertSearchAttributes([
    { key: PrecisModelKey, value: result.model },
    { key: PrecisDegradedKey, value: result.degraded },
  ]);
  return stored.version;
}

/**
 * A degraded summary is served at once, then upgraded when the model is back: the same input is offered to the
 * model again after growing delays. New events end the wait (their run makes a fresh summary anyway).
 */
async function upgradeWhenModelIsBack(
  input: RunInput,
  made: Made,
  pending: PendingEvent[],
  state: DashboardWorkflowState,
): Promise<void> {
  for (const [index, delayMs] of input.llm.upgradeDelaysMs.entries()) {
    if (await condition(() => pending.length > 0, delayMs)) return;
    const outcome = await modelActivities(input.llm)
      .summarizeWithModel(made.enriched)
      .catch(() => null);
    if (outcome?.kind === 'summary' && !outcome.result.degraded) {
      state.lastVersion = await storeResult(
        outcome.result,
        made.enriched,
        made.events,
        `${state.summariesMade}-upgrade-${index}`,
      );
      return;
    }
  }
}
