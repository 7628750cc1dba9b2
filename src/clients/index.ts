import { Connection, Client as TemporalClient } from '@temporalio/client';
import { Redis } from 'ioredis';
import { Kafka, type LogEntry, logLevel, Partitioners, type Producer } from 'kafkajs';
import type { Config } from '../config';
import type { Logger } from '../log';

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

const KAFKA_LEVELS = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
  [logLevel.NOTHING]: 'silent',
} as const;

export function createKafka(config: Config, clientIdSuffix: string, logger: Logger): Kafka {
  const child = logger.child({ source: 'kafkajs' });
  return new Kafka({
    clientId: `${config.kafka.clientId}-${clientIdSuffix}`,
    brokers: config.kafka.brokers,
    logLevel: logLevel.WARN,
    // kafkajs logs to the console by default; send its lines through the process's JSON logger instead.
    logCreator:
      () =>
      ({ level, log: { message, ...extra } }: LogEntry) => {
        const method = KAFKA_LEVELS[level];
        if (method !== 'silent') child[method](extra, message);
      },
  });
}

export async function connectTemporal(
  config: Config,
): Promise<{ connection: Connection; client: TemporalClient }> {
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new TemporalClient({ connection, namespace: config.temporal.namespace });
  return { connection, client };
}

/**
 * Makes the broker create its consumer-offsets topic and load the group coordinator now, so that the first
 * consumer to join does not crash on "the coordinator is loading" (a fresh broker does this lazily).
 */
export async function warmGroupCoordinator(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.fetchOffsets({ groupId: 'precis-warmup', topics: [topic] });
  } finally {
    await admin.disconnect();
  }
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
