/**
 * The pipeline worker: runs dashboard workflows and their collect/clean/enrich/summarize/store activities on
 * the pipeline task queue. Scale out by running more of these; Temporal spreads the work.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createKafka, createProducer, createRedis, ensureTopics } from '../src/clients';
import type { Config } from '../src/config';
import { SummaryPublisher } from '../src/delivery/publisher';
import { DashboardRegistry } from '../src/domain/registry';
import { buildSummarizer } from '../src/llm/build';
import { llmPlan } from '../src/llm/plan';
import type { Logger } from '../src/log';
import type { Service } from '../src/process';
import { closeConnectors, createConnectors } from '../src/sources';
import { BlobStore } from '../src/store/blobs';
import { SummaryStore } from '../src/store/summaries';
import { runWorkerMain, serveWorker } from '../src/temporal-runtime';

export async function buildPipelineWorker(config: Config, logger: Logger): Promise<Service> {
  const registry = DashboardRegistry.fromDirectory(config.dashboardsDir);
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
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities({
      registry,
      store,
      blobs,
      connectors,
      publisher,
      summarizer: buildSummarizer(config, redis),
      tokenBudget: config.pipeline.tokenBudget,
      llmPlan: llmPlan(config),
      idleTimeoutMs: config.pipeline.idleTimeoutMs,
    }),
  });
  logger.info(
    { taskQueue: config.temporal.taskQueue, dashboards: registry.list().length },
    'pipeline worker ready',
  );
  return serveWorker(worker, async () => {
    await connection.close();
    await closeConnectors(connectors);
    await producer.disconnect();
    redis.disconnect();
  });
}

if (require.main === module) runWorkerMain('pipeline-worker', buildPipelineWorker);
