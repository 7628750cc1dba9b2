/**
 * The walking skeleton on the real engines: an event on a real Kafka topic → the ingest consumer → a real Temporal
 * workflow running collect/clean/enrich/summarize/store → the summary in real Redis → the API returns it.
 * Needs the local stack (scripts/stack.sh up); every name is unique to this run.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import pino from 'pino';
import { buildApp } from '../../api/app';
import { type ApiResources, createApiDeps } from '../../api/deps';
import { createKafka, createProducer, createRedis, ensureTopics } from '../../src/clients';
import { SUMMARY_VERSION_HEADER } from '../../src/delivery/publisher';
import type { Summary } from '../../src/domain/summary';
import { DLQ_HEADERS } from '../../src/ingest/consumer';
import type { Service } from '../../src/process';
import { SummaryStore } from '../../src/store/summaries';
import { buildIngestWorker } from '../../workers/ingest';
import { buildLlmWorker } from '../../workers/llm';
import { buildPipelineWorker } from '../../workers/pipeline';
import { eventually, isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';

// The read API's auth has its own tests; here the pipeline is under test.
const config = isolatedConfig({ PRECIS_API_AUTH: 'disabled' });
const logger = pino({ level: 'error' });

let kafka: Kafka;
let producer: Producer;
let redis: Redis;
let app: FastifyInstance;
let api: ApiResources;
let temporal: { connection: Connection; client: Client };
const services: Service[] = [];

beforeAll(async () => {
  kafka = createKafka(config, 'test', logger);
  await ensureTopics(kafka, config);
  producer = createProducer(kafka);
  await producer.connect();
  redis = createRedis(config);
  api = createApiDeps(config, logger);
  app = buildApp(api.deps);
  const connection = await Connection.connect({ address: config.temporal.address });
  temporal = { connection, client: new Client({ connection, namespace: config.temporal.namespace }) };
  services.push(
    await buildPipelineWorker(config, logger),
    await buildLlmWorker(config, logger),
    await buildIngestWorker(config, logger),
  );
});

afterAll(async () => {
  for (const service of services.reverse()) await service.close();
  await producer?.disconnect();
  await app?.close();
  await api?.close();
  await temporal?.connection.close();
  if (redis) {
    await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
    redis.disconnect();
  }
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({
    topics: [config.kafka.eventsTopic, config.kafka.deadLetterTopic, config.kafka.summariesTopic],
  });
  await admin.disconnect();
});

function event(dashboardId: string, extra: Record<string, unknown> = {}) {
  return {
    schemaVersion: 1,
    eventId: randomUUID(),
    type: 'dashboard.data_changed',
    dashboardId,
    occurredAt: new Date().toISOString(),
    ...extra,
  };
}

async function send(key: string, value: unknown): Promise<void> {
  await producer.send({
    topic: config.kafka.eventsTopic,
    messages: [{ key, value: typeof value === 'string' ? value : JSON.stringify(value) }],
  });
}

async function summaryFromApi(
  dashboardId: string,
  containingEvent: string,
): Promise<Summary & { links: { temporalRun: string } }> {
  return eventually(`a summary of ${dashboardId} with event ${containingEvent}`, async () => {
    const response = await app.inject({ method: 'GET', url: `/v1/dashboards/${dashboardId}/summary` });
    if (response.statusCode !== 200) return undefined;
    const body = response.json();
    return body.eventIds.includes(containingEvent) ? body : undefined;
  });
}

describe('an event through the whole pipeline', () => {
  it('ends as a summary in Redis, served by the API, from a workflow findable by DashboardId', async () => {
    const sent = event('sre-checkout');
    await send('sre-checkout', sent);

    const summary = await summaryFromApi('sre-checkout', sent.eventId);
    expect(summary).toMatchObject({
      dashboardId: 'sre-checkout',
      model: 'precis-local-extractive-v1',
      degraded: false,
      workflowId: `${config.temporal.workflowIdPrefix}sre-checkout`,
    });
    expect(summary.version).toBeGreaterThanOrEqual(1);
    expect(summary.headline).toMatch(/^Checkout service health: /);
    expect(summary.insights.map((i) => i.widgetIds[0]).sort()).toEqual([
      'error-rate',
      'p99-latency',
      'requests',
    ]);
    expect(summary.inputHash).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.links.temporalRun).toBe(
      `http://127.0.0.1:8233/namespaces/default/workflows/${summary.workflowId}/${summary.runId}/history`,
    );

    // The stored document is in Redis under this run's prefix.
    const raw = await redis.get(`${config.redis.keyPrefix}summary:sre-checkout:latest`);
    expect(JSON.parse(raw ?? 'null')).toMatchObject({ runId: summary.runId, version: summary.version });

    // Temporal completed the run, and visibility finds it by the custom search attribute.
    const handle = temporal.client.workflow.getHandle(summary.workflowId, summary.runId);
    await expect(handle.result()).resolves.toMatchObject({ summariesMade: expect.any(Number) });
    const listed = await eventually('the workflow in visibility', async () => {
      const runs = [];
      for await (const run of temporal.client.workflow.list({
        query: `DashboardId = 'sre-checkout' AND WorkflowId = '${summary.workflowId}'`,
      })) {
        runs.push(run);
      }
      return runs.some((run) => run.runId === summary.runId) ? runs : undefined;
    });
    expect(listed.length).toBeGreaterThanOrEqual(1);
  });

  it('summarizes data carried inline in the event', async () => {
    const hour = 3_600_000;
    const now = Math.floor(Date.now() / hour) * hour;
    const points = Array.from({ length: 48 }, (_, i) => ({
      t: new Date(now - (47 - i) * hour).toISOString(),
      v: i < 24 ? 1000 : 1500,
    }));
    const sent = event('social-listening', { payload: { widgets: { 'partner-reach': points } } });
    await send('social-listening', sent);

    const summary = await summaryFromApi('social-listening', sent.eventId);
    const reach = summary.insights.find((insight) => insight.widgetIds.includes('partner-reach'));
    expect(reach?.text).toBe('Partner reach rose 50.0% to 1500 people (previous window 1000 people).');
    expect(summary.missingWidgets).toEqual([]);
  });

  it('dead-letters an invalid event with its reason and keeps the partition flowing', async () => {
    const dlq: Consumer = kafka.consumer({ groupId: `${config.runId}-dlq-reader` });
    const received: { key: string; value: string; headers: Record<string, string> }[] = [];
    await dlq.connect();
    await dlq.subscribe({ topic: config.kafka.deadLetterTopic, fromBeginning: true });
    await dlq.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]),
        );
        received.push({ key: String(message.key), value: String(message.value), headers });
      },
    });
    try {
      await send('marketing-funnel', '{"schemaVersion": 1, "eventId": ');
      await send('marketing-funnel', event('marketing-funnel', { type: 'dashboard.exploded' }));
      const good = event('marketing-funnel');
      await send('marketing-funnel', good);

      await summaryFromApi('marketing-funnel', good.eventId);
      const letters = await eventually('two dead letters', async () =>
        received.length >= 2 ? received : undefined,
      );
      expect(letters.map((letter) => letter.headers[DLQ_HEADERS.reason])).toEqual([
        expect.stringMatching(/^invalid JSON/),
        expect.stringMatching(/^schema violation: type/),
      ]);
      for (const letter of letters) {
        expect(letter.key).toBe('marketing-funnel');
        expect(letter.headers[DLQ_HEADERS.topic]).toBe(config.kafka.eventsTopic);
        expect(Number(letter.headers[DLQ_HEADERS.offset])).toBeGreaterThanOrEqual(0);
      }
      expect(letters[0]?.value).toBe('{"schemaVersion": 1, "eventId": ');
    } finally {
      await dlq.disconnect();
    }
  });

  it('publishes every stored summary version to the summaries topic exactly once', async () => {
    const reader: Consumer = kafka.consumer({ groupId: `${config.runId}-summaries-reader` });
    const seen: { key: string; version: string; body: { version: number } }[] = [];
    await reader.connect();
    await reader.subscribe({ topic: config.kafka.summariesTopic, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        seen.push({
          key: String(message.key),
          version: String(message.headers?.[SUMMARY_VERSION_HEADER]),
          body: JSON.parse(String(message.value)),
        });
      },
    });
    try {
      const store = new SummaryStore(redis, config.redis.keyPrefix, 50);
      const stored = (
        await Promise.all(
          ['sre-checkout', 'social-listening', 'marketing-funnel'].map((id) => store.history(id, 50)),
        )
      ).flat();
      expect(stored.length).toBeGreaterThanOrEqual(3);
      await eventually('every version on the topic', async () =>
        seen.length >= stored.length ? true : undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      const published = seen.map((m) => `${m.key}@${m.version}`).sort();
      expect(published).toEqual(stored.map((s) => `${s.dashboardId}@${s.version}`).sort());
      for (const message of seen) expect(String(message.body.version)).toBe(message.version);
    } finally {
      await reader.disconnect();
    }
  });
});
