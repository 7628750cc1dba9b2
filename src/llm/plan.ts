import type { Config } from '../config';

/** Where and how a dashboard's model calls run; decided by the pipeline worker from its own configuration. */
export interface LlmPlan {
  /** False when no model is configured: the local summarizer is the default, not a degradation. */
  enabled: boolean;
  /** The primary model, for the Temporal UI's activity summaries (absent in plans recorded by earlier versions). */
  model?: string;
  taskQueue: string;
  /** Temporal attempts at the primary model before the activity walks down the ladder itself. */
  primaryAttempts: number;
  /** Total time for one summary's model calls, retries included. */
  maxRetryMs: number;
  /** Delays between attempts to upgrade a degraded summary once the model is back. */
  upgradeDelaysMs: number[];
  /**
   * Timeouts of the model activity, sized from the configuration (see modelTimeouts). Absent in plans recorded by
   * earlier versions, whose runs keep the fixed timeouts they were scheduled with.
   */
  startToCloseMs?: number;
  scheduleToCloseMs?: number;
  heartbeatTimeoutMs?: number;
}

/**
 * How long a single-flight leader's lock lives without renewal: a dead leader holds up waiters this long at most.
 * A live leader renews it (src/llm/cache.ts), whatever its calls take.
 */
export const FLIGHT_LOCK_MS = 10_000;
/** Redis round trips, bookkeeping retries and the local summarizer, on top of the waits and calls. */
const ATTEMPT_SLACK_MS = 10_000;
/** Temporal's maximumInterval between model attempts (workflows/dashboard.ts modelActivities). */
const MAX_BACKOFF_MS = 60_000;

export interface ModelTimeouts {
  startToCloseMs: number;
  scheduleToCloseMs: number;
  heartbeatTimeoutMs: number;
}

/**
 * The model activity's worst case, from the configuration, so that Temporal never times out an attempt that is
 * still within its own limits (a timed-out attempt would start the ladder again). One attempt walks every rung;
 * each rung is a call and a repair call, each of which may wait for the limiter and then for the call timeout, and
 * before doing it itself a worker may have waited for another worker doing the same request (single-flight) and for
 * a dead leader's lock to lapse. Retries of the primary stop once maxRetryMs (or primaryAttempts) is spent; the
 * attempt begun last may still walk the whole ladder.
 */
export function modelTimeouts(llm: Config['llm']): ModelTimeouts {
  const rungs = llm.fallbackModel !== 'none' && llm.fallbackModel !== llm.model ? 2 : 1;
  const call = llm.limiterMaxWaitMs + llm.timeoutMs;
  const rung = 2 * call;
  const sharedWait = rung + FLIGHT_LOCK_MS;
  const startToCloseMs = rungs * (sharedWait + rung) + ATTEMPT_SLACK_MS;
  const retrying = Math.min(llm.maxRetryMs, llm.primaryAttempts * (startToCloseMs + MAX_BACKOFF_MS));
  return {
    startToCloseMs,
    scheduleToCloseMs: retrying + startToCloseMs + MAX_BACKOFF_MS,
    heartbeatTimeoutMs: Math.min(llm.heartbeatTimeoutMs, startToCloseMs),
  };
}

/** Whether a model is configured at all: an API key, or an endpoint of one's own (which may need none). */
export function modelConfigured(config: Config): boolean {
  return config.llm.apiKey !== undefined || config.llm.baseUrl !== undefined;
}

export function llmPlan(config: Config): LlmPlan {
  return {
    enabled: modelConfigured(config),
    model: config.llm.model,
    taskQueue: config.llm.taskQueue,
    primaryAttempts: config.llm.primaryAttempts,
    maxRetryMs: config.llm.maxRetryMs,
    upgradeDelaysMs: config.llm.upgradeDelaysMs,
    ...modelTimeouts(config.llm),
  };
}
