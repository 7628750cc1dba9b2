/**
 * precis end to end on the production-shaped Temporal (`npm run stack -- up --production`): an event on Kafka → the
 * ingest consumer → the pipeline workflow on the real server (PostgreSQL persistence, 4 history shards) → a summary
 * in Redis served by the API; then SQL visibility finds the run by DashboardId and its history replays against
 * today's workflow code. Run with test/production/jest.config.js (opt-in; see there).
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Kafka, Producer } from 'kafkajs';
import pino from 'pino';
import { buildApp } from '../../api/app';
import { type ApiResources, createApiDeps } from '../../api/deps';
import { createKafka, createProducer, createRedis, ensureTopics } from '../../src/clients';
import type { Summary } from '../../src/domain/summary';
import type { Service } from '../../src/process';
import { buildIngestWorker } from '../../workers/ingest';
import { buildLlmWorker } from '../../workers/llm';
import { buildPipelineWorker } from '../../workers/pipeline';
import { deleteRunTopics, eventually, isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';

/** Where `npm run stack -- up --production` serves it (scripts/lib.sh: PRODUCTION_TEMPORAL_PORT, ..._UI_PORT). */
const address = process.env.PRODUCTION_TEMPORAL_ADDRESS ?? '127.0.0.1:7243';
const uiUrl = process.env.PRODUCTION_TEMPORAL_UI_URL ?? 'http://127.0.0.1:8243';

const config = isolatedConfig({
  PRECIS_API_AUTH: 'disabled',
  TEMPORAL_ADDRESS: address,
  TEMPORAL_UI_URL: uiUrl,
});
const logger = pino({ level: 'error' });

let kafka: Kafka;
let producer: Producer;
let redis: Redis;
let app: FastifyInstance;
let api: ApiResources;
let connection: Connection;
let client: Client;
const services: Service[] = [];

beforeAll(async () => {
  connection = await Connection.connect({ address, connectTimeout: 5_000 }).catch((error: unknown) => {
    throw new Error(
      `no production Temporal at ${address} (run \`npm run stack -- up --production\`): ${error}`,
    );
  });
  client = new Client({ connection, namespace: config.temporal.namespace });
  kafka = createKafka(config, 'test', logger);
  await ensureTopics(kafka, config);
  producer = createProducer(kafka);
  await producer.connect();
  redis = createRedis(config);
  api = createApiDeps(config, logger);
  app = buildApp(api.deps);
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
  await connection?.close();
  if (redis) {
    await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
    redis.disconnect();
  }
  await deleteRunTopics(config);
});

test('the cluster is the production shape, not the dev server', async () => {
  const cluster = await connection.workflowService.getClusterInfo({});
  expect(cluster.historyShardCount).toBe(4);
  expect(cluster.persistenceStore).toBe('postgres12');
  expect(cluster.visibilityStore).toBe('postgres12');
});

test('an event becomes a stored summary; visibility finds its run by DashboardId and its history replays', async () => {
  const dashboardId = 'sre-checkout';
  const eventId = randomUUID();
  await producer.send({
    topic: config.kafka.eventsTopic,
    messages: [
      {
        key: dashboardId,
        value: JSON.stringify({
          schemaVersion: 1,
          eventId,
          type: 'dashboard.data_changed',
          dashboardId,
          occurredAt: new Date().toISOString(),
        }),
      },
    ],
  });

  const summary = await eventually(`a summary of ${dashboardId} with event ${eventId}`, async () => {
    const response = await app.inject({ method: 'GET', url: `/v1/dashboards/${dashboardId}/summary` });
    if (response.statusCode !== 200) return undefined;
    const body = response.json<Summary & { links: { temporalRun: string } }>();
    return body.eventIds.includes(eventId) ? body : undefined;
  });
  expect(summary).toMatchObject({
    dashboardId,
    degraded: false,
    workflowId: `${config.temporal.workflowIdPrefix}${dashboardId}`,
  });
  expect(summary.headline).toMatch(/^Checkout service health: /);
  expect(summary.links.temporalRun).toBe(
    `${uiUrl}/namespaces/default/workflows/${summary.workflowId}/${summary.runId}/history`,
  );

  const handle = client.workflow.getHandle(summary.workflowId, summary.runId);
  await expect(handle.result()).resolves.toMatchObject({ summariesMade: expect.any(Number) });

  // SQL visibility with precis's custom search attribute: the query the API and operators use.
  const listed = await eventually('the run in visibility', async () => {
    const runIds: string[] = [];
    for await (const run of client.workflow.list({
      query: `DashboardId = "${dashboardId}" AND WorkflowId = "${summary.workflowId}"`,
    })) {
      runIds.push(run.runId);
    }
    return runIds.includes(summary.runId) ? runIds : undefined;
  });
  expect(listed).toContain(summary.runId);

  const history = await handle.fetchHistory();
  await expect(
    Worker.runReplayHistory(
      { workflowsPath: require.resolve('../../workflows'), replayName: summary.runId },
      history,
    ),
  ).resolves.toBeUndefined();
});
