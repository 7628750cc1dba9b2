/**
 * Kafka ingestion on the real engines: poison messages go to the dead-letter topic with their reason while the
 * partition keeps flowing; a burst folds into at most two runs per dashboard whose final summary reflects the last
 * event; redeliveries change nothing; with Temporal unreachable the consumer pauses and commits nothing, and
 * catches up when it is back; two instances share the partitions and one takes over when the other leaves.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import pino from 'pino';
import { createKafka, createProducer, createRedis, ensureTopics } from '../../src/clients';
import type { Config } from '../../src/config';
import { DashboardRegistry } from '../../src/domain/registry';
import { DLQ_HEADERS, IngestConsumer } from '../../src/ingest/consumer';
import { EventDeduper } from '../../src/ingest/dedupe';
import { createIngestMetrics } from '../../src/ingest/metrics';
import type { Service } from '../../src/process';
import { BlobStore } from '../../src/store/blobs';
import { SummaryStore } from '../../src/store/summaries';
import { buildLlmWorker } from '../../workers/llm';
import { buildPipelineWorker } from '../../workers/pipeline';
import { deleteRunTopics, eventually, isolatedConfig } from '../support/config';
import { Relay } from '../support/net';
import { deleteKeysWithPrefix } from '../support/redis';

const DASHBOARDS = Array.from({ length: 20 }, (_, i) => `d${String(i).padStart(2, '0')}`);
const logger = pino({ level: 'silent' });
const HOUR = 3_600_000;

let dashboardsDir: string;
let config: Config & { runId: string };
let kafka: Kafka;
let producer: Producer;
let redis: Redis;
let store: SummaryStore;
let registry: DashboardRegistry;
let temporal: { connection: Connection; client: Client };
const workers: Service[] = [];
const consumers = new Set<IngestConsumer>();

beforeAll(async () => {
  dashboardsDir = mkdtempSync(join(tmpdir(), 'precis-ingest-'));
  for (const id of DASHBOARDS) {
    writeFileSync(
      join(dashboardsDir, `${id}.yaml`),
      `id: ${id}\ntitle: Dashboard ${id}\nwidgets:\n  - { id: level, title: Level, comparisonWindow: 1h, resolution: 1h, source: { type: inline } }\n`,
    );
  }
  config = isolatedConfig({
    PRECIS_DASHBOARDS_DIR: dashboardsDir,
    PRECIS_QUIET_PERIOD_MS: '1500',
    PRECIS_MAX_DELAY_MS: '10000',
    PRECIS_MAX_EVENT_BYTES: '2048',
  });
  registry = DashboardRegistry.fromDirectory(dashboardsDir);
  kafka = createKafka(config, 'test', logger);
  await ensureTopics(kafka, config);
  producer = createProducer(kafka);
  await producer.connect();
  redis = createRedis(config);
  store = new SummaryStore(redis, config.redis.keyPrefix, 50);
  const connection = await Connection.connect({ address: config.temporal.address });
  temporal = { connection, client: new Client({ connection, namespace: config.temporal.namespace }) };
  workers.push(await buildPipelineWorker(config, logger), await buildLlmWorker(config, logger));
});

afterAll(async () => {
  for (const consumer of consumers) await consumer.stop();
  for (const worker of workers) await worker.close();
  await producer?.disconnect();
  await temporal?.connection.close();
  await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
  redis.disconnect();
  await deleteRunTopics(config);
  rmSync(dashboardsDir, { recursive: true, force: true });
});

async function startConsumer(client: Client = temporal.client): Promise<IngestConsumer> {
  const consumer = new IngestConsumer({
    kafka: createKafka(config, `ingest-${consumers.size}`, logger),
    temporal: client,
    registry,
    deduper: new EventDeduper(redis, config.redis.keyPrefix, 3600),
    blobs: new BlobStore(redis, config.redis.keyPrefix, 3600),
    config,
    logger,
    backoff: { initialMs: 100, maxMs: 1000 },
  });
  await consumer.start();
  consumers.add(consumer);
  return consumer;
}

async function stopConsumer(consumer: IngestConsumer): Promise<void> {
  await consumer.stop();
  consumers.delete(consumer);
}

/** An event whose inline data ends at `value`: the summary of the freshest event says "… to {value} …". */
function event(dashboardId: string, value: number) {
  const now = Math.floor(Date.now() / HOUR) * HOUR;
  return {
    schemaVersion: 1,
    eventId: randomUUID(),
    type: 'dashboard.data_changed',
    dashboardId,
    occurredAt: new Date().toISOString(),
    payload: {
      widgets: {
        level: [
          { t: new Date(now - HOUR).toISOString(), v: 100 },
          { t: new Date(now).toISOString(), v: value },
        ],
      },
    },
  };
}

