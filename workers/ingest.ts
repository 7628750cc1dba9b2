/**
 * The ingest worker: consumes dashboard events from Kafka and hands them to Temporal. Run several side by side;
 * the consumer group shares the partitions between them.
 */
import { connectTemporal, createKafka, ensureTopics } from '../src/clients';
import type { Config } from '../src/config';
import { DashboardRegistry } from '../src/domain/registry';
import { IngestConsumer } from '../src/ingest/consumer';
import type { Logger } from '../src/log';
import { runMain, type Service } from '../src/process';

export async function buildIngestWorker(config: Config, logger: Logger): Promise<Service> {
  const registry = DashboardRegistry.fromDirectory(config.dashboardsDir);
  const kafka = createKafka(config, 'ingest', logger);
  await ensureTopics(kafka, config);
  const { connection, client } = await connectTemporal(config);
  const consumer = new IngestConsumer({ kafka, temporal: client, registry, config, logger });
  await consumer.start();
  logger.info({ topic: config.kafka.eventsTopic, group: config.kafka.groupId }, 'ingest consumer running');
  return {
    close: async () => {
      await consumer.stop();
      await connection.close();
    },
  };
}

if (require.main === module) runMain('ingest', buildIngestWorker);
