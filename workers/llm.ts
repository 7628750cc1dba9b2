/**
 * The LLM worker: runs model calls on their own task queue, with a server-side rate cap on that queue and the
 * limiter, breaker, cache and budgets shared through Redis with every other LLM worker. Scale out by running more.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createLlmActivities } from '../activities/llm';
import { createRedis } from '../src/clients';
import type { Config } from '../src/config';
import { modelConfigured } from '../src/ingest/starter';
import { CircuitBreaker } from '../src/llm/breaker';
import { CostLedger, loadPriceTable } from '../src/llm/cost';
import { TokenLimiter } from '../src/llm/limiter';
import { createOpenAiClient } from '../src/llm/model-client';
import { loadPrompt } from '../src/llm/prompt';
import { type Guards, Summarizer } from '../src/llm/summarizer';
import type { Logger } from '../src/log';
import type { Service } from '../src/process';
import { SummaryStore } from '../src/store/summaries';
import { runWorkerMain, serveWorker } from '../src/temporal-runtime';

export function buildSummarizer(config: Config, redis: ReturnType<typeof createRedis>): Summarizer {
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

export async function buildLlmWorker(config: Config, logger: Logger): Promise<Service> {
  const redis = createRedis(config);
  const summarizer = buildSummarizer(config, redis);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.llm.taskQueue,
    activities: createLlmActivities({ summarizer }),
    // A server-side cap shared by every worker on this queue, below the provider's own limits.
    maxTaskQueueActivitiesPerSecond: config.llm.maxActivitiesPerSecond,
  });
  logger.info(
    { taskQueue: config.llm.taskQueue, model: modelConfigured(config) ? config.llm.model : 'local only' },
    'LLM worker ready',
  );
  return serveWorker(worker, async () => {
    await connection.close();
    redis.disconnect();
  });
}

if (require.main === module) runWorkerMain('llm-worker', buildLlmWorker);
