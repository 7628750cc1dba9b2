import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  type LadderPosition,
  RetryLater,
  type SummarizeOutcome,
  type Summarizer,
} from '../src/llm/summarizer';
import type { PipelineMetrics } from '../src/metrics/pipeline';
import type { EnrichedDashboard } from '../src/pipeline/types';
import type { BlobStore } from '../src/store/blobs';
import { toFailure } from './failures';

export interface LlmActivityDeps {
  summarizer: Summarizer;
  blobs: BlobStore;
  /** The summarize stage's latency for this worker's /metrics (absent in some tests). */
  metrics?: PipelineMetrics;
}

/** The model stage's input: the enriched data by reference (runs of older precis versions passed it whole). */
export type ModelInput = EnrichedDashboard | { enrichedRef: string };

/**
 * Activities of the LLM task queue. Temporal is the only retry owner of model calls: the SDK does not retry,
 * and a transient failure of the primary model surfaces here as a retryable failure carrying the provider's
 * requested delay (Retry-After) as `nextRetryDelay`.
 */
export function createLlmActivities(deps: LlmActivityDeps) {
  async function enrichedOf(input: ModelInput): Promise<EnrichedDashboard> {
    if (!('enrichedRef' in input)) return input;
    try {
      return await deps.blobs.get<EnrichedDashboard>(input.enrichedRef);
    } catch (error) {
      toFailure(error);
    }
  }

  return {
    async summarizeWithModel(input: ModelInput): Promise<SummarizeOutcome> {
      const context = Context.current();
      const enriched = await enrichedOf(input);
      // Heartbeats through every wait and call (limiter, single-flight, the request itself, bookkeeping), so a
      // worker that died is noticed within the heartbeat timeout while a slow but live one is never cut off. The
      // details carry the ladder position, for the Temporal UI; a retry resumes from the replies kept in Redis.
      let position: LadderPosition | null = null;
      const beat = () => context.heartbeat(position);
      const everyMs = context.info.heartbeatTimeoutMs;
      const ticker = everyMs ? setInterval(beat, Math.max(100, Math.floor(everyMs / 3))) : null;
      try {
        const summarize = () =>
          deps.summarizer.summarize(enriched, {
            attempt: context.info.attempt,
            firstScheduledMs: context.info.scheduledTimestampMs,
            signal: context.cancellationSignal,
            progress: (now) => {
              position = now;
              beat();
            },
          });
        return await (deps.metrics ? deps.metrics.time('summarize', summarize) : summarize());
      } catch (error) {
        if (error instanceof RetryLater) {
          throw ApplicationFailure.create({
            message: error.message,
            type: 'ModelTransientError',
            // Only a positive delay: Temporal takes a next-retry delay of 0 as "no retry" (retry state TIMEOUT), and
            // providers do send `retry-after: 0` or a rate-limit reset of 0s; then the retry policy's backoff applies.
            ...(error.delayMs !== null && error.delayMs > 0 ? { nextRetryDelay: error.delayMs } : {}),
          });
        }
        throw error;
      } finally {
        if (ticker) clearInterval(ticker);
      }
    },
  };
}

export type LlmActivities = ReturnType<typeof createLlmActivities>;
