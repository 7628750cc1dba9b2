import type { Config } from '../config';

/** Where and how a dashboard's model calls run; decided by the pipeline worker from its own configuration. */
export interface LlmPlan {
  /** False when no model is configured: the local summarizer is the default, not a degradation. */
  enabled: boolean;
  taskQueue: string;
  /** Temporal attempts at the primary model before the activity walks down the ladder itself. */
  primaryAttempts: number;
  /** Total time for one summary's model calls, retries included. */
  maxRetryMs: number;
  /** Delays between attempts to upgrade a degraded summary once the model is back. */
  upgradeDelaysMs: number[];
}

/** Whether a model is configured at all: an API key, or an endpoint of one's own (which may need none). */
export function modelConfigured(config: Config): boolean {
  return config.llm.apiKey !== undefined || config.llm.baseUrl !== undefined;
}

export function llmPlan(config: Config): LlmPlan {
  return {
    enabled: modelConfigured(config),
    taskQueue: config.llm.taskQueue,
    primaryAttempts: config.llm.primaryAttempts,
    maxRetryMs: config.llm.maxRetryMs,
    upgradeDelaysMs: config.llm.upgradeDelaysMs,
  };
}
