import { Connection, Client as TemporalClient } from '@temporalio/client';
import { Redis } from 'ioredis';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import type { Config } from '../config';

/**
 * The one place that turns configuration into clients for the engines. Activities, workers and the API receive
 * what they need from here instead of building their own.
 */
export function createRedis(config: Config, options: { lazy?: boolean } = {}): Redis {
  return new Redis(config.redis.url, {
    lazyConnect: options.lazy ?? false,
    // Commands issued while disconnected wait (bounded) instead of failing at once; callers see a clear error.
    maxRetriesPerRequest: 3,
    enableAutoPipelining: true,
  });
}

export function createKafka(config: Config, clientIdSuffix: string): Kafka {
  return new Kafka({
    clientId: `${config.kafka.clientId}-${clientIdSuffix}`,
    brokers: config.kafka.brokers,
    logLevel: logLevel.WARN,
  });
}

export async function connectTemporal(
  config: Config,
): Promise<{ connection: Connection; client: TemporalClient }> {
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new TemporalClient({ connection, namespace: config.temporal.namespace });
  return { connection, client };
}

/** Creates precis's topics if they do not exist yet (idempotent). */
export async function ensureTopics(kafka: Kafka, config: Config, topics?: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const wanted = topics ?? [
      config.kafka.eventsTopic,
      config.kafka.deadLetterTopic,
      config.kafka.summariesTopic,
    ];
    const missing = wanted.filter((topic) => !existing.has(topic));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: config.kafka.topicPartitions,
          replicationFactor: 1,
        })),
      });
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * An idempotent producer with the default (murmur2, Java-compatible) partitioner, so that a dashboard id lands on
 * the same partition whichever client wrote it.
 */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}
