/**
 * The benchmark's own Kafka client: a producer for the workloads (the same partitioner as precis, so a dashboard's
 * events stay on one partition and in order), topic creation and deletion for the bare baselines, and the offsets
 * the absorption scenario compares.
 */
import { type Admin, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { sleep } from './stats';

export interface BenchKafka {
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  close(): Promise<void>;
}

export async function connectKafka(brokers: string[]): Promise<BenchKafka> {
  // Silent: deleting topics makes kafkajs log metadata errors for them; real failures surface as exceptions.
  const kafka = new Kafka({ clientId: 'precis-bench', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await Promise.all([admin.connect(), producer.connect()]);
  return {
    kafka,
    admin,
    producer,
    close: async () => {
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    },
  };
}

/**
 * Creates a topic unless it exists, then waits until every partition has a leader. A busy broker answers metadata
 * requests for a topic it is still creating with "does not host this topic-partition", and kafkajs's own
 * waitForLeaders gives up on that: here it is retried until `timeoutMs`.
 */
export async function createTopic(
  admin: Admin,
  topic: string,
  partitions: number,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (!(await admin.listTopics()).includes(topic)) {
        await admin.createTopics({
          waitForLeaders: false,
          topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
        });
      }
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const found = metadata.topics.find((t) => t.name === topic);
      if (found && found.partitions.length === partitions && found.partitions.every((p) => p.leader >= 0))
        return;
    } catch (error) {
      lastError = error;
    }
    await sleep(250);
  }
  throw new Error(
    `topic ${topic} has no leaders after ${timeoutMs} ms: ${String(lastError ?? 'no leader yet')}`,
  );
}

export async function deleteTopics(admin: Admin, topics: string[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const mine = topics.filter((topic) => existing.has(topic));
  if (mine.length > 0) await admin.deleteTopics({ topics: mine });
}

/** Sum over partitions of the log-end offsets (how many messages the topic holds, from an empty start). */
export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
}

/** The group's committed offsets per partition (a partition with no commit counts as 0). */
export async function committedOffsets(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<Map<number, number>> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((entry?.partitions ?? []).map((p) => [p.partition, Math.max(0, Number(p.offset))]));
}

export function sum(offsets: Map<number, number>): number {
  let total = 0;
  for (const value of offsets.values()) total += value;
  return total;
}

/** Sends messages in chunks, `parallel` lanes in flight at once, each key in one lane (bounded memory, high rate). */
export async function produceAll(
  producer: Producer,
  topic: string,
  messages: { key: string; value: string }[],
  chunk = 2_000,
  parallel = 4,
): Promise<void> {
  // A key's messages stay in one lane, in order: Kafka then holds each dashboard's events in production order, as a
  // real producer keyed by dashboard writes them (concurrent sends of one key could land in any order).
  const lanes: { key: string; value: string }[][] = Array.from({ length: parallel }, () => []);
  for (const message of messages) lanes[laneOf(message.key, parallel)]?.push(message);
  await Promise.all(
    lanes.map(async (lane) => {
      for (let start = 0; start < lane.length; start += chunk)
        await producer.send({ topic, messages: lane.slice(start, start + chunk) });
    }),
  );
}

function laneOf(key: string, lanes: number): number {
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) >>> 0;
  return hash % lanes;
}
