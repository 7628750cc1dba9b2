/**
 * The pipeline worker: runs dashboard workflows and their collect/clean/enrich/summarize/store activities on
 * the pipeline task queue. Scale out by running more of these; Temporal spreads the work.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { TRACED_WORKFLOW_BUNDLE_FILE, WORKFLOW_BUNDLE_FILE } from '../scripts/bundle-workflows';
import { createKafka, createProducer, createRedis, ensureTopics } from '../src/clients';
import type { Config } from '../src/config';
import { OutboxDrainer, PublishOutbox } from '../src/delivery/outbox';
import { SummaryPublisher } from '../src/delivery/publisher';
import { DashboardRegistry } from '../src/domain/registry';
import { buildSummarizer } from '../src/llm/build';
import { llmPlan } from '../src/llm/plan';
import type { Logger } from '../src/log';
import { createWorkerMetrics, serveWorkerMetrics } from '../src/metrics/worker';
import type { Service } from '../src/process';
import { closeConnectors, createConnectors } from '../src/sources';
import { BlobStore } from '../src/store/blobs';
import { SummaryStore } from '../src/store/summaries';
import { runWorkerMain, serveWorker } from '../src/temporal-runtime';
import { startTracing } from '../src/tracing/provider';
import { pipelineWorkerTracing } from '../src/tracing/temporal';

/**
 * The bundle `npm run build` made when there is one: no webpack at start-up, and its peak memory stays out of the
 * worker. With tracing off the bundle without OpenTelemetry's workflow interceptors (scripts/bundle-workflows.ts).
 * From sources (tests, tsx) the worker bundles the workflows itself.
 */
function workflowCode(traced: boolean): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const bundle = join(__dirname, '..', traced ? TRACED_WORKFLOW_BUNDLE_FILE : WORKFLOW_BUNDLE_FILE);
  return existsSync(bundle)
    ? { workflowBundle: { codePath: bundle } }
    : { workflowsPath: require.resolve('../workflows') };
}

export async function buildPipelineWorker(config: Config, logger: Logger): Promise<Service> {
  const tracing = startTracing(config, 'precis-pipeline', logger);
  const registry = DashboardRegistry.fromDirectory(config.dashboardsDir);
  const metrics = createWorkerMetrics();
  const redis = createRedis(config);
  const store = new SummaryStore(redis, config.redis.keyPrefix, config.redis.summaryHistory);
  const blobs = new BlobStore(redis, config.redis.keyPrefix, config.sources.blobTtlSeconds);
  const connectors = createConnectors(config);
  const kafka = createKafka(config, 'pipeline', logger);
  await ensureTopics(kafka, config, [config.kafka.summariesTopic]);
  const producer = createProducer(kafka);
  await producer.connect();
  const publisher = new SummaryPublisher(
    producer,
    redis,
    config.redis.keyPrefix,
    config.kafka.summariesTopic,
  );
  const outbox = new PublishOutbox(redis, config.redis.keyPrefix);
  const drainer = new OutboxDrainer(redis, config.redis.keyPrefix, outbox, store, publisher, logger, {
    intervalMs: config.pipeline.outboxIntervalMs,
    batch: 100,
    historyDepth: config.redis.summaryHistory,
  });
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const code = workflowCode(tracing.enabled);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...code,
    ...pipelineWorkerTracing(tracing, 'workflowsPath' in code),
    // Every open dashboard workflow stays cached (sticky), so a change never replays its history. The SDK's default
    // size follows the V8 heap limit (about 1.7 MB per workflow); a precis workflow holds a few KB.
    maxCachedWorkflows: 2000,
    activities: createActivities({
      registry,
      store,
      blobs,
      connectors,
      publisher,
      outbox,
      summarizer: buildSummarizer(config, redis, metrics.model),
      metrics: metrics.pipeline,
      tokenBudget: config.pipeline.tokenBudget,
      llmPlan: llmPlan(config),
      idleTimeoutMs: config.pipeline.idleTimeoutMs,
      summariesPerRun: config.pipeline.summariesPerRun,
      runRetry: { initialMs: config.pipeline.runRetryInitialMs, maxMs: config.pipeline.runRetryMaxMs },
    }),
  });
  logger.info(
    { taskQueue: config.temporal.taskQueue, dashboards: registry.list().length },
    'pipeline worker ready',
  );
  const metricsServer = await serveWorkerMetrics({
    registry: metrics.registry,
    host: config.pipeline.metricsHost,
    port: config.pipeline.metricsPort,
    worker,
    connection,
    // Kafka is not needed to store summaries (a refused publish waits in the outbox): only Redis counts.
    clientsReady: () => redis.status === 'ready',
  });
  drainer.start();
  return serveWorker(worker, async () => {
    await metricsServer.close();
    await drainer.stop();
    await connection.close();
    await closeConnectors(connectors);
    await producer.disconnect();
    redis.disconnect();
    await tracing.shutdown();
  });
}

if (require.main === module)
  runWorkerMain('pipeline-worker', buildPipelineWorker, (config) => config.pipeline.metricsPort);
