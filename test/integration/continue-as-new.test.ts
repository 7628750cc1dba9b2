/**
 * Continue-as-new on a real Temporal server: with two summaries per execution, changes handed over one by one and in
 * a burst all reach a summary, each event counted exactly once, across several executions of the same workflow id.
 */
import { Client, Connection } from '@temporalio/client';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { createRedis } from '../../src/clients';
import { DashboardRegistry } from '../../src/domain/registry';
import { dashboardWorkflowId, handOver } from '../../src/ingest/starter';
import type { Service } from '../../src/process';
import { SummaryStore } from '../../src/store/summaries';
import { buildPipelineWorker } from '../../workers/pipeline';
import { deleteRunTopics, eventually, isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';

const config = isolatedConfig({ PRECIS_WORKFLOW_IDLE_MS: '3000', PRECIS_SUMMARIES_PER_RUN: '2' });
const registry = DashboardRegistry.fromDirectory(config.dashboardsDir);
let connection: Connection;
let client: Client;
let redis: Redis;
let store: SummaryStore;
let worker: Service;

beforeAll(async () => {
  connection = await Connection.connect({ address: config.temporal.address });
  client = new Client({ connection, namespace: config.temporal.namespace });
  redis = createRedis(config);
  store = new SummaryStore(redis, config.redis.keyPrefix, 100);
  worker = await buildPipelineWorker(config, pino({ level: 'error' }));
});

afterAll(async () => {
  await worker?.close();
  await deleteRunTopics(config);
  await connection?.close();
  await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
  redis.disconnect();
});

it('loses and repeats nothing across executions', async () => {
  const dashboard = registry.get('sre-checkout');
  if (!dashboard) throw new Error('sre-checkout must exist');
  const stream = 'events/0';
  const change = (offset: number) =>
    handOver(client, config, dashboard, {
      position: { stream, offset: String(offset) },
      count: 1,
      eventIds: [`e-${offset}`],
      newestOccurredAt: new Date().toISOString(),
    });
  const covered = (offset: number) =>
    eventually(`a summary of e-${offset}`, async () => {
      const latest = await store.latest('sre-checkout');
      return latest?.eventIds.includes(`e-${offset}`) ? latest : undefined;
    });

  // One by one: five summaries, so at least three executions.
  for (let offset = 1; offset <= 5; offset++) {
    await change(offset);
    await covered(offset);
  }
  // A burst as the ingest sends it (a partition's hand-overs one after another, without waiting for summaries), each
  // hand-over also redelivered (a retried signal): folded into few summaries, each event counted once.
  for (let offset = 100; offset < 110; offset++) {
    await change(offset);
    await change(offset);
  }
  await covered(109);

  const history = await store.history('sre-checkout', 100);
  const counted = history.reduce((total, summary) => total + (summary.eventCount ?? 0), 0);
  expect(counted).toBe(15);
  expect(new Set(history.map((summary) => summary.runId)).size).toBeGreaterThanOrEqual(3);
  // The chain ends by itself once idle.
  const result = await client.workflow.getHandle(dashboardWorkflowId(config, 'sre-checkout')).result();
  expect(result.status).toBe('idle');
});
