import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { RetryLater, type SummarizeOutcome, type Summarizer } from '../src/llm/summarizer';
import type { EnrichedDashboard } from '../src/pipeline/types';

export interface LlmActivityDeps {
  summarizer: Summarizer;
}

/**
 * Activities of the LLM task queue. Temporal is the only retry owner of model calls: the SDK does not retry,
 * and a transient failure of the primary model surfaces here as a retryable failure carrying the provider's
 * requested delay (Retry-After) as `nextRetryDelay`.
 */
export function createLlmActivities(deps: LlmActivityDeps) {
  return {
    async summarizeWithModel(enriched: EnrichedDashboard): Promise<SummarizeOutcome> {
      const context = Context.current();
      try {
        return await deps.summarizer.summarize(enriched, {
          attempt: context.info.attempt,
          firstScheduledMs: context.info.scheduledTimestampMs,
          signal: context.cancellationSignal,
        });
      } catch (error) {
        if (error instanceof RetryLater) {
          throw ApplicationFailure.create({
            message: error.message,
            type: 'ModelTransientError',
            ...(error.delayMs !== null ? { nextRetryDelay: error.delayMs } : {}),
          });
        }
        throw error;
      }
    },
  };
}

export type LlmActivities = ReturnType<typeof createLlmActivities>;
