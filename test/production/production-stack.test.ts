/**
 * precis end to end on the production-shaped Temporal (`npm run stack -- up --production`): an event on Kafka → the
 * ingest consumer → the pipeline workflow on the real server (PostgreSQL persistence, 4 history shards) → a summary
 * stored in Redis; then SQL visibility finds the run by DashboardId and its history replays against today's
 * workflow code. Run with test/production/jest.config.js (opt-in; see there).
 */
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import type { Producer } from 'kafkajs';
import pino from 'pino';
import { createKafka, createProducer, ensureTopics } from '../../src/clients';
import type { Service } from '../../src/process';
import { buildIngestWorker } from '../../workers/ingest';
import { buildLlmWorker } from '../../workers/llm';
import { eventually, isolatedConfig } from '../support/config';
import { type PipelineUnderTest, startPipeline } from '../support/pipeline';

/** Where `npm run stack -- up --production` serves it (scripts/lib.sh: PRODUCTION_TEMPORAL_PORT). */
const address = process.env.PRODUCTION_TEMPORAL_ADDRESS ?? '127.0.0.1:7243';

const config = isolatedConfig({ TEMPORAL_ADDRESS: address });
const logger = pino({ level: 'error' });

let pipeline: PipelineUnderTest;
let producer: Producer;
const services: Service[] = [];

beforeAll(async () => {
  pipeline = await startPipeline(config).catch((error: unknown) => {
    throw new Error(`no production Temporal at ${address}? (npm run stack -- up --production): ${error}`);
  });
  const kafka = createKafka(config, 'test', logger);
  await ensureTopics(kafka, config);
  producer = createProducer(kafka);
  await producer.connect();
  services.push(await buildLlmWorker(config, logger), await buildIngestWorker(config, logger));
});

afterAll(async () => {
  for (const service of services.reverse()) await service.close();
  await producer?.disconnect();
  await pipeline?.close();
});

test('the cluster is the production shape, not the dev server', async () => {
  const cluster = await pipeline.client.connection.workflowService.getClusterInfo({});
  expect(cluster.historyShardCount).toBe(4);
  expect(cluster.persistenceStore).toBe('postgres12');
  expect(cluster.visibilityStore).toBe('postgres12');
});

test('an event becomes a stored summary; visibility finds its run by DashboardId and its history replays', async () => {
  const dashboardId = 'sre-checkout';
  const eventId = randomUUID();
  const event = {
    schemaVersion: 1,
    eventId,
    type: 'dashboard.data_changed',
    dashboardId,
    occurredAt: new Date().toISOString(),
  };
  await producer.send({
    topic: config.kafka.eventsTopic,
    messages: [{ key: dashboardId, value: JSON.stringify(event) }],
  });

  const summary = await eventually(`a stored summary of ${dashboardId} with event ${eventId}`, async () => {
    const latest = await pipeline.store.latest(dashboardId);
    return latest?.eventIds.includes(eventId) ? latest : undefined;
  });
  expect(summary).toMatchObject({
    dashboardId,
    degraded: false,
    workflowId: `${config.temporal.workflowIdPrefix}${dashboardId}`,
  });
  expect(summary.headline).toMatch(/^Checkout service health: /);

  const handle = pipeline.client.workflow.getHandle(summary.workflowId, summary.runId);
  await expect(handle.result()).resolves.toMatchObject({ summariesMade: expect.any(Number) });

  // SQL visibility with precis's custom search attribute: the query the UI links and operators use.
  const listed = await eventually('the run in visibility', async () => {
    const runIds: string[] = [];
    for await (const run of pipeline.client.workflow.list({
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
