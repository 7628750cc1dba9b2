import {
  ActivityFailure,
  type ActivityOptions,
  ApplicationFailure,
  condition,
  continueAsNew,
  type LocalActivityOptions,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  Activities,
  Delivered,
  DeliverInput,
  GatheredWidget,
  RunPlan,
  RunRetry,
  WidgetOutcome,
} from '../activities';
import type { LlmActivities } from '../activities/llm';
import type { EventsHandover, PendingEvent } from '../src/domain/event';
import { NEWEST_EVENT_IDS } from '../src/domain/limits';
import type { LlmPlan } from '../src/llm/plan';
import { dashboardWorkflowV1 } from './dashboard-v1';
import {
  PrecisCostUsdKey,
  PrecisDegradedKey,
  PrecisHeadlineKey,
  PrecisModelKey,
  PrecisOutcomeKey,
  PrecisStatusKey,
} from './search-attributes';
import {
  type DashboardWorkflowState,
  eventsArrivedSignal,
  eventsHandedOverSignal,
  stateQuery,
} from './signals';
import { clip, currentDetails, type LatestSummary, latestSummary, type Phase, plural } from './ui-details';

export type { DashboardWorkflowState } from './signals';
export { eventsArrivedSignal, eventsHandedOverSignal, stateQuery } from './signals';

/**
 * One workflow per dashboard (workflow id = prefix + dashboard id), started or signalled with signal-with-start.
 * Events that arrive while a summary is being made fold into one follow-up summary that uses the freshest data.
 * After a summary the workflow waits for the next change (up to the worker's idle timeout), so steady traffic
 * costs one signal per change rather than a new execution; continue-as-new keeps each run's history short.
 *
 * Each summary runs in one workflow task: every stage is a local activity on the pipeline worker (collect per
 * widget, prepare = clean + enrich, deliver = summarize or store + publish), so a summary costs one server round
 * trip instead of eight. Each widget's collection is still its own, separately retried step, named in the UI.
 * Only model calls leave the worker: they run as activities on the LLM task queue, where Temporal owns their
 * retries and the queue's rate cap.
 */
export interface DashboardWorkflowInput {
  dashboardId: string;
  /** Wait this long after the latest event before summarizing (debounce). */
  quietPeriodMs: number;
  /** Never wait longer than this after the first pending event, however steady the traffic. */
  maxDelayMs: number;
  /** Runs of precis 0.1 only: the model plan as the starter saw it (today the pipeline worker decides). */
  llm?: LlmPlan;
  /** Runs of precis 0.1 only: events carried across continue-as-new. */
  pending?: PendingEvent[];
  recentEventIds?: string[];
  /** Carried across continue-as-new. */
  carry?: Carry;
}

/** What one run hands the next through continue-as-new: small by construction. */
interface Carry {
  pending: PendingChanges;
  /** Identities of the latest hand-overs taken (see handoverIdentity), to drop one that comes again. */
  recent: string[];
  /** The freshest inline data the dashboard's events have carried so far. */
  inlineRef?: string;
  /** When the oldest pending change arrived: the max delay counts from it, across runs too. */
  firstPendingAt?: number;
  /** Attempts in a row that made no summary, and the backoff they follow. */
  failedAttempts?: number;
  runRetry?: RunRetry;
  /** The latest summary and what the runs before spent, for the Temporal UI (precis 0.4 and later). */
  latest?: LatestSummary;
}

/** Changes waiting for the next summary. */
interface PendingChanges {
  count: number;
  /** The newest ids, oldest first (at most NEWEST_EVENT_IDS). */
  eventIds: string[];
  /** Inline data of the waiting hand-overs, in arrival order. */
  inlineRefs: string[];
  /** Events handed over whole (eventsArrived), for their inline data. */
  events: PendingEvent[];
  /**
   * When the oldest waiting change happened (the event's `occurredAt`; per hand-over, its newest event's): the
   * freshness metric measures from it to the stored summary. Absent in runs begun before it existed.
   */
  oldestOccurredAt?: string;
}

/** One summary made: what was delivered, and its input, for a later upgrade. */
interface Made {
  delivered: Delivered;
  enrichedRef: string;
  events: DeliverInput['events'];
}

/** Marks runs that take the lean path; runs begun by precis 0.1 carry no such marker and finish as they began. */
export const LEAN_PIPELINE_PATCH = 'lean-pipeline';
/**
 * Marks runs that tell their story in the Temporal UI: activity summaries, and the latest summary's outcome,
 * headline and cost as search attributes and memo (new commands, which runs begun before must not meet on replay).
 */