async function send(messages: { key: string | null; value: string | null }[]): Promise<void> {
  await producer.send({ topic: config.kafka.eventsTopic, messages });
}

const json = (value: unknown) => JSON.stringify(value);

async function finalSummaryReflects(dashboardId: string, lastEventId: string, value: number) {
  return eventually(`${dashboardId} summarized up to ${lastEventId}`, async () => {
    const summary = await store.latest(dashboardId);
    if (!summary?.eventIds.includes(lastEventId)) return undefined;
    expect(summary.insights[0]?.text).toContain(`to ${value}`);
    return summary;
  });
}

describe('ingestion', () => {
  it('dead-letters each kind of poison message with its reason while the partition keeps flowing', async () => {
    const consumer = await startConsumer();
    const dlq: Consumer = kafka.consumer({ groupId: `${config.runId}-dlq` });
    const letters: { reason: string; offset: string; key: string | null }[] = [];
    await dlq.connect();
    await dlq.subscribe({ topic: config.kafka.deadLetterTopic, fromBeginning: true });
    await dlq.run({
      eachMessage: async ({ message }) => {
        letters.push({
          reason: String(message.headers?.[DLQ_HEADERS.reason]),
          offset: String(message.headers?.[DLQ_HEADERS.offset]),
          key: message.key?.toString() ?? null,
        });
      },
    });
    try {
      const good = event('d00', 1234);
      await send([
        { key: 'd00', value: '{"schemaVersion":1,' },
        { key: 'd00', value: json({ ...event('d00', 1), type: 'dashboard.exploded' }) },
        { key: 'nope', value: json({ ...event('d00', 1), dashboardId: 'nope' }) },
        { key: 'd01', value: json(event('d00', 1)) },
        { key: 'd00', value: json({ ...event('d00', 1), padding: 'x'.repeat(3000) }) },
        { key: 'd00', value: null },
        { key: 'd00', value: json(good) },
      ]);
      await finalSummaryReflects('d00', good.eventId, 1234);
      const reasons = (
        await eventually('six dead letters', async () => (letters.length >= 6 ? letters : undefined))
      ).map((l) => l.reason);
      // Dead letters keep their source partition's order; across partitions there is none to expect.
      expect(reasons).toHaveLength(6);
      expect(reasons).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^invalid JSON/),
          expect.stringMatching(/^schema violation: type/),
          'unknown dashboard "nope"',
          'message key "d01" differs from dashboardId "d00"',
          expect.stringMatching(/exceeds the limit of 2048/),
          'empty message value',
        ]),
      );
      expect(consumer.stats.deadLettered).toBe(6);
    } finally {
      await dlq.disconnect();
    }
  });

  it('folds a burst of 2,000 events over 20 dashboards into at most 2 runs each, ending on the last event', async () => {
    const before = new Map<string, number>();
    for (const id of DASHBOARDS) before.set(id, (await store.latest(id))?.version ?? 0);
    const last = new Map<string, { eventId: string; value: number }>();
    const messages = [];
    for (let i = 0; i < 2000; i++) {
      const id = DASHBOARDS[i % DASHBOARDS.length] as string;
      const value = 1000 + i;
      const e = event(id, value);
      last.set(id, { eventId: e.eventId, value });
      messages.push({ key: id, value: json(e) });
    }
    const [consumer] = [...consumers];
    const callsBefore = consumer?.stats.temporalCalls ?? 0;
    for (let i = 0; i < messages.length; i += 500) await send(messages.slice(i, i + 500));

    for (const id of DASHBOARDS) {
      const expected = last.get(id);
      if (!expected) throw new Error('unreachable');
      const summary = await finalSummaryReflects(id, expected.eventId, expected.value);
      expect(summary.version - (before.get(id) ?? 0)).toBeLessThanOrEqual(2);
    }
    // First-level coalescing: far fewer Temporal calls than events.
    expect((consumer?.stats.temporalCalls ?? 0) - callsBefore).toBeLessThan(500);
  });

  it('ignores a redelivered event', async () => {
    const e = event('d05', 4321);
    await send([{ key: 'd05', value: json(e) }]);
    const first = await finalSummaryReflects('d05', e.eventId, 4321);
    const [consumer] = [...consumers];
    const duplicatesBefore = consumer?.stats.duplicates ?? 0;
    await send([{ key: 'd05', value: json(e) }]);
    await eventually('the duplicate to be seen', async () =>
      (consumer?.stats.duplicates ?? 0) > duplicatesBefore ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect((await store.latest('d05'))?.version).toBe(first.version);
  });

  it('pauses while Temporal is unreachable, commits nothing, and loses nothing once it is back', async () => {
    for (const consumer of [...consumers]) await stopConsumer(consumer);
    const relay = new Relay({ host: '127.0.0.1', port: Number(config.temporal.address.split(':')[1]) });
    const address = await relay.listen();
    const connection = await Connection.connect({ address });
    try {
      const consumer = await startConsumer(new Client({ connection, namespace: config.temporal.namespace }));
      const admin = kafka.admin();
      await admin.connect();
      const committed = async () =>
        (await admin.fetchOffsets({ groupId: config.kafka.groupId, topics: [config.kafka.eventsTopic] }))
          .flatMap((t) => t.partitions)
          .reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      // Let the group settle and commit what it had.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const committedBefore = await committed();

      relay.partition();
      const sent = DASHBOARDS.slice(0, 5).map((id, i) => ({ id, e: event(id, 7000 + i) }));
      await send(sent.map(({ id, e }) => ({ key: id, value: json(e) })));
      await eventually('the consumer to pause', async () =>
        consumer.stats.pausedPartitions > 0 ? true : undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(consumer.stats.temporalFailures).toBeGreaterThan(0);
      expect(await committed()).toBe(committedBefore);

      relay.heal();
      for (const [i, { id, e }] of sent.entries()) await finalSummaryReflects(id, e.eventId, 7000 + i);
      await eventually('the offsets to be committed', async () =>
        (await committed()) > committedBefore ? true : undefined,
      );
      expect(consumer.stats.pausedPartitions).toBe(0);
      await admin.disconnect();
      await stopConsumer(consumer);
    } finally {
      await connection.close();
      await relay.close();
    }
  });

  it('shares partitions between two instances; the survivor takes over when one leaves', async () => {
    const a = await startConsumer();
    const b = await startConsumer();
    const admin = kafka.admin();
    await admin.connect();
    await eventually('both members in the group', async () => {
      const { groups } = await admin.describeGroups([config.kafka.groupId]);
      return groups[0]?.members.length === 2 && groups[0].state === 'Stable' ? true : undefined;
    });
    await admin.disconnect();

    const round1 = DASHBOARDS.map((id, i) => ({ id, e: event(id, 8000 + i) }));
    await send(round1.map(({ id, e }) => ({ key: id, value: json(e) })));
    for (const [i, { id, e }] of round1.entries()) await finalSummaryReflects(id, e.eventId, 8000 + i);
    expect(a.stats.consumed).toBeGreaterThan(0);
    expect(b.stats.consumed).toBeGreaterThan(0);

    // The survivor's metrics: what it consumed, its coalescing and the group's lag (0 once all is committed).
    const metrics = createIngestMetrics({
      kafka,
      groupId: config.kafka.groupId,
      topic: config.kafka.eventsTopic,
      stats: () => b.stats,
    });
    const text = await eventually('zero lag', async () => {
      const body = await metrics.registry.metrics();
      return /precis_ingest_consumer_lag\{partition="\d+"\} [1-9]/.test(body) ? undefined : body;
    });
    await metrics.close();
    expect(text).toContain(`precis_ingest_messages_consumed_total ${b.stats.consumed}`);
    expect(text).toMatch(/precis_ingest_coalescing_ratio \d/);
    expect(text).toMatch(/precis_ingest_consumer_lag\{partition="0"\} 0/);

    await stopConsumer(a);
    const round2 = DASHBOARDS.map((id, i) => ({ id, e: event(id, 9000 + i) }));
    await send(round2.map(({ id, e }) => ({ key: id, value: json(e) })));
    for (const [i, { id, e }] of round2.entries()) await finalSummaryReflects(id, e.eventId, 9000 + i);
  });
});
