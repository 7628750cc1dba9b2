import type { Redis } from 'ioredis';
import type { Config } from '../config';
import type { ModelMetrics } from '../metrics/model';
import { SummaryStore } from '../store/summaries';
import { CircuitBreaker } from './breaker';
import { CostLedger, completePriceTable, loadPriceTable, type PriceTable } from './cost';
import { TokenLimiter } from './limiter';
import { createOpenAiClient } from './model-client';
import { modelConfigured } from './plan';
import { loadPrompt } from './prompt';
import { type Guards, Summarizer } from './summarizer';

/** The endpoint model calls go to: the configured base URL, or OpenAI's. */
export function llmEndpoint(config: Config): string {
  return config.llm.baseUrl ?? 'https://api.openai.com/v1';
}

/** The models this configuration may call, in ladder order. */
export function configuredModels(config: Config): string[] {
  const { model, fallbackModel } = config.llm;
  return fallbackModel !== 'none' && fallbackModel !== model ? [model, fallbackModel] : [model];
}

/** The circuit breaker every worker shares for one (endpoint, model), as this configuration sets it up. */
export function breakerFor(config: Config, redis: Redis, model: string): CircuitBreaker {
  const { llm } = config;
  return new CircuitBreaker(redis, {
    keyPrefix: config.redis.keyPrefix,
    scope: `${llmEndpoint(config)}|${model}`,
    windowMs: llm.breakerWindowMs,
    minimumRequests: llm.breakerMinimumRequests,
    failureRateThreshold: llm.breakerFailureRate,
    cooldownMs: llm.breakerCooldownMs,
    quotaHoldMs: llm.quotaHoldMs,
  });
}

/**
 * The price table with the operator's price for unlisted models; with a model configured, every model it may call
 * must have a price, or start-up stops naming the model and the settings (an unpriced model would dodge budgets).
 */
export function priceTableFor(config: Config): PriceTable {
  const { llm } = config;
  const table = loadPriceTable(llm.pricesFile);
  return completePriceTable(
    table,
    modelConfigured(config) ? configuredModels(config) : [],
    { input: llm.defaultInputPriceUsd, output: llm.defaultOutputPriceUsd },
    {
      file: `${llm.pricesFile} (PRECIS_PRICES_FILE)`,
      input: 'PRECIS_PRICE_DEFAULT_INPUT_USD',
      output: 'PRECIS_PRICE_DEFAULT_OUTPUT_USD',
    },
  );
}

/** The summarize stage as this process's configuration sets it up (with no model configured: the local default). */
export function buildSummarizer(config: Config, redis: Redis, metrics?: ModelMetrics): Summarizer {
  const { llm } = config;
  const endpoint = llmEndpoint(config);
  const guards = new Map<string, Guards>();
  const store = new SummaryStore(redis, config.redis.keyPrefix, config.redis.summaryHistory);
  return new Summarizer({
    llm,
    endpoint,
    client: modelConfigured(config) ? createOpenAiClient(llm) : null,
    prompt: loadPrompt(llm.promptsDir),
    prices: priceTableFor(config),
    ledger: new CostLedger(redis, config.redis.keyPrefix),
    redis,
    keyPrefix: config.redis.keyPrefix,
    latest: (dashboardId) => store.latest(dashboardId),
    ...(metrics ? { metrics } : {}),
    guards: (model) => {
      let pair = guards.get(model);
      if (!pair) {
        pair = {
          limiter: new TokenLimiter(redis, {
            keyPrefix: config.redis.keyPrefix,
            scope: `${endpoint}|${model}`,
            requestsPerMinute: llm.requestsPerMinute,
            tokensPerMinute: llm.tokensPerMinute,
          }),
          breaker: breakerFor(config, redis, model),
        };
        guards.set(model, pair);
      }
      return pair;
    },
  });
}