export const UI_DETAILS_PATCH = 'ui-details-v1';
/** An upgrade answered by the fallback model stores that reply instead of dropping it. */
export const UPGRADE_KEEPS_FALLBACK_PATCH = 'upgrade-keeps-fallback-v1';
/** Runs that no longer write a memo per summary (see writeOutcome). */
export const UI_WITHOUT_MEMO_PATCH = 'ui-without-memo-v1';
/** Runs that write their outcome search attributes at most every OUTCOME_WRITE_INTERVAL_MS while busy. */
export const UI_OUTCOME_THROTTLE_PATCH = 'ui-outcome-throttle-v1';
const OUTCOME_WRITE_INTERVAL_MS = 30_000;
/**
 * Runs that make a summary in two local activities instead of five or more: `gather` (plan, inline data, every
 * widget) and `prepare` (clean, enrich and, when no model call is needed, deliver). Each step the workflow schedules
 * costs the pipeline worker a round of workflow-sandbox CPU; under the benchmark's throughput load the worker was
 * the saturated process. A widget that fails is still retried alone (collectWidget), and only then reported missing.
 */
export const GATHER_PATCH = 'gather-v1';

/** Stages that only touch Redis, Kafka and CPU: quick, and worth retrying for a while if Redis blips. */
const STAGE_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
  },
};
const { planRun, mergeInline, prepare, deliver } = proxyLocalActivities<Activities>(STAGE_OPTIONS);

/**
 * Each widget is its own step, retried alone, so a slow or failing source does not redo the others. Few attempts:
 * a widget that keeps failing is reported missing rather than holding the summary. Sources time out on their own
 * well within the start-to-close limit.
 */
const COLLECT_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '20 seconds',
    maximumAttempts: 4,
  },
};
const { collectWidget } = proxyLocalActivities<Activities>(COLLECT_OPTIONS);

/** Collects every widget at once: as long as one widget may take, retried like a stage if Redis blips. */
const GATHER_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: COLLECT_OPTIONS.startToCloseTimeout,
  retry: STAGE_OPTIONS.retry,
};
const { gather } = proxyLocalActivities<Activities>(GATHER_OPTIONS);

/**
 * A widget `gather` could not collect is tried again alone, on COLLECT_OPTIONS' schedule: 1 s after gather's
 * attempt, then 2 s and 4 s later (attempts 2 to 4 of the same four).
 */
const COLLECT_RETRY_DELAY_MS = 1_000;
const COLLECT_RETRY_OPTIONS: LocalActivityOptions = {
  ...COLLECT_OPTIONS,
  retry: { ...COLLECT_OPTIONS.retry, initialInterval: '2 seconds', maximumAttempts: 3 },
};

/**
 * Model calls run on their own task queue. The activity owns the ladder; Temporal owns the retries of the
 * primary model (the activity passes the provider's Retry-After as the next delay). Past the last attempt or the
 * total retry time, the activity itself answers from a lower rung, so these limits only bound a lost worker.
 */
function modelOptions(plan: LlmPlan): ActivityOptions {
  return {
    taskQueue: plan.taskQueue,
    // Sized from the LLM configuration (src/llm/plan.ts modelTimeouts); plans recorded by earlier versions carry no
    // such numbers and keep the fixed timeouts they were scheduled with.
    startToCloseTimeout: plan.startToCloseMs ?? '2 minutes',
    scheduleToCloseTimeout: plan.scheduleToCloseMs ?? plan.maxRetryMs + 180_000,
    // The activity heartbeats through every wait and call: a worker that died is noticed in seconds, not minutes.
    ...(plan.heartbeatTimeoutMs !== undefined ? { heartbeatTimeout: plan.heartbeatTimeoutMs } : {}),
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: plan.primaryAttempts + 1,
    },
  };
}

/** The model stage, with a summary for the Temporal UI when the run shows one. */
function summarizeWithModel(
  plan: LlmPlan,
  input: Parameters<LlmActivities['summarizeWithModel']>[0],
  summary: string | undefined,
): ReturnType<LlmActivities['summarizeWithModel']> {
  const options = modelOptions(plan);
  return proxyActivities<LlmActivities>(options).summarizeWithModel.executeWithOptions(
    summary === undefined ? options : { ...options, summary },
    [input],
  );
}

export async function dashboardWorkflow(input: DashboardWorkflowInput): Promise<DashboardWorkflowState> {
  // Runs begun by precis 0.1 recorded no marker: they replay, and finish, on the code they began with.
  if (!patched(LEAN_PIPELINE_PATCH)) return dashboardWorkflowV1(input);
  return new DashboardRun(input).run();
}

function emptyChanges(): PendingChanges {
  return { count: 0, eventIds: [], inlineRefs: [], events: [] };
}

/** Hand-overs remembered to drop repeats; a repeat comes soon after the original, so a short memory is enough. */
const RECENT_HANDOVERS = 64;

/**
 * What makes a hand-over the same one: its Kafka position together with its newest event. Not the position alone:
 * offsets start again from 0 when a topic is deleted and made anew, and a watermark on offsets would then drop
 * every new event; event ids never repeat that way.
 */
function handoverIdentity(handover: EventsHandover): string {
  const newest = handover.eventIds.at(-1) ?? '';
  return handover.position
    ? `${handover.position.stream}@${handover.position.offset}/${newest}`
    : `${handover.count}/${newest}`;
}

/** Until a pipeline worker's plan says otherwise (its PRECIS_RUN_RETRY_* settings). */
const DEFAULT_RUN_RETRY: RunRetry = { initialMs: 10_000, maxMs: 600_000 };

