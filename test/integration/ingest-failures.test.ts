/**
 * How the ingest behaves when Temporal or Kafka refuse it, on real engines:
 * - a signal too large for Temporal's blob limit (a Temporal dev server of our own, started with a small limit) is
 *   split until it passes: every valid event reaches the workflow, none is dead-lettered;
 * - an unknown namespace (a fatal refusal) makes the ingest process exit non-zero, nothing committed;
 * - a kafkajs crash without restart (the broker refuses a dead letter larger than the DLQ topic allows) rejects
 *   `closed` and readiness goes false, instead of a process that runs on and consumes nothing;
 * - a consumer stopped between hand-over and commit leaves its batch uncommitted: the next one hands it over again
 *   and nothing is lost.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Redis } from 'ioredis';
import type { Admin, Kafka, Producer } from 'kafkajs';
import pino from 'pino';
import { createKafka, createProducer, createRedis, ensureTopics } from '../../src/clients';
import { type Config, loadConfig } from '../../src/config';
import type { EventsHandover } from '../../src/domain/event';
import { DashboardRegistry } from '../../src/domain/registry';
import { IngestConsumer } from '../../src/ingest/consumer';
import { EventDeduper } from '../../src/ingest/dedupe';
import { createIngestMetrics } from '../../src/ingest/metrics';
import { dashboardWorkflowId } from '../../src/ingest/starter';
import { serveMetrics } from '../../src/metrics/server';
import { BlobStore } from '../../src/store/blobs';
import { deleteRunTopics, eventually, isolatedEnv } from '../support/config';
import { freePort, Relay } from '../support/net';
import { deleteKeysWithPrefix } from '../support/redis';

const logger = pino({ level: 'silent' });
const ROOT = join(__dirname, '..', '..');
const TEMPORAL_BIN = join(homedir(), '.cache', 'precis', 'temporal-v1.5.1', 'temporal');

let dashboardsDir: string;
let registry: DashboardRegistry;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(() => {
  dashboardsDir = mkdtempSync(join(tmpdir(), 'precis-ingest-failures-'));
  writeFileSync(
    join(dashboardsDir, 'f1.yaml'),
    'id: f1\ntitle: F1\nwidgets:\n  - { id: level, title: Level, source: { type: inline } }\n',
  );
  registry = DashboardRegistry.fromDirectory(dashboardsDir);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(() => rmSync(dashboardsDir, { recursive: true, force: true }));

/** The environment of one test's run (every shared name unique), usable by a child process too. */
function runEnv(extra: Record<string, string> = {}): Record<string, string> {
  return isolatedEnv({ PRECIS_TOPIC_PARTITIONS: '1', PRECIS_DASHBOARDS_DIR: dashboardsDir, ...extra }).env;
}

interface Run {
  config: Config;
  kafka: Kafka;
  producer: Producer;
  redis: Redis;
  admin: Admin;
}

async function setUp(
  env: Record<string, string>,
  beforeTopics?: (admin: Admin, config: Config) => Promise<void>,
) {
  const config = loadConfig(env);
  const kafka = createKafka(config, 'test', logger);
  const admin = kafka.admin();
  await admin.connect();
  await beforeTopics?.(admin, config);
  await ensureTopics(kafka, config);
  const producer = createProducer(kafka);
  await producer.connect();
  const redis = createRedis(config);
  cleanups.push(async () => {
    await producer.disconnect();
    await admin.disconnect();
    await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
    redis.disconnect();
    await deleteRunTopics(config);
  });
  return { config, kafka, producer, redis, admin } satisfies Run;
}

function consumerOf(run: Run, temporal: Client): IngestConsumer {
  const consumer = new IngestConsumer({
    kafka: createKafka(run.config, `ingest-${randomUUID()}`, logger),
    temporal,
    registry,
    deduper: new EventDeduper(run.redis, run.config.redis.keyPrefix, 3600),
    blobs: new BlobStore(run.redis, run.config.redis.keyPrefix, 3600),
    config: run.config,
    logger,
    backoff: { initialMs: 100, maxMs: 1000 },
  });
  cleanups.push(() => consumer.stop());
  return consumer;
}

function event(eventId: string = randomUUID()) {
  return {
    schemaVersion: 1,
    eventId,
    type: 'dashboard.data_changed',
    dashboardId: 'f1',
    occurredAt: new Date().toISOString(),
  };
}

async function send(run: Run, events: { eventId: string }[]): Promise<void> {
  await run.producer.send({
    topic: run.config.kafka.eventsTopic,
    messages: events.map((e) => ({ key: 'f1', value: JSON.stringify(e) })),
  });
}

async function committedOffset(run: Run): Promise<number> {
  const [topic] = await run.admin.fetchOffsets({
    groupId: run.config.kafka.groupId,
    topics: [run.config.kafka.eventsTopic],
  });
  return (topic?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

/** The hand-overs the dashboard's workflow received, read from its history. */
async function handoversReceived(client: Client, config: Config): Promise<EventsHandover[]> {
  const history = await client.workflow.getHandle(dashboardWorkflowId(config, 'f1')).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const payload = e.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0];
    return payload ? [defaultPayloadConverter.fromPayload<EventsHandover>(payload)] : [];
  });
}

