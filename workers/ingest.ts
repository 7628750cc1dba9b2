/**
 * The ingest worker: consumes dashboard events from Kafka and hands them to Temporal. Run several side by side;
 * the consumer group shares the partitions between them.
 */
import { connectTemporal, createKafka, createRedis, ensureTopics } from '../src/clients';
import type { Config } from '../src/config';
import { DashboardRegistry } from '../src/domain/registry';
import { IngestConsumer } from '../src/ingest/consumer';
import { EventDeduper } from '../src/ingest/dedupe';
import { createIngestMetrics } from '../src/ingest/metrics';
import type { Logger } from '../src/log';
import { closeMetricsServer, serveMetrics } from '../src/metrics/server';
import { runMain, type Service } from '../src/process';
import { BlobStore } from '../src/store/blobs';
import { startTracing } from '../src/tracing/provider';

export async function buildIngestWorker(config: Config, logger: Logger): Promise<Service> {
  const tracing = startTracing(config, 'precis-ingest', logger);
  const registry = DashboardRegistry.fromDirectory(config.dashboardsDir);
  const kafka = createKafka(config, 'ingest', logger);
  await ensureTopics(kafka, config);
  const { connection, client } = await connectTemporal(config);
  const redis = createRedis(config);
  const deduper = new EventDeduper(redis, config.redis.keyPrefix, config.ingest.dedupeTtlSeconds);
  const blobs = new BlobStore(redis, config.redis.keyPrefix, config.sources.blobTtlSeconds);
  const consumer = new IngestConsumer({ kafka, temporal: client, registry, deduper, blobs, config, logger });
  await consumer.start();
  const metrics = createIngestMetrics({
    kafka,
    groupId: config.kafka.groupId,
    topic: config.kafka.eventsTopic,
    stats: () => consumer.stats,
    ready: () => consumer.ready,
  });
  const metricsServer =
    config.ingest.metricsPort > 0
      ? await serveMetrics(
          metrics.registry,
          config.ingest.metricsHost,
          config.ingest.metricsPort,
          () => consumer.ready,
        )
      : null;
  logger.info({ topic: config.kafka.eventsTopic, group: config.kafka.groupId }, 'ingest consumer running');
  return {
    // A consumer that stopped by itself (fatal Temporal refusal, kafkajs crash) makes the process exit non-zero,
    // so that its supervisor restarts it instead of it running on, consuming nothing.
    closed: consumer.closed,
    close: async () => {
      await closeMetricsServer(metricsServer);
      await consumer.stop();
      await metrics.close();
      await connection.close();
      redis.disconnect();
      await tracing.shutdown();
    },
  };
}

if (require.main === module) runMain('ingest', buildIngestWorker);