/** The delay before the next attempt after `failedAttempts` failed ones in a row: doubling, capped. */
export function backoffMs(retry: RunRetry, failedAttempts: number): number {
  return Math.min(retry.maxMs, retry.initialMs * 2 ** Math.min(failedAttempts - 1, 30));
}

/**
 * A summary that could not be made: a stage that exhausted its retries, or a dashboard whose every widget failed.
 * Anything else (cancellation, a bug in this code) is not the run's data problem and ends the workflow as before.
 */
function isRunFailure(error: unknown): boolean {
  return (
    error instanceof ActivityFailure ||
    (error instanceof ApplicationFailure && error.type === COLLECTION_FAILED)
  );
}

function isUnknownDashboard(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    error.cause instanceof ApplicationFailure &&
    error.cause.type === 'UnknownDashboard'
  );
}

const COLLECTION_FAILED = 'CollectionFailed';

/** The message of the error a failed activity ended with, for summaries and the UI. */
function failureReason(error: unknown): string {
  if (error instanceof ActivityFailure && error.cause) return error.cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** What the deliver step does for this run, in a line for the Temporal UI. */
function deliverSummary(model: DeliverInput['model'], widgets: number): string {
  if (model === undefined) return `summarize ${plural(widgets, 'widget')} locally, store and publish`;
  switch (model.kind) {
    case 'skip':
      return `keep version ${model.version} (${model.cause} input): extend its freshness`;
    case 'failed':
      return `summarize locally (the model stage failed), store and publish`;
    case 'summary':
      return `store and publish the summary by ${model.result.model}${model.result.degraded ? ' (degraded)' : ''}`;
  }
}

/** What `gather` does for this run, in a line for the Temporal UI (the widgets are named once a plan is known). */
function gatherSummary(dashboardId: string, plan: RunPlan | null, inlineHandovers: number): string {
  const inline =
    inlineHandovers > 0 ? ` with the inline data of ${plural(inlineHandovers, 'hand-over')}` : '';
  if (!plan) return `plan the summary of ${dashboardId} and collect its widgets${inline}`;
  const widgets = plan.widgets.map((w) => `${w.title} (${w.source})`).join(', ');
  return `collect ${widgets}${inline}`;
}

/** "3 widgets", or "2 of 3 widgets" when some could not be collected. */
function countedWidgets(collected: number, total: number): string {
  return collected === total ? plural(total, 'widget') : `${collected} of ${plural(total, 'widget')}`;
}

/** The waiting changes as the deliver step records them. */
function pendingEvents(changes: PendingChanges): DeliverInput['events'] {
  return {
    count: changes.count,
    eventIds: changes.eventIds,
    ...(changes.oldestOccurredAt ? { oldestOccurredAt: changes.oldestOccurredAt } : {}),
  };
}

/** A run that collected nothing has nothing to summarize: it fails, and its events wait for the next attempt. */
function failWhenNothingCollected(outcomes: WidgetOutcome[]): void {
  const failures = outcomes.filter((o) => 'failed' in o);
  if (failures.length < outcomes.length) return;
  const reasons = failures.map((o) => `${o.widgetId}: ${'failed' in o ? o.failed : ''}`).join('; ');
  throw ApplicationFailure.nonRetryable(`every widget failed to collect (${reasons})`, COLLECTION_FAILED);
}

class DashboardRun {
  private pending: PendingChanges;
  private readonly recent: string[];
  private inlineRef: string | undefined;
  private readonly state: DashboardWorkflowState;
  /** When the oldest pending change arrived (workflow time), for the max delay. */
  private firstPendingAt: number;
  /** The search attributes as last written. */
  private shownStatus: string | null = null;
  private shownModel: { model: string; degraded: boolean } | null = null;
  /** The outcome search attributes and memo as last written (JSON), to write only changes. */
  private shownOutcome: string | null = null;
  private throttleOutcome = false;
  private outcomeWrittenAt = Number.NEGATIVE_INFINITY;
  /** An outcome not written yet because the last write is recent (see writeOutcome). */
  private deferredOutcome: { stored: { model: string; degraded: boolean } | null } | null = null;
  /** Whether this run shows activity summaries and its outcome (UI_DETAILS_PATCH; false for runs begun before). */
  private ui = false;
  /** What the run is doing now, for its current details; the latest plan, for the dashboard's description. */
  private phase: Phase = { kind: 'starting' };
  private plan: RunPlan | null = null;

  constructor(private readonly input: DashboardWorkflowInput) {
    this.pending = input.carry?.pending ?? emptyChanges();
    for (const event of input.pending ?? []) this.addEvent(event);
    this.recent = [...(input.carry?.recent ?? [])];
    this.inlineRef = input.carry?.inlineRef;
    this.firstPendingAt = input.carry?.firstPendingAt ?? Date.now();
    this.state = {
      pending: this.pending.count,
      summariesMade: 0,
      lastVersion: null,
      status: 'waiting',
      ...(input.carry?.latest ? { latest: input.carry.latest } : {}),
    };
  }

  /**
   * Sets what the run is doing now and renders the current details the Temporal UI shows. Only the workflow's
   * memory changes (the UI reads them with a query): no command, nothing in history.
   */
  private show(phase: Phase = this.phase): void {
    this.phase = phase;
    setCurrentDetails(
      currentDetails({
        dashboardId: this.input.dashboardId,
        plan: this.plan,
        quietPeriodMs: this.input.quietPeriodMs,
        maxDelayMs: this.input.maxDelayMs,
        phase,
        pending: this.pending.count,
        latest: this.state.latest ?? null,
        summariesMade: this.state.summariesMade,
        runCostUsd: this.state.costUsd ?? 0,
      }),
    );
  }

  private addEvent(event: PendingEvent): void {
    this.noteArrival();
    this.noteOccurred(event.occurredAt);
    this.pending.count++;
    this.pending.eventIds = [...this.pending.eventIds, event.eventId].slice(-NEWEST_EVENT_IDS);
    if (event.payload) this.pending.events.push(event);
  }

  private noteArrival(): void {
    if (this.pending.count === 0) this.firstPendingAt = Date.now();
  }

  /** Keeps the oldest `occurredAt` of the waiting changes (metrics only: no command depends on it). */
  private noteOccurred(occurredAt: string): void {
    const at = Date.parse(occurredAt);
    if (Number.isNaN(at)) return;
    const oldest = this.pending.oldestOccurredAt;
    if (oldest === undefined || at < Date.parse(oldest)) this.pending.oldestOccurredAt = occurredAt;
  }

  private handOver(handover: EventsHandover): void {
    // The same hand-over again (a signal retried after a lost answer, a batch redelivered after a crash of the ingest
    // with the same bounds) changes nothing.
    const identity = handoverIdentity(handover);
    if (this.recent.includes(identity)) return;
    this.recent.push(identity);
    if (this.recent.length > RECENT_HANDOVERS) this.recent.splice(0, this.recent.length - RECENT_HANDOVERS);
    if (handover.count <= 0) return;
    this.noteArrival();
    this.noteOccurred(handover.newestOccurredAt);
    this.pending.count += handover.count;
    this.pending.eventIds = [...this.pending.eventIds, ...handover.eventIds].slice(-NEWEST_EVENT_IDS);
    if (handover.inlineRef) this.pending.inlineRefs.push(handover.inlineRef);
  }

  async run(): Promise<DashboardWorkflowState> {
    const seen = new Set<string>();
    setHandler(eventsArrivedSignal, (events) => {
      for (const event of events) {
        if (seen.has(event.eventId)) continue; // the same event twice in one run changes nothing
        seen.add(event.eventId);
        this.addEvent(event);
      }
      this.state.pending = this.pending.count;
      this.show();
    });
    setHandler(eventsHandedOverSignal, (handover) => {
      this.handOver(handover);
      this.state.pending = this.pending.count;
      this.show();
    });
    setHandler(stateQuery, () => this.state);
    this.ui = patched(UI_DETAILS_PATCH);
    this.throttleOutcome = this.ui && patched(UI_OUTCOME_THROTTLE_PATCH);
    this.show();
    this.showStatus(this.input.carry?.failedAttempts ? 'retrying' : 'active');

    let idleTimeoutMs: number | null = null;
    let retry: RunRetry = this.input.carry?.runRetry ?? DEFAULT_RUN_RETRY;
    let failedAttempts = this.input.carry?.failedAttempts ?? 0;
    let summariesPerRun = Number.POSITIVE_INFINITY;
    for (;;) {
      if (this.pending.count === 0) {
        this.flushOutcome();
        // Wait for the next change; the idle timeout is the worker's setting, known after the first summary.
        this.state.status = 'idle';
        const timeout = idleTimeoutMs ?? 0;
        this.show({ kind: 'idle', until: timeout > 0 ? Date.now() + timeout : null });
        if (timeout <= 0 || !(await condition(() => this.pending.count > 0, timeout))) break;
      }
      if (failedAttempts > 0) {
        this.show();
        await sleep(backoffMs(retry, failedAttempts));
      } else {
        this.state.status = 'waiting';
        await this.debounce();
      }
      const changes = this.pending;
      const changesSince = this.firstPendingAt;
      this.pending = emptyChanges();
      seen.clear();
      this.state.pending = 0;
      this.state.status = 'summarizing';
      try {
        const usePlan = (plan: RunPlan): void => {
          idleTimeoutMs = plan.idleTimeoutMs;
          retry = plan.runRetry ?? retry;
          summariesPerRun = plan.summariesPerRun;
        };
        const { plan, made } = patched(GATHER_PATCH)
          ? await this.gatherAndSummarize(changes, usePlan)
          : await this.planAndSummarize(changes, usePlan);
        failedAttempts = 0;
        delete this.state.failure;
        this.showStatus('active');
        this.state.summariesMade++;
        this.state.lastVersion = made.delivered.version;
        if (made.delivered.kind === 'stored' && made.delivered.degraded && plan.llm.enabled)
          // Best effort: the degraded summary is stored; an upgrade that fails leaves it as it is.
          await this.upgradeWhenModelIsBack(plan.llm, made).catch((error: unknown) => {
            if (!isRunFailure(error)) throw error;
          });
      } catch (error) {
        if (!isRunFailure(error)) throw error;
        if (isUnknownDashboard(error)) return this.abandon(changes, failureReason(error));
        // Nothing is lost: the events go back in front of those that arrived meanwhile and wait for the next
        // attempt, after a growing delay, visibly (status, search attribute, query).
        this.putBack(changes, changesSince);
        failedAttempts++;
        this.state.status = 'retrying';
        const nextAttemptAt = Date.now() + backoffMs(retry, failedAttempts);
        this.state.failure = {
          reason: failureReason(error),
          failedAttempts,
          nextAttemptAt: new Date(nextAttemptAt).toISOString(),
        };
        this.show({ kind: 'retrying', reason: failureReason(error), failedAttempts, nextAttemptAt });
        this.showStatus('retrying');
      }

      if (this.state.summariesMade >= summariesPerRun || workflowInfo().continueAsNewSuggested) {
        // First let the task that holds this summary's steps complete: if a signal arrives while the task that
        // continues as new is completing, only that task is retried, not the summary's steps with it.
        await sleep(1);
        this.flushOutcome();
        await continueAsNew<typeof dashboardWorkflow>({
          dashboardId: this.input.dashboardId,
          quietPeriodMs: this.input.quietPeriodMs,
          maxDelayMs: this.input.maxDelayMs,
          carry: {
            pending: this.pending,
            recent: this.recent,
            ...(this.inlineRef ? { inlineRef: this.inlineRef } : {}),
            ...(this.pending.count > 0 ? { firstPendingAt: this.firstPendingAt } : {}),
            ...(failedAttempts > 0 ? { failedAttempts, runRetry: retry } : {}),
            ...(this.state.latest ? { latest: this.state.latest } : {}),
          },
        });
      }
    }
    this.state.status = 'idle';
    this.show({
      kind: 'done',
      text: `completed: no change within the idle timeout after ${plural(this.state.summariesMade, 'summary', 'summaries')}`,
    });
    this.showStatus('idle');
    return this.state;
  }

  private async planRun(): Promise<RunPlan> {
    const { dashboardId } = this.input;
    this.plan = await planRun.executeWithOptions(
      this.summarized(STAGE_OPTIONS, `plan the summary of ${dashboardId}`),
      [dashboardId],
    );
    return this.plan;
  }

  /** Puts a failed attempt's changes back in front of those that arrived while it ran. */
  private putBack(changes: PendingChanges, since: number): void {
    const arrived = this.pending;
    this.pending = {
      count: changes.count + arrived.count,
      eventIds: [...changes.eventIds, ...arrived.eventIds].slice(-NEWEST_EVENT_IDS),
      inlineRefs: [...changes.inlineRefs, ...arrived.inlineRefs],
      events: [...changes.events, ...arrived.events],
    };
    if (changes.oldestOccurredAt) this.noteOccurred(changes.oldestOccurredAt);
    this.firstPendingAt = since;
    this.state.pending = this.pending.count;
  }

  /**
   * The dashboard is no longer configured (removed from the registry): no attempt can summarize it, so the workflow
   * completes and says how many events it dropped and why, rather than retry forever or end Failed.
   */
  private abandon(changes: PendingChanges, reason: string): DashboardWorkflowState {
    const dropped = changes.count + this.pending.count;
    log.warn('dashboard no longer configured; dropping its waiting events', { dropped, reason });
    this.state.status = 'abandoned';
    this.state.pending = 0;
    this.state.failure = { reason: `${reason}; ${dropped} events dropped`, failedAttempts: 1 };
    this.show({ kind: 'done', text: `abandoned: ${reason}; ${plural(dropped, 'event')} dropped` });
    this.showStatus('abandoned');
    if (this.ui) {
      this.state.latest = { ...(this.state.latest ?? { version: 0, costUsd: 0 }), outcome: 'abandoned' };
      this.writeOutcome(null);
    }
    return this.state;
  }

  /** Waits until no event arrived for the quiet period, or the max delay after the first pending one. */
  private async debounce(): Promise<void> {
    const { quietPeriodMs, maxDelayMs } = this.input;
    if (quietPeriodMs <= 0) return;
    const deadline = this.firstPendingAt + maxDelayMs;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return;
      const seenCount = this.pending.count;
      this.show({ kind: 'debouncing', until: Date.now() + Math.min(quietPeriodMs, remaining), deadline });
      const moreArrived = await condition(
        () => this.pending.count !== seenCount,
        Math.min(quietPeriodMs, remaining),
      );
      if (!moreArrived) return;
    }
  }

  /** Runs begun before GATHER_PATCH: a local activity per stage and per widget. */
  private async planAndSummarize(
    changes: PendingChanges,
    usePlan: (plan: RunPlan) => void,
  ): Promise<{ plan: RunPlan; made: Made }> {
    const plan = await this.planRun();
    usePlan(plan);
    return { plan, made: await this.summarize(plan, changes) };
  }

  /**
   * A summary in as few steps as the data allows: `gather` plans and collects every widget, the widgets it could not
   * collect are tried again alone, `prepare` cleans, enriches and, when no model call is needed, delivers. Only a
   * model call adds the model stage and a `deliver`.
   */
  private async gatherAndSummarize(
    changes: PendingChanges,
    usePlan: (plan: RunPlan) => void,
  ): Promise<{ plan: RunPlan; made: Made }> {
    const { dashboardId } = this.input;
    const asOf = new Date().toISOString();
    const known = this.plan;
    this.show({ kind: 'collecting', widgets: known?.widgets.length ?? 0 });
    const gathered = await gather.executeWithOptions(
      this.summarized(GATHER_OPTIONS, gatherSummary(dashboardId, known, changes.inlineRefs.length)),
      [
        {
          dashboardId,
          asOf,
          events: changes.events,
          ...(this.inlineRef ? { inlineBase: this.inlineRef } : {}),
          inlineRefs: changes.inlineRefs,
        },
      ],
    );
    const plan = gathered.plan;
    this.plan = plan;
    usePlan(plan);
    if (gathered.inlineRef) this.inlineRef = gathered.inlineRef;
    const widgets = await this.collectFailedAgain(plan, gathered.widgets, asOf, changes);
    const collected = widgets.filter((w) => 'ref' in w).length;
    const counted = countedWidgets(collected, widgets.length);
    this.show({ kind: 'preparing', widgets: collected });
    const events = pendingEvents(changes);
    const iteration = `${this.state.summariesMade}`;
    const prepared = await prepare.executeWithOptions(
      this.summarized(
        STAGE_OPTIONS,
        plan.llm.enabled
          ? `clean and enrich ${counted}, keep the latest summary if they did not change`
          : `clean, enrich and summarize ${counted} locally, store and publish`,
      ),
      [{ dashboardId, asOf, widgets, deliver: this.deliveryOf(events, iteration) }],
    );
    if (prepared.delivered) {
      this.showDelivered(prepared.delivered, false);
      return { plan, made: { delivered: prepared.delivered, enrichedRef: prepared.enrichedRef, events } };
    }
    const model = await this.modelStage(plan.llm, prepared.enrichedRef, collected);
    const delivered = await this.deliver({
      enrichedRef: prepared.enrichedRef,
      model,
      events,
      iteration,
      summary: deliverSummary(model, collected),
    });
    return { plan, made: { delivered, enrichedRef: prepared.enrichedRef, events } };
  }

  /**
   * Widgets `gather` could not collect for a reason that may pass are collected again, each alone, after a short
   * delay and with backoff; only a dashboard whose every widget failed fails the run.
   */
  private async collectFailedAgain(
    plan: RunPlan,
    gathered: GatheredWidget[],
    asOf: string,
    changes: PendingChanges,
  ): Promise<WidgetOutcome[]> {
    let outcomes: WidgetOutcome[] = gathered.map((w) =>
      'ref' in w ? { widgetId: w.widgetId, ref: w.ref } : { widgetId: w.widgetId, failed: w.failed },
    );
    const again = plan.widgets.filter(({ widgetId }) =>
      gathered.some((w) => w.widgetId === widgetId && 'failed' in w && w.retryable),
    );
    if (again.length > 0) {
      this.show({ kind: 'collecting', widgets: again.length });
      await sleep(COLLECT_RETRY_DELAY_MS);
      const retried = await Promise.all(
        again.map((widget) =>
          this.collectOne(widget, asOf, changes, {
            ...COLLECT_RETRY_OPTIONS,
            summary: `collect ${widget.title} (${widget.source}) again`,
          }),
        ),
      );
      outcomes = outcomes.map((o) => retried.find((r) => r.widgetId === o.widgetId) ?? o);
    }
    failWhenNothingCollected(outcomes);
    return outcomes;
  }

  private async summarize(plan: RunPlan, changes: PendingChanges): Promise<Made> {
    const { dashboardId } = this.input;
    const asOf = new Date().toISOString();
    if (changes.inlineRefs.length > 0)
      this.inlineRef = await mergeInline.executeWithOptions(
        this.summarized(
          STAGE_OPTIONS,
          `merge the inline data of ${plural(changes.inlineRefs.length, 'hand-over')}`,
        ),
        [{ base: this.inlineRef, refs: changes.inlineRefs }],
      );
    const total = plan.widgets.length;
    this.show({ kind: 'collecting', widgets: total });
    const widgets = await this.collectAll(plan, asOf, changes);
    const collected = widgets.filter((w) => 'ref' in w).length;
    this.show({ kind: 'preparing', widgets: collected });
    const prepared = await prepare.executeWithOptions(
      this.summarized(STAGE_OPTIONS, `clean and enrich ${countedWidgets(collected, total)}`),
      [{ dashboardId, asOf, widgets }],
    );
    // The model stage is skipped when prepare found the latest summary still holds: no model, no round trip.
    let model: DeliverInput['model'];
    if (prepared.reuse) model = prepared.reuse;
    else if (plan.llm.enabled) model = await this.modelStage(plan.llm, prepared.enrichedRef, collected);
    else this.show({ kind: 'summarizing', widgets: collected, model: null });
    const events = pendingEvents(changes);
    const delivered = await this.deliver({
      enrichedRef: prepared.enrichedRef,
      model,
      events,
      iteration: `${this.state.summariesMade}`,
      summary: deliverSummary(model, collected),
    });
    return { delivered, enrichedRef: prepared.enrichedRef, events };
  }

  /** The model call on the LLM queue; what it could not produce at all comes back as `failed`, for the local rung. */
  private modelStage(
    plan: LlmPlan,
    enrichedRef: string,
    collected: number,
  ): Promise<NonNullable<DeliverInput['model']>> {
    const modelName = plan.model ?? 'the model';
    this.show({ kind: 'summarizing', widgets: collected, model: modelName });
    return summarizeWithModel(
      plan,
      { enrichedRef },
      this.ui ? `summarize ${plural(collected, 'widget')} with ${modelName}` : undefined,
    ).catch((error: unknown) => ({ kind: 'failed' as const, reason: failureReason(error) }));
  }

  /** Options with a summary for the Temporal UI, on runs that show them (the same options otherwise). */
  private summarized<O extends LocalActivityOptions>(options: O, summary: string): O {
    return this.ui ? { ...options, summary } : options;
  }

  /** Collects every widget in parallel; only a dashboard whose every widget failed fails the run. */
  private async collectAll(plan: RunPlan, asOf: string, changes: PendingChanges): Promise<WidgetOutcome[]> {
    const outcomes = await Promise.all(
      plan.widgets.map((widget) =>
        this.collectOne(widget, asOf, changes, {
          ...COLLECT_OPTIONS,
          summary: `collect ${widget.title} (${widget.source})`,
        }),
      ),
    );
    failWhenNothingCollected(outcomes);
    return outcomes;
  }

  /** One widget as its own step: collected, or failed with the reason its last attempt gave. */
  private collectOne(
    { widgetId, source }: RunPlan['widgets'][number],
    asOf: string,
    changes: PendingChanges,
    options: LocalActivityOptions,
  ): Promise<WidgetOutcome> {
    return collectWidget
      .executeWithOptions(options, [
        {
          dashboardId: this.input.dashboardId,
          widgetId,
          asOf,
          events: source === 'inline' ? changes.events : [],
          ...(source === 'inline' && this.inlineRef ? { inlineRef: this.inlineRef } : {}),
        },
      ])
      .then(
        ({ ref }): WidgetOutcome => ({ widgetId, ref }),
        (error: unknown): WidgetOutcome => ({ widgetId, failed: failureReason(error) }),
      );
  }

  private async deliver(
    request: Pick<DeliverInput, 'enrichedRef' | 'model' | 'events' | 'upgrade'> & {
      iteration: string;
      summary: string;
    },
  ): Promise<Delivered> {
    this.show({ kind: 'delivering' });
    const { events, ...delivery } = this.deliveryOf(request.events, request.iteration, request.upgrade);
    const delivered = await deliver.executeWithOptions(this.summarized(STAGE_OPTIONS, request.summary), [
      {
        dashboardId: this.input.dashboardId,
        enrichedRef: request.enrichedRef,
        ...(request.model ? { model: request.model } : {}),
        events,
        ...delivery,
      },
    ]);
    this.showDelivered(delivered, request.upgrade ?? false);
    return delivered;
  }

  /** Where and under which key a summary of these events is delivered: the same on every retry of one summary. */
  private deliveryOf(
    events: DeliverInput['events'],
    iteration: string,
    upgrade?: boolean,
  ): Omit<DeliverInput, 'dashboardId' | 'enrichedRef' | 'model'> {
    const info = workflowInfo();
    return {
      events,
      ...(upgrade ? { upgrade: true } : {}),
      // The events are part of the key: a workflow task retried with more events (a signal that arrived while the
      // first attempt ran) stores a summary of them instead of being answered with the first attempt's.
      idempotencyKey: `${info.workflowId}/${info.runId}/${iteration}/${events.count}:${events.eventIds.at(-1) ?? ''}`,
      workflowId: info.workflowId,
      runId: info.runId,
    };
  }

  private showDelivered(delivered: Delivered, upgrade: boolean): void {
    if (this.ui) this.showOutcome(delivered, upgrade);
    else if (delivered.kind === 'stored') this.showModel(delivered.model, delivered.degraded);
  }

  /**
   * Records the latest summary (result, memo, search attributes) so that a list of a dashboard's runs tells them
   * apart. The model and degradation go into the same write as the outcome: one command per change.
   */
  private showOutcome(delivered: Delivered, upgrade: boolean): void {
    const latest = latestSummary(delivered, upgrade, this.state.latest ?? null);
    this.state.latest = latest;
    this.state.costUsd = (this.state.costUsd ?? 0) + latest.costUsd;
    // Only a summary that is not degraded is ever kept (unchanged, immaterial): a touched one is not degraded.
    const model =
      delivered.kind === 'stored'
        ? delivered
        : latest.model !== undefined
          ? { model: latest.model, degraded: false }
          : null;
    this.writeOutcome(model);
  }

  /**
   * Under load a run summarizes every few seconds, and each search-attribute write is a history event and an index
   * update: the benchmark's throughput fell ~15 % with one per summary. So a busy run writes its outcome at most
   * every OUTCOME_WRITE_INTERVAL_MS and always before it waits for events (flushOutcome), so a run that is not busy
   * shows its latest summary; the current details (a query, no history) are always up to date.
   */
  private writeOutcome(stored: { model: string; degraded: boolean } | null): void {
    const latest = this.state.latest;
    if (!latest) return;
    const shown = JSON.stringify([latest, this.state.costUsd ?? 0, stored?.model, stored?.degraded]);
    if (shown === this.shownOutcome) return;
    if (this.throttleOutcome && Date.now() - this.outcomeWrittenAt < OUTCOME_WRITE_INTERVAL_MS) {
      this.deferredOutcome = { stored };
      return;
    }
    this.deferredOutcome = null;
    this.outcomeWrittenAt = Date.now();
    this.shownOutcome = shown;
    upsertSearchAttributes([
      { key: PrecisOutcomeKey, value: latest.outcome },
      ...(latest.headline !== undefined ? [{ key: PrecisHeadlineKey, value: clip(latest.headline) }] : []),
      { key: PrecisCostUsdKey, value: this.state.costUsd ?? 0 },
      ...(stored
        ? [
            { key: PrecisModelKey, value: stored.model },
            { key: PrecisDegradedKey, value: stored.degraded },
          ]
        : []),
    ]);
    // The memo repeated what the search attributes, the current details (while running) and the result (once
    // done) already show, at the price of a second history event and index update per summary (throughput fell
    // ~10 % with it). Runs recorded with it replay it.
    if (!patched(UI_WITHOUT_MEMO_PATCH)) upsertMemo({ latest, costUsd: this.state.costUsd ?? 0 });
  }

  /** Writes an outcome deferred by the throttle, e.g. before the run waits for events or continues as new. */
  private flushOutcome(): void {
    const deferred = this.deferredOutcome;
    if (!deferred) return;
    this.outcomeWrittenAt = Number.NEGATIVE_INFINITY;
    this.writeOutcome(deferred.stored);
  }

  /** Search attributes are written only when they change: each write is a history event and an index update. */
  private showStatus(status: 'active' | 'idle' | 'retrying' | 'abandoned'): void {
    if (this.shownStatus === status) return;
    this.shownStatus = status;
    upsertSearchAttributes([{ key: PrecisStatusKey, value: status }]);
  }

  private showModel(model: string, degraded: boolean): void {
    if (this.shownModel?.model === model && this.shownModel.degraded === degraded) return;
    this.shownModel = { model, degraded };
    upsertSearchAttributes([
      { key: PrecisModelKey, value: model },
      { key: PrecisDegradedKey, value: degraded },
    ]);
  }

  /**
   * A degraded summary is served at once, then upgraded when the model is back: the same input is offered to the
   * model again after growing delays. New events end the wait (their summary is fresh anyway).
   */
  private async upgradeWhenModelIsBack(plan: LlmPlan, made: Made): Promise<void> {
    let version = made.delivered.version;
    const model = plan.model ?? 'the model';
    for (const [index, delayMs] of plan.upgradeDelaysMs.entries()) {
      this.show({ kind: 'upgrading', version, model, nextTryAt: Date.now() + delayMs });
      if (await condition(() => this.pending.count > 0, delayMs)) return;
      const outcome = await summarizeWithModel(
        plan,
        { enrichedRef: made.enrichedRef },
        this.ui ? `upgrade degraded version ${version}: summarize again with ${model}` : undefined,
      ).catch(() => null);
      if (outcome?.kind !== 'summary') continue;
      // A fallback model's reply (the primary still failing) is paid for and better than the local summary being
      // served: store it and keep trying the primary. Before this patch it was thrown away: paid, and used by no
      // summary (the chaos outage scenario caught such a reply).
      const keepFallback =
        outcome.result.degraded &&
        outcome.result.cacheOutcome !== 'none' &&
        patched(UPGRADE_KEEPS_FALLBACK_PATCH);
      if (!outcome.result.degraded || keepFallback) {
        const upgraded = await this.deliver({
          enrichedRef: made.enrichedRef,
          model: outcome,
          events: made.events,
          upgrade: true,
          iteration: `${this.state.summariesMade}-upgrade-${index}`,
          summary: deliverSummary(outcome, 0),
        });
        this.state.lastVersion = upgraded.version;
        if (!outcome.result.degraded) return;
        version = upgraded.version;
      }
    }
  }
}
