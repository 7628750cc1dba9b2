/**
 * The LLM worker: runs model calls on their own task queue, with a server-side rate cap on that queue and the
 * limiter, breaker, cache and budgets shared through Redis with every other LLM worker. Scale out by running more.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createLlmActivities } from '../activities/llm';
import { createRedis } from '../src/clients';
import type { Config } from '../src/config';
import { breakerFor, buildSummarizer, configuredModels } from '../src/llm/build';
import { CostLedger } from '../src/llm/cost';
import { modelConfigured } from '../src/llm/plan';
import type { Logger } from '../src/log';
import { registerModelStatus } from '../src/metrics/model';
import { createWorkerMetrics, serveWorkerMetrics } from '../src/metrics/worker';
import type { Service } from '../src/process';
import { BlobStore } from '../src/store/blobs';
import { runWorkerMain, serveWorker } from '../src/temporal-runtime';
import { startTracing } from '../src/tracing/provider';
import { activityWorkerTracing } from '../src/tracing/temporal';

export async function buildLlmWorker(config: Config, logger: Logger): Promise<Service> {
  const tracing = startTracing(config, 'precis-llm', logger);
  const redis = createRedis(config);
  const metrics = createWorkerMetrics();
  const summarizer = buildSummarizer(config, redis, metrics.model);
  if (modelConfigured(config)) {
    const ledger = new CostLedger(redis, config.redis.keyPrefix);
    registerModelStatus(metrics.registry, {
      breakers: new Map(configuredModels(config).map((model) => [model, breakerFor(config, redis, model)])),
      spentTodayUsd: () => ledger.spentToday(),
      dailyBudgetUsd: config.llm.dailyBudgetUsd,
    });
  }
  const blobs = new BlobStore(redis, config.redis.keyPrefix, config.sources.blobTtlSeconds);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.llm.taskQueue,
    activities: createLlmActivities({ summarizer, blobs, metrics: metrics.pipeline }),
    // A server-side cap shared by every worker on this queue, below the provider's own limits.
    maxTaskQueueActivitiesPerSecond: config.llm.maxActivitiesPerSecond,
    ...activityWorkerTracing(tracing),
  });
  logger.info(
    { taskQueue: config.llm.taskQueue, model: modelConfigured(config) ? config.llm.model : 'local only' },
    'LLM worker ready',
  );
  const metricsServer = await serveWorkerMetrics({
    registry: metrics.registry,
    host: config.llm.workerMetricsHost,
    port: config.llm.workerMetricsPort,
    worker,
    connection,
    clientsReady: () => redis.status === 'ready',
  });
  return serveWorker(worker, async () => {
    await metricsServer.close();
    await connection.close();
    redis.disconnect();
    await tracing.shutdown();
  });
}

if (require.main === module)
  runWorkerMain('llm-worker', buildLlmWorker, (config) => config.llm.workerMetricsPort);
