import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type PublishOutbox, publishOrPark } from '../src/delivery/outbox';
import type { SummaryPublisher } from '../src/delivery/publisher';
import { type Dashboard, durationMs } from '../src/domain/dashboard';
import type { PendingEvent } from '../src/domain/event';
import { NEWEST_EVENT_IDS } from '../src/domain/limits';
import type { DashboardRegistry } from '../src/domain/registry';
import type { Summary, SummaryDraft } from '../src/domain/summary';
import type { LlmPlan } from '../src/llm/plan';
import type { SummarizeOutcome, SummarizeResult, Summarizer } from '../src/llm/summarizer';
import type { PipelineMetrics, Stage } from '../src/metrics/pipeline';
import { cleanDashboard, widgetWindow } from '../src/pipeline/clean';
import { enrichDashboard } from '../src/pipeline/enrich';
import type {
  CleanedDashboard,
  CleanReport,
  CollectedWidget,
  EnrichedDashboard,
} from '../src/pipeline/types';
import { type Connectors, collectWidgetData } from '../src/sources';
import { type InlineData, inlineEvents, mergeInlineData } from '../src/sources/inline-data';
import type { WidgetData } from '../src/sources/types';
import type { BlobStore } from '../src/store/blobs';
import type { Freshness, SummaryStore } from '../src/store/summaries';
import { LOCAL_MODEL, summarizeLocally } from '../src/summarize/local';
import { toFailure } from './failures';

/** What the activities need from the outside world; built once per worker by the worker's entry point. */
export interface ActivityDeps {
  registry: DashboardRegistry;
  store: SummaryStore;
  blobs: BlobStore;
  connectors: Connectors;
  publisher: SummaryPublisher;
  /** Where a stored version waits when Kafka refuses it: storing never waits on publishing. */
  outbox: PublishOutbox;
  /** The summarize stage when no model is configured on this worker (the local default). */
  summarizer: Summarizer;
  tokenBudget: number;
  /** Where model calls run, from this worker's configuration: the process that acts on a setting reads it. */
  llmPlan: LlmPlan;
  /** How long a dashboard's workflow waits for the next change before it completes. */
  idleTimeoutMs: number;
  /** Summaries per execution before it continues as new. */
  summariesPerRun: number;
  /** Backoff of a dashboard whose summary could not be made: first delay, and the cap of its doubling. */
  runRetry: RunRetry;
  /** Stage latencies, freshness and stored summaries for this worker's /metrics (absent in some tests). */
  metrics?: PipelineMetrics;
}

export interface RunRetry {
  initialMs: number;
  maxMs: number;
}

export interface CollectionPlan {
  widgets: { widgetId: string; title: string; source: string }[];
}

/** What one pipeline run needs to know before it starts: the widgets, and where model calls go. */
export interface RunPlan extends CollectionPlan {
  /** The dashboard's title, for the Temporal UI (absent in plans recorded by earlier versions). */
  title?: string;
  llm: LlmPlan;
  idleTimeoutMs: number;
  summariesPerRun: number;
  /** Absent in plans of precis 0.2 (histories recorded before it existed). */
  runRetry?: RunRetry;
}

export interface CollectWidgetInput {
  dashboardId: string;
  widgetId: string;
  /** The instant to collect up to; decided by the workflow so that a retry asks for the same data. */
  asOf: string;
  /** Only inline widgets need the events (runs of older precis versions pass them whole). */
  events: PendingEvent[];
  /** Inline widgets: reference to the freshest inline data the dashboard's events carried (see InlineData). */
  inlineRef?: string;
}

/** A reference to collected data in the blob store: large data never travels through workflow history. */
export interface CollectedRef {
  widgetId: string;
  ref: string;
  series: number;
  points: number;
}

export type WidgetOutcome = { widgetId: string; ref: string } | { widgetId: string; failed: string };

/** What `gather` needs: the run's instant, and the inline data the waiting changes carried. */
export interface GatherInput {
  dashboardId: string;
  /** The instant to collect up to; decided by the workflow so that a retry asks for the same data. */
  asOf: string;
  /** Events handed over whole (eventsArrived), for inline widgets. */
  events: PendingEvent[];
  /** The freshest inline data of earlier changes, and the references of the waiting hand-overs' inline data. */
  inlineBase?: string;
  inlineRefs: string[];
}

