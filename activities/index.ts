import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { SummaryPublisher } from '../src/delivery/publisher';
import { type Dashboard, durationMs } from '../src/domain/dashboard';
import type { PendingEvent } from '../src/domain/event';
import type { DashboardRegistry } from '../src/domain/registry';
import type { SummaryDraft } from '../src/domain/summary';
import type { SummarizeResult } from '../src/llm/summarizer';
import { cleanDashboard, widgetWindow } from '../src/pipeline/clean';
import { enrichDashboard } from '../src/pipeline/enrich';
import type {
  CleanedDashboard,
  CleanReport,
  CollectedWidget,
  EnrichedDashboard,
} from '../src/pipeline/types';
import { type Connectors, collectWidgetData } from '../src/sources';
import { SourceError, type WidgetData } from '../src/sources/types';
import { BlobMissingError, type BlobStore } from '../src/store/blobs';
import type { Freshness, SummaryStore } from '../src/store/summaries';
import { LOCAL_MODEL, summarizeLocally } from '../src/summarize/local';

/** What the activities need from the outside world; built once per worker by the worker's entry point. */
export interface ActivityDeps {
  registry: DashboardRegistry;
  store: SummaryStore;
  blobs: BlobStore;
  connectors: Connectors;
  publisher: SummaryPublisher;
  tokenBudget: number;
}

export interface CollectionPlan {
  widgets: { widgetId: string; title: string; source: string }[];
}

export interface CollectWidgetInput {
  dashboardId: string;
  widgetId: string;
  /** The instant to collect up to; decided by the workflow so that a retry asks for the same data. */
  asOf: string;
  /** Only inline widgets need the events. */
  events: PendingEvent[];
}

/** A reference to collected data in the blob store: large data never travels through workflow history. */
export interface CollectedRef {
  widgetId: string;
  ref: string;
  series: number;
  points: number;
}

export type WidgetOutcome = { widgetId: string; ref: string } | { widgetId: string; failed: string };

export interface CleanInput {
  dashboardId: string;
  asOf: string;
  widgets: WidgetOutcome[];
}

export interface CleanOutput {
  ref: string;
  report: CleanReport;
}

export interface StoreInput {
  draft: SummaryDraft;
  /** Same key on every retry of one pipeline iteration: the store writes it once. */
  idempotencyKey: string;
}

export interface StoreOutput {
  version: number;
  written: boolean;
}

/** Turns what went wrong into a Temporal failure whose retryability was decided where the error was known. */
function toFailure(error: unknown): never {
  if (error instanceof SourceError) {
    throw ApplicationFailure.create({
      message: error.message,
      type: 'SourceError',
      nonRetryable: !error.retryable,
    });
  }
  if (error instanceof BlobMissingError) {
    // The data expired between stages; retrying this stage cannot bring it back.
    throw ApplicationFailure.nonRetryable(error.message, 'BlobMissing');
  }
  throw error;
}

export function createActivities(deps: ActivityDeps) {
  function dashboardOrFail(dashboardId: string): Dashboard {
    const dashboard = deps.registry.get(dashboardId);
    // Retrying cannot make an unknown dashboard known: fail at once.
    if (!dashboard)
      throw ApplicationFailure.nonRetryable(`unknown dashboard "${dashboardId}"`, 'UnknownDashboard');
    return dashboard;
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
      const dashboard = dashboardOrFail(input.dashboardId);
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
        data = await collectWidgetData(deps.connectors, widget, {
          widget,
          asOf,
          from: new Date(widgetWindow(widget, asOf).from),
          resolutionMs: durationMs(widget.resolution),
          events: input.events,
          signal: context.cancellationSignal,
          heartbeat: (details) => context.heartbeat(details),
        });
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
    },

    async clean(input: CleanInput): Promise<CleanOutput> {
      const dashboard = dashboardOrFail(input.dashboardId);
      try {
        const widgets = await Promise.all(
          input.widgets.map(
            async (outcome): Promise<CollectedWidget> =>
              'ref' in outcome
                ? deps.blobs.get<CollectedWidget>(outcome.ref)
                : { widgetId: outcome.widgetId, status: 'failed', reason: outcome.failed },
          ),
        );
        const cleaned = cleanDashboard(dashboard, { dashboardId: dashboard.id, asOf: input.asOf, widgets });
        return { ref: await deps.blobs.put(cleaned), report: cleaned.report };
      } catch (error) {
        toFailure(error);
      }
    },

    async enrich(input: { dashboardId: string; cleanedRef: string }): Promise<EnrichedDashboard> {
      const dashboard = dashboardOrFail(input.dashboardId);
      try {
        const cleaned = await deps.blobs.get<CleanedDashboard>(input.cleanedRef);
        return enrichDashboard(dashboard, cleaned, { tokenBudget: deps.tokenBudget });
      } catch (error) {
        toFailure(error);
      }
    },

    /** The last rung, on the pipeline queue: used when the LLM queue could not produce anything at all. */
    async summarizeLocally(input: { enriched: EnrichedDashboard; reason: string }): Promise<SummarizeResult> {
      return {
        content: summarizeLocally(input.enriched),
        model: LOCAL_MODEL,
        degraded: true,
        degradedReason: input.reason,
        usage: { promptTokens: 0, completionTokens: 0, costUsd: 0 },
        cacheOutcome: 'none',
      };
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
