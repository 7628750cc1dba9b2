import { ApplicationFailure } from '@temporalio/common';
import type { Dashboard } from '../src/domain/dashboard';
import type { PendingEvent } from '../src/domain/event';
import type { DashboardRegistry } from '../src/domain/registry';
import type { SummaryDraft } from '../src/domain/summary';
import { cleanDashboard } from '../src/pipeline/clean';
import { collectDashboard } from '../src/pipeline/collect';
import { enrichDashboard } from '../src/pipeline/enrich';
import type { CleanedDashboard, CollectedDashboard, EnrichedDashboard } from '../src/pipeline/types';
import type { SummaryStore } from '../src/store/summaries';
import { LOCAL_MODEL, summarizeLocally } from '../src/summarize/local';
import type { SummaryContent } from '../src/summarize/types';

/** What the activities need from the outside world; built once per worker by the worker's entry point. */
export interface ActivityDeps {
  registry: DashboardRegistry;
  store: SummaryStore;
}

export interface CollectInput {
  dashboardId: string;
  /** The instant to collect up to; decided by the workflow so that a retry asks for the same data. */
  asOf: string;
  events: PendingEvent[];
}

export interface SummarizeResult {
  content: SummaryContent;
  model: string;
  degraded: boolean;
  degradedReason: string | null;
  usage: SummaryDraft['usage'];
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

export function createActivities(deps: ActivityDeps) {
  function dashboardOrFail(dashboardId: string): Dashboard {
    const dashboard = deps.registry.get(dashboardId);
    // Retrying cannot make an unknown dashboard known: fail the run at once.
    if (!dashboard)
      throw ApplicationFailure.nonRetryable(`unknown dashboard "${dashboardId}"`, 'UnknownDashboard');
    return dashboard;
  }

  return {
    async collect(input: CollectInput): Promise<CollectedDashboard> {
      const collected = collectDashboard(
        dashboardOrFail(input.dashboardId),
        new Date(input.asOf),
        input.events,
      );
      if (collected.widgets.every((widget) => widget.status === 'failed')) {
        const reasons = collected.widgets
          .map((w) => (w.status === 'failed' ? `${w.widgetId}: ${w.reason}` : ''))
          .join('; ');
        throw ApplicationFailure.retryable(`every widget failed to collect (${reasons})`, 'CollectionFailed');
      }
      return collected;
    },

    async clean(collected: CollectedDashboard): Promise<CleanedDashboard> {
      return cleanDashboard(collected);
    },

    async enrich(cleaned: CleanedDashboard): Promise<EnrichedDashboard> {
      return enrichDashboard(dashboardOrFail(cleaned.dashboardId), cleaned);
    },

    async summarize(enriched: EnrichedDashboard): Promise<SummarizeResult> {
      return {
        content: summarizeLocally(enriched),
        model: LOCAL_MODEL,
        degraded: false,
        degradedReason: null,
        usage: { promptTokens: 0, completionTokens: 0, costUsd: 0 },
      };
    },

    async store(input: StoreInput): Promise<StoreOutput> {
      const { summary, written } = await deps.store.put(input.draft, input.idempotencyKey);
      return { version: summary.version, written };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
