import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PendingEvent } from '../src/domain/event';
import type { SummaryDraft } from '../src/domain/summary';
import { PrecisDegradedKey, PrecisModelKey, PrecisStatusKey } from './search-attributes';

/**
 * One workflow per dashboard (workflow id = prefix + dashboard id), started or signalled with signal-with-start.
 * Events that arrive while a summary is being made fold into at most one follow-up run that uses the freshest
 * data. With nothing pending the workflow completes, so each burst of changes is one execution in the Temporal UI.
 */
export interface DashboardWorkflowInput {
  dashboardId: string;
  /** Wait this long after the latest event before summarizing (debounce). */
  quietPeriodMs: number;
  /** Never wait longer than this after the first pending event, however steady the traffic. */
  maxDelayMs: number;
  /** Carried across continue-as-new. */
  pending?: PendingEvent[];
  recentEventIds?: string[];
}

export interface DashboardWorkflowState {
  pending: number;
  summariesMade: number;
  lastVersion: number | null;
  status: 'waiting' | 'summarizing' | 'idle';
}

export const eventsArrivedSignal = defineSignal<[PendingEvent[]]>('eventsArrived');
export const stateQuery = defineQuery<DashboardWorkflowState>('state');

/** Event ids remembered to absorb redeliveries; bounded so the workflow state stays small. */
const REMEMBERED_EVENT_IDS = 2_000;
/** Summaries per execution before continue-as-new keeps the history short. */
const SUMMARIES_PER_RUN = 50;

const { collect, clean, enrich, store } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 10,
  },
});

const { summarize } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '2 minutes',
    maximumAttempts: 8,
  },
});

export async function dashboardWorkflow(input: DashboardWorkflowInput): Promise<DashboardWorkflowState> {
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
    state.lastVersion = await summarizeOnce(input.dashboardId, batch, state.summariesMade);
    state.summariesMade++;

    if (
      pending.length > 0 &&
      (state.summariesMade >= SUMMARIES_PER_RUN || workflowInfo().continueAsNewSuggested)
    ) {
      await continueAsNew<typeof dashboardWorkflow>({ ...input, pending, recentEventIds: recentIds });
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

async function summarizeOnce(
  dashboardId: string,
  events: PendingEvent[],
  iteration: number,
): Promise<number> {
  const info = workflowInfo();
  const collected = await collect({ dashboardId, asOf: new Date().toISOString(), events });
  const cleaned = await clean(collected);
  const enriched = await enrich(cleaned);
  const result = await summarize(enriched);
  const draft: SummaryDraft = {
    dashboardId,
    generatedAt: new Date().toISOString(),
    dataAsOf: enriched.dataAsOf,
    ...result.content,
    missingWidgets: enriched.missing,
    model: result.model,
    degraded: result.degraded,
    degradedReason: result.degradedReason,
    usage: result.usage,
    cacheOutcome: 'none',
    inputHash: enriched.inputHash,
    eventIds: events.map((event) => event.eventId),
    workflowId: info.workflowId,
    runId: info.runId,
  };
  const stored = await store({ draft, idempotencyKey: `${info.workflowId}/${info.runId}/${iteration}` });
  upsertSearchAttributes([
    { key: PrecisModelKey, value: result.model },
    { key: PrecisDegradedKey, value: result.degraded },
  ]);
  return stored.version;
}
