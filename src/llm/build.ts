import type { Redis } from 'ioredis';
import type { Config } from '../config';
import { SummaryStore } from '../store/summaries';
import { CircuitBreaker } from './breaker';
import { CostLedger, loadPriceTable } from './cost';
import { TokenLimiter } from './limiter';
import { createOpenAiClient } from './model-client';
import { modelConfigured } from './plan';
import { loadPrompt } from './prompt';
import { type Guards, Summarizer } from './summarizer';

/** The summarize stage as this process's configuration sets it up (with no model configured: the local default). */
export function buildSummarizer(config: Config, redis: Redis): Summarizer {
  const { llm } = config;
  const endpoint = llm.baseUrl ?? 'https://api.openai.com/v1';
  const guards = new Map<string, Guards>();
  const store = new SummaryStore(redis, config.redis.keyPrefix, config.redis.summaryHistory);
  return new Summarizer({
    llm,
    client: modelConfigured(config) ? createOpenAiClient(llm) : null,
    prompt: loadPrompt(llm.promptsDir),
    prices: loadPriceTable(llm.pricesFile),
    ledger: new CostLedger(redis, config.redis.keyPrefix),
    redis,
    keyPrefix: config.redis.keyPrefix,
    latest: (dashboardId) => store.latest(dashboardId),
    guards: (model) => {
      const scope = `${endpoint}|${model}`;
      let pair = guards.get(scope);
      if (!pair) {
        pair = {
          limiter: new TokenLimiter(redis, {
            keyPrefix: config.redis.keyPrefix,
            scope,
            requestsPerMinute: llm.requestsPerMinute,
            tokensPerMinute: llm.tokensPerMinute,
          }),
          breaker: new CircuitBreaker(redis, {
            keyPrefix: config.redis.keyPrefix,
            scope,
            windowMs: llm.breakerWindowMs,
            minimumRequests: llm.breakerMinimumRequests,
            failureRateThreshold: llm.breakerFailureRate,
            cooldownMs: llm.breakerCooldownMs,
          }),
        };
        guards.set(scope, pair);
      }
      return pair;
    },
  });
}