/** A widget `gather` collected, or could not: `retryable` when a later attempt may succeed (the workflow retries it). */
export type GatheredWidget =
  | { widgetId: string; ref: string }
  | { widgetId: string; failed: string; retryable: boolean };

/** The run's plan, the merged inline data, and every widget collected or failed. */
export interface Gathered {
  plan: RunPlan;
  inlineRef?: string;
  widgets: GatheredWidget[];
}

export interface CleanInput {
  dashboardId: string;
  asOf: string;
  widgets: WidgetOutcome[];
}

export interface CleanOutput {
  ref: string;
  report: CleanReport;
}

/**
 * Prepare reads what clean reads: the collected widgets of one run. With `deliver`, it also delivers when no model
 * call is needed (no model configured, or the latest summary still holds): one step instead of two.
 */
export interface PrepareInput extends CleanInput {
  deliver?: Omit<DeliverInput, 'dashboardId' | 'enrichedRef' | 'model'>;
}

/** Clean and enrich, done: the model input by reference, and what the workflow needs to know of it. */
export interface Prepared {
  enrichedRef: string;
  inputHash: string;
  dataAsOf: string;
  /** With a model configured: the latest summary still holds (unchanged or immaterial input), skip the model. */
  reuse?: SummarizeOutcome & { kind: 'skip' };
  /** Asked to deliver and no model call was needed: what was delivered (the model stage and deliver are skipped). */
  delivered?: Delivered;
}

export interface DeliverInput {
  dashboardId: string;
  enrichedRef: string;
  /**
   * What the model stage answered; `failed` when even the LLM queue gave nothing (no worker, every attempt lost);
   * absent when no model is configured, and the local summarizer is the default.
   */
  model?: SummarizeOutcome | { kind: 'failed'; reason: string };
  /** `oldestOccurredAt`: when the oldest of these events happened, for the freshness metric (absent in old runs). */
  events: { count: number; eventIds: string[]; oldestOccurredAt?: string };
  /** A degraded summary's input offered to the model again, and answered: counted as an upgrade. */
  upgrade?: boolean;
  /** Same on every retry of one pipeline iteration: the summary is stored once. */
  idempotencyKey: string;
  workflowId: string;
  runId: string;
}

/**
 * What the deliver step did. The optional fields are what the Temporal UI shows of a run (its result, memo and search
 * attributes); results recorded by earlier versions lack them.
 */
export type Delivered =
  | {
      kind: 'stored';
      version: number;
      model: string;
      degraded: boolean;
      headline?: string;
      degradedReason?: string | null;
      costUsd?: number;
      cacheOutcome?: SummarizeResult['cacheOutcome'];
    }
  | {
      kind: 'touched';
      version: number;
      cause?: (SummarizeOutcome & { kind: 'skip' })['cause'];
      /** The kept version's headline and model. */
      headline?: string;
      model?: string;
    };

export interface StoreInput {
  draft: SummaryDraft;
  /** Same key on every retry of one pipeline iteration: the store writes it once. */
  idempotencyKey: string;
}

export interface StoreOutput {
  version: number;
  written: boolean;
}

/** The last rung of the ladder: the local summarizer, labelled degraded with the reason. */
function localFallback(enriched: EnrichedDashboard, reason: string): SummarizeResult {
  return {
    content: summarizeLocally(enriched),
    model: LOCAL_MODEL,
    degraded: true,
    degradedReason: reason,
    usage: { promptTokens: 0, completionTokens: 0, costUsd: 0 },
    cacheOutcome: 'none',
  };
}

