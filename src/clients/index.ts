import { Connection, Client as TemporalClient } from '@temporalio/client';
import { Redis } from 'ioredis';
import { type Admin, Kafka, type LogEntry, logLevel, Partitioners, type Producer } from 'kafkajs';
import type { Config } from '../config';
import type { Logger } from '../log';
import { tracingClientInterceptors } from '../tracing/temporal';

/**
 * The one place that turns configuration into clients for the engines. Activities, workers and the API receive
 * what they need from here instead of building their own.
 */
export function createRedis(config: Config, options: { lazy?: boolean } = {}): Redis {
  const redis = new Redis(config.redis.url, {
    lazyConnect: options.lazy ?? false,
    // Commands issued while disconnected wait (bounded) instead of failing at once; callers see a clear error.
    maxRetriesPerRequest: 3,
    enableAutoPipelining: true,
  });
  // While Redis is down, every reconnect attempt emits an error event; without a listener ioredis prints each one
  // as "Unhandled error event". The commands that fail meanwhile reach their callers, which report them.
  redis.on('error', () => undefined);
  return redis;
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
  // With tracing on, every call carries the active trace context to the workflow (in Temporal's headers).
  const interceptors = tracingClientInterceptors(config);
  const client = new TemporalClient({
    connection,
    namespace: config.temporal.namespace,
    ...(interceptors ? { interceptors } : {}),
  });
  return { connection, client };
}

/**
 * Makes the broker create its consumer-offsets topic and load the group coordinator now, so that the first
 * consumer to join does not crash on "the coordinator is loading" (a fresh broker does this lazily).
 */
export async function warmGroupCoordinator(kafka: Kafka, topic: string, timeoutMs = 30_000): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Right after a broker (re)start the coordinator answers NOT_COORDINATOR for a while: retriable, so wait.
    await untilNotRetriable(timeoutMs, async () => {
      await admin.fetchOffsets({ groupId: 'precis-warmup', topics: [topic] });
      return true;
    });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Calls `attempt` until it returns true, every 250 ms while it returns false or throws an error kafkajs marks
 * retriable; any other error, or the deadline, ends the wait with an error.
 */
async function untilNotRetriable(
  timeoutMs: number,
  attempt: () => Promise<boolean>,
  timeoutMessage = `Kafka still answered with retriable errors after ${timeoutMs} ms`,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await attempt()) return;
    } catch (error) {
      const retriable = error instanceof Error && 'retriable' in error && error.retriable === true;
      if (!retriable || Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(timeoutMessage);
    await new Promise((resolve) => setTimeout(resolve, 250));
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
    await awaitLeaders(admin, wanted);
  } finally {
    await admin.disconnect();
  }
}

/**
 * A busy broker can answer "does not host this topic-partition" for a while after a topic was created (by us or by
 * another process): wait, within a bound, until every partition has a leader instead of failing the start-up.
 */
async function awaitLeaders(admin: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  await untilNotRetriable(
    timeoutMs,
    async () => {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      return metadata.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
    },
    `Kafka topics ${topics.join(', ')} still have partitions without a leader after ${timeoutMs} ms`,
  );
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