/** Waits until the batch of `events` is committed, then checks that the workflow received every one of them. */
async function allHandedOver(
  run: Run,
  client: Client,
  events: { eventId: string }[],
): Promise<EventsHandover[]> {
  await eventually('the batch committed', async () =>
    (await committedOffset(run)) === events.length ? true : undefined,
  );
  const received = await handoversReceived(client, run.config);
  expect(received.flatMap((h) => h.eventIds).sort()).toEqual(events.map((e) => e.eventId).sort());
  return received;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe('ingest under refusals', () => {
  it('splits a hand-over Temporal finds too large until it passes, dead-lettering nothing', async () => {
    // A Temporal server of our own whose blob limit (1,500 bytes) a hand-over of 12 ids of 200 characters exceeds.
    const port = await freePort();
    const server = spawn(
      TEMPORAL_BIN,
      [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--headless',
        '--log-level',
        'error',
        '--search-attribute',
        'DashboardId=Keyword',
        '--dynamic-config-value',
        'limit.blobSize.error=1500',
        '--dynamic-config-value',
        'limit.blobSize.warn=1000',
      ],
      { stdio: 'ignore' },
    );
    cleanups.push(async () => {
      server.kill('SIGTERM');
      await exitOf(server);
    });
    const connection = await eventually('our Temporal server', () =>
      Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 1000 }),
    );
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });
    await eventually('the default namespace', async () =>
      (await connection.workflowService.describeNamespace({ namespace: 'default' })) ? true : undefined,
    );

    const run = await setUp(runEnv());
    const events = Array.from({ length: 12 }, (_, i) =>
      event(`${String(i).padStart(3, '0')}-${'x'.repeat(196)}`),
    );
    await send(run, events);
    const consumer = consumerOf(run, client);
    await consumer.start();

    const received = await allHandedOver(run, client, events);
    expect(received.reduce((sum, h) => sum + h.count, 0)).toBe(12);
    expect(consumer.stats.deadLettered).toBe(0);
    expect(consumer.stats.splitHandovers).toBeGreaterThan(0);
  });

  it('exits non-zero on an unknown Temporal namespace, committing nothing', async () => {
    const env = runEnv({ TEMPORAL_NAMESPACE: `missing-${randomUUID()}` });
    const run = await setUp(env);
    await send(run, [event()]);
    const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), ['workers/ingest.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let output = '';
    for (const stream of [child.stdout, child.stderr])
      stream?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
    const code = await exitOf(child);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(output).toMatch(/Namespace not found/);
    expect(await committedOffset(run)).toBe(0);
  });

  it('fails `closed` and readiness when kafkajs crashes without restarting', async () => {
    // A dead-letter topic that takes messages of at most 1,000 bytes: dead-lettering a 1,500-byte poison message
    // is refused by the broker for good (MESSAGE_TOO_LARGE), and kafkajs crashes with restart: false.
    const run = await setUp(runEnv({ PRECIS_MAX_EVENT_BYTES: '512' }), async (admin, config) => {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: config.kafka.deadLetterTopic,
            numPartitions: 1,
            replicationFactor: 1,
            configEntries: [{ name: 'max.message.bytes', value: '1000' }],
          },
        ],
      });
    });
    const connection = await Connection.connect({ address: run.config.temporal.address });
    cleanups.push(() => connection.close());
    const consumer = consumerOf(run, new Client({ connection, namespace: run.config.temporal.namespace }));
    const metrics = createIngestMetrics({
      kafka: run.kafka,
      groupId: run.config.kafka.groupId,
      topic: run.config.kafka.eventsTopic,
      stats: () => consumer.stats,
      ready: () => consumer.ready,
    });
    cleanups.push(() => metrics.close());
    const http = await serveMetrics(metrics.registry, '127.0.0.1', 0, () => consumer.ready);
    cleanups.push(() => new Promise<void>((resolve) => http.close(() => resolve())));
    const readyz = async () =>
      (await fetch(`http://127.0.0.1:${(http.address() as AddressInfo).port}/readyz`)).status;

    await consumer.start();
    await eventually('the consumer ready', async () => (consumer.ready ? true : undefined));
    expect(await readyz()).toBe(200);

    await run.producer.send({
      topic: run.config.kafka.eventsTopic,
      messages: [{ key: 'f1', value: JSON.stringify({ ...event(), padding: 'p'.repeat(1500) }) }],
    });
    await expect(consumer.closed).rejects.toThrow(/crashed and will not restart/);
    expect(consumer.ready).toBe(false);
    expect(await readyz()).toBe(503);
    expect(await committedOffset(run)).toBe(0);
  });

  it('redelivers a batch whose consumer stopped before committing, and loses nothing', async () => {
    const run = await setUp(runEnv());
    const [host, port] = run.config.temporal.address.split(':');
    const relay = new Relay({ host: host as string, port: Number(port) });
    const relayed = await Connection.connect({ address: await relay.listen() });
    cleanups.push(async () => {
      await relayed.close();
      await relay.close();
    });
    const direct = await Connection.connect({ address: run.config.temporal.address });
    cleanups.push(() => direct.close());
    const namespace = run.config.temporal.namespace;

    const first = consumerOf(run, new Client({ connection: relayed, namespace }));
    await first.start();
    relay.partition();
    const events = [event(), event(), event()];
    await send(run, events);
    await eventually('a hand-over to fail', async () =>
      first.stats.temporalFailures > 0 ? true : undefined,
    );
    await first.stop();
    expect(await committedOffset(run)).toBe(0);

    const client = new Client({ connection: direct, namespace });
    const second = consumerOf(run, client);
    await second.start();
    await allHandedOver(run, client, events);
    await client.workflow.getHandle(dashboardWorkflowId(run.config, 'f1')).terminate('test over');
  });
});