export function createActivities(deps: ActivityDeps) {
  const timed = <T>(stage: Stage, work: () => Promise<T> | T): Promise<T> =>
    deps.metrics ? deps.metrics.time(stage, work) : Promise.resolve().then(work);

  /** Reads the collected widgets (failed ones as such) and cleans them. */
  async function cleanCollected(dashboard: Dashboard, input: CleanInput): Promise<CleanedDashboard> {
    return timed('clean', () => readAndClean(dashboard, input));
  }

  async function readAndClean(dashboard: Dashboard, input: CleanInput): Promise<CleanedDashboard> {
    const widgets = await Promise.all(
      input.widgets.map(
        async (outcome): Promise<CollectedWidget> =>
          'ref' in outcome
            ? deps.blobs.get<CollectedWidget>(outcome.ref)
            : { widgetId: outcome.widgetId, status: 'failed', reason: outcome.failed },
      ),
    );
    return cleanDashboard(dashboard, { dashboardId: dashboard.id, asOf: input.asOf, widgets });
  }

  /** Stores a new summary version (once per idempotency key) and publishes it, or parks it when Kafka refuses. */
  async function storeAndPublish(
    input: DeliverInput,
    enriched: EnrichedDashboard,
    result: SummarizeResult,
    eventIds: string[],
  ): Promise<Summary> {
    const { summary } = await deps.store.put(
      {
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
        eventIds,
        eventCount: input.events.count,
        workflowId: input.workflowId,
        runId: input.runId,
      },
      input.idempotencyKey,
    );
    await publishOrPark(deps.publisher, deps.outbox, summary, (error) =>
      log.warn('publishing the summary failed; parked in the outbox', {
        dashboardId: summary.dashboardId,
        version: summary.version,
        error: error instanceof Error ? error.message : String(error),
      }),
    );
    return summary;
  }

  function dashboardOrFail(dashboardId: string): Dashboard {
    const dashboard = deps.registry.get(dashboardId);
    // Retrying cannot make an unknown dashboard known: fail at once.
    if (!dashboard)
      throw ApplicationFailure.nonRetryable(`unknown dashboard "${dashboardId}"`, 'UnknownDashboard');
    return dashboard;
  }

  function plan(dashboard: Dashboard): RunPlan {
    return {
      title: dashboard.title,
      widgets: dashboard.widgets.map((w) => ({ widgetId: w.id, title: w.title, source: w.source.type })),
      llm: deps.llmPlan,
      idleTimeoutMs: deps.idleTimeoutMs,
      summariesPerRun: deps.summariesPerRun,
      runRetry: deps.runRetry,
    };
  }

  async function mergeInlineRefs(base: string | undefined, refs: string[]): Promise<string> {
    try {
      const layers = await Promise.all(
        [...(base ? [base] : []), ...refs].map((ref) => deps.blobs.get<InlineData>(ref)),
      );
      return await deps.blobs.put(mergeInlineData(layers));
    } catch (error) {
      toFailure(error);
    }
  }

  /** Collects one widget into the blob store; failures are Temporal failures that say whether to retry. */
  async function collectOne(dashboard: Dashboard, input: CollectWidgetInput): Promise<CollectedRef> {
    const widget = dashboard.widgets.find((w) => w.id === input.widgetId);
    if (!widget)
      throw ApplicationFailure.nonRetryable(
        `widget "${input.widgetId}" is not on the dashboard`,
        'UnknownWidget',
      );
    const context = Context.current();
    const asOf = new Date(input.asOf);
    let data: WidgetData;
    try {
      const inline = input.inlineRef ? inlineEvents(await deps.blobs.get<InlineData>(input.inlineRef)) : [];
      data = await timed('collect', () =>
        collectWidgetData(deps.connectors, widget, {
          widget,
          asOf,
          from: new Date(widgetWindow(widget, asOf).from),
          resolutionMs: durationMs(widget.resolution),
          events: [...inline, ...input.events],
          signal: context.cancellationSignal,
          // A local activity has no heartbeat: its workflow task is kept alive instead.
          heartbeat: (details) => {
            if (!context.info.isLocal) context.heartbeat(details);
          },
        }),
      );
    } catch (error) {
      toFailure(error);
    }
    const collected: CollectedWidget = { widgetId: widget.id, status: 'ok', data };
    return {
      widgetId: widget.id,
      ref: await deps.blobs.put(collected),
      series: data.series.length,
      points: data.series.reduce((total, s) => total + s.points.length, 0),
    };
  }

  /** One widget of `gather`: collected, or failed with whether a retry may help (decided where it was thrown). */
  async function gatherOne(dashboard: Dashboard, input: CollectWidgetInput): Promise<GatheredWidget> {
    try {
      const { widgetId, ref } = await collectOne(dashboard, input);
      return { widgetId, ref };
    } catch (error) {
      const nonRetryable = error instanceof ApplicationFailure && error.nonRetryable;
      const failed = error instanceof Error ? error.message : String(error);
      return { widgetId: input.widgetId, failed, retryable: !nonRetryable };
    }
  }

  /** Stores what the model stage decided, or summarizes locally; an unchanged input only extends freshness. */
  async function deliverEnriched(
    input: DeliverInput,
    enriched: EnrichedDashboard,
    decided?: SummarizeOutcome & { kind: 'skip' },
  ): Promise<Delivered> {
    const outcome: SummarizeOutcome =
      decided ??
      (input.model === undefined
        ? await timed('summarize', () =>
            deps.summarizer.summarize(enriched, {
              attempt: 1,
              firstScheduledMs: Date.now(),
              signal: Context.current().cancellationSignal,
            }),
          )
        : input.model.kind === 'failed'
          ? {
              kind: 'summary',
              result: localFallback(enriched, `model stage failed: ${input.model.reason}`),
            }
          : input.model);
    const eventIds = input.events.eventIds.slice(-NEWEST_EVENT_IDS);
    if (outcome.kind === 'skip') {
      const [, kept] = await Promise.all([
        deps.store.touch(input.dashboardId, {
          version: outcome.version,
          checkedAt: new Date().toISOString(),
          dataAsOf: enriched.dataAsOf,
          cause: outcome.cause,
          eventIds,
          eventCount: input.events.count,
        }),
        // For the Temporal UI: a run that only confirmed the summary still names what it confirmed.
        deps.store.latest(input.dashboardId),
      ]);
      deps.metrics?.delivered({ kind: 'reused' }, input.events.oldestOccurredAt);
      return {
        kind: 'touched',
        version: outcome.version,
        cause: outcome.cause,
        ...(kept?.version === outcome.version ? { headline: kept.headline, model: kept.model } : {}),
      };
    }
    const { result } = outcome;
    const summary = await timed('store', () => storeAndPublish(input, enriched, result, eventIds));
    deps.metrics?.delivered(
      { kind: 'stored', model: result.model, degraded: result.degraded, upgrade: input.upgrade === true },
      input.events.oldestOccurredAt,
    );
    return {
      kind: 'stored',
      version: summary.version,
      model: result.model,
      degraded: result.degraded,
      headline: summary.headline,
      degradedReason: result.degradedReason,
      costUsd: result.usage.costUsd,
      cacheOutcome: result.cacheOutcome,
    };
  }

  return {
    /** Which widgets to collect and from what kind of source (cheap; run as a local activity). */
    async planCollection(dashboardId: string): Promise<CollectionPlan> {
      const dashboard = dashboardOrFail(dashboardId);
      return {
        widgets: dashboard.widgets.map((w) => ({ widgetId: w.id, title: w.title, source: w.source.type })),
      };
    },

    /** Collects one widget, so that a slow or failing source is retried alone. */
    async collectWidget(input: CollectWidgetInput): Promise<CollectedRef> {
      return collectOne(dashboardOrFail(input.dashboardId), input);
    },

    /**
     * The first steps of a summary in one local activity (each step scheduled by the workflow costs it a round of
     * CPU on the worker): the plan, the merged inline data, and every widget collected in parallel. A widget that
     * fails is reported, not thrown: the workflow retries the retryable ones alone (collectWidget).
     */
    async gather(input: GatherInput): Promise<Gathered> {
      const dashboard = dashboardOrFail(input.dashboardId);
      const inlineRef =
        input.inlineRefs.length > 0
          ? await mergeInlineRefs(input.inlineBase, input.inlineRefs)
          : input.inlineBase;
      const widgets = await Promise.all(
        dashboard.widgets.map((widget) => {
          const inline = widget.source.type === 'inline';
          return gatherOne(dashboard, {
            dashboardId: dashboard.id,
            widgetId: widget.id,
            asOf: input.asOf,
            events: inline ? input.events : [],
            ...(inline && inlineRef ? { inlineRef } : {}),
          });
        }),
      );
      return { plan: plan(dashboard), ...(inlineRef ? { inlineRef } : {}), widgets };
    },

    /** Runs of older precis versions: cleans alone (today's runs clean and enrich in one `prepare`). */
    async clean(input: CleanInput): Promise<CleanOutput> {
      const dashboard = dashboardOrFail(input.dashboardId);
      try {
        const cleaned = await cleanCollected(dashboard, input);
        return { ref: await deps.blobs.put(cleaned), report: cleaned.report };
      } catch (error) {
        toFailure(error);
      }
    },

    /** Runs of older precis versions: enriches alone and returns the whole input of the model. */
    async enrich(input: { dashboardId: string; cleanedRef: string }): Promise<EnrichedDashboard> {
      const dashboard = dashboardOrFail(input.dashboardId);
      try {
        const cleaned = await deps.blobs.get<CleanedDashboard>(input.cleanedRef);
        return await timed('enrich', () =>
          enrichDashboard(dashboard, cleaned, { tokenBudget: deps.tokenBudget }),
        );
      } catch (error) {
        toFailure(error);
      }
    },

    /** The widgets to collect, and where model calls go (this worker's configuration). */
    async planRun(dashboardId: string): Promise<RunPlan> {
      return plan(dashboardOrFail(dashboardId));
    },

    /** Folds new inline data into what the dashboard's events carried before; returns the merged reference. */
    async mergeInline(input: { base?: string; refs: string[] }): Promise<string> {
      return mergeInlineRefs(input.base, input.refs);
    },

    /**
     * Clean and enrich in one step (CPU and Redis only): the model input is stored, the workflow gets its ref. Asked
     * to deliver, it also delivers when no model call is needed: summarized locally, or the latest summary kept.
     */
    async prepare(input: PrepareInput): Promise<Prepared> {
      const dashboard = dashboardOrFail(input.dashboardId);
      let prepared: Prepared;
      let enriched: EnrichedDashboard;
      try {
        const cleaned = await cleanCollected(dashboard, input);
        enriched = await timed('enrich', () =>
          enrichDashboard(dashboard, cleaned, { tokenBudget: deps.tokenBudget }),
        );
        const reuse = deps.llmPlan.enabled ? await deps.summarizer.reusable(enriched) : null;
        prepared = {
          enrichedRef: await deps.blobs.put(enriched),
          inputHash: enriched.inputHash,
          dataAsOf: enriched.dataAsOf,
          ...(reuse ? { reuse } : {}),
        };
      } catch (error) {
        toFailure(error);
      }
      if (!input.deliver || (deps.llmPlan.enabled && !prepared.reuse)) return prepared;
      const request = { ...input.deliver, dashboardId: dashboard.id, enrichedRef: prepared.enrichedRef };
      return { ...prepared, delivered: await deliverEnriched(request, enriched, prepared.reuse) };
    },

    /**
     * Stores what the model stage decided, or summarizes locally when no model is configured, and publishes the
     * new version; an unchanged or immaterial input only extends the latest summary's freshness.
     */
    async deliver(input: DeliverInput): Promise<Delivered> {
      let enriched: EnrichedDashboard;
      try {
        enriched = await deps.blobs.get<EnrichedDashboard>(input.enrichedRef);
      } catch (error) {
        toFailure(error);
      }
      return deliverEnriched(input, enriched);
    },

    /** Runs of older precis versions: the last rung, when the LLM queue could not produce anything at all. */
    async summarizeLocally(input: { enriched: EnrichedDashboard; reason: string }): Promise<SummarizeResult> {
      return localFallback(input.enriched, input.reason);
    },

    /** Keeps the latest summary and records that it still holds for the newer data. */
    async touch(input: { dashboardId: string; freshness: Freshness }): Promise<void> {
      await deps.store.touch(input.dashboardId, input.freshness);
    },

    /** Delivers a stored version to the summaries topic, once per version however often this is retried. */
    async publish(input: { dashboardId: string; version: number }): Promise<{ published: boolean }> {
      const summary = (await deps.store.history(input.dashboardId, 100)).find(
        (s) => s.version === input.version,
      );
      // Older than the kept history: a newer version has been published since; nothing to deliver.
      if (!summary) return { published: false };
      return { published: await deps.publisher.publish(summary) };
    },

    async store(input: StoreInput): Promise<StoreOutput> {
      const { summary, written } = await deps.store.put(input.draft, input.idempotencyKey);
      return { version: summary.version, written };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
