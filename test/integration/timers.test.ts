/**
 * The workflow's timers, the Temporal way: on Temporal's time-skipping test server (the Java server the SDKs' test
 * environments run, resolved by `scripts/install.sh test-server`), so that minutes of quiet period, max delay and
 * retry backoff pass in moments while the real pipeline worker runs every stage against real Redis.
 */
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createRedis } from '../../src/clients';
import type { Dashboard } from '../../src/domain/dashboard';
import { DashboardRegistry } from '../../src/domain/registry';
import { dashboardWorkflowId, signalDashboard } from '../../src/ingest/starter';
import type { Service } from '../../src/process';
import { SummaryStore } from '../../src/store/summaries';
import { buildPipelineWorker } from '../../workers/pipeline';
import { backoffMs, stateQuery } from '../../workflows/dashboard';
import { PRECIS_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { deleteRunTopics, isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';

const TEST_SERVER = join(__dirname, '..', '..', 'scripts', 'temporal-test-server', 'run');
const SECOND = 1000;

let env: TestWorkflowEnvironment;
let client: Client;
let worker: Service;
let config: ReturnType<typeof isolatedConfig>;
let store: SummaryStore;
let redis: ReturnType<typeof createRedis>;
let dashboard: Dashboard;

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: TEST_SERVER } },
  });
  client = env.client;
  // The test server starts with none of precis's search attributes (scripts/stack.sh registers them on the dev server).
  const { INDEXED_VALUE_TYPE_KEYWORD, INDEXED_VALUE_TYPE_BOOL, INDEXED_VALUE_TYPE_DOUBLE } =
    temporal.api.enums.v1.IndexedValueType;
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(
      PRECIS_SEARCH_ATTRIBUTES.map((key) => [
        key.name,
        key.type === SearchAttributeType.BOOL
          ? INDEXED_VALUE_TYPE_BOOL
          : key.type === SearchAttributeType.DOUBLE
            ? INDEXED_VALUE_TYPE_DOUBLE
            : INDEXED_VALUE_TYPE_KEYWORD,
      ]),
    ),
  });
  config = isolatedConfig({
    TEMPORAL_ADDRESS: env.address,
    PRECIS_QUIET_PERIOD_MS: String(60 * SECOND),
    PRECIS_MAX_DELAY_MS: String(300 * SECOND),
  });
  const found = DashboardRegistry.fromDirectory(config.dashboardsDir).get('sre-checkout');
  if (!found) throw new Error('the demo dashboard sre-checkout must exist');
  // The timers under test are the configured ones, not the demo dashboard's own refresh settings.
  dashboard = { ...found, refresh: {} };
  redis = createRedis(config);
  store = new SummaryStore(redis, config.redis.keyPrefix, 100);
  worker = await buildPipelineWorker(config, pino({ level: 'error' }));
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await env?.teardown();
  if (config) await deleteRunTopics(config);
  if (redis) {
    await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
    redis.disconnect();
  }
});

const event = (eventId: string) => ({ eventId, occurredAt: new Date().toISOString() });

async function summariesMade(): Promise<number> {
  return (await client.workflow.getHandle(dashboardWorkflowId(config, dashboard.id)).query(stateQuery))
    .summariesMade;
}

describe('workflow timers on skipped time', () => {
  it('summarizes at the max delay counted from the first pending event, however steady the traffic', async () => {
    // An event every 50 s never leaves the 60 s quiet period; the max delay (300 s after the first) ends the wait.
    await signalDashboard(client, config, dashboard, [event('steady-0')]);
    for (let i = 1; i <= 5; i++) {
      await env.sleep(50 * SECOND);
      await signalDashboard(client, config, dashboard, [event(`steady-${i}`)]);
    }
    await env.sleep(40 * SECOND); // 290 s after the first event
    expect(await summariesMade()).toBe(0);
    await env.sleep(20 * SECOND); // 310 s
    expect(await summariesMade()).toBe(1);
    const handle = client.workflow.getHandle(dashboardWorkflowId(config, dashboard.id));
    await handle.result();
    const latest = await store.latest(dashboard.id);
    expect(latest?.eventCount).toBe(6);
    expect(latest?.eventIds).toEqual([
      'steady-0',
      'steady-1',
      'steady-2',
      'steady-3',
      'steady-4',
      'steady-5',
    ]);
  }, 120_000);

  it('summarizes once the quiet period passed after the latest event', async () => {
    const before = (await store.latest(dashboard.id))?.version ?? 0;
    await signalDashboard(client, config, dashboard, [event('quiet-1')]);
    await env.sleep(40 * SECOND);
    await signalDashboard(client, config, dashboard, [event('quiet-2')]);
    await env.sleep(50 * SECOND); // 50 s after the latest: still within its quiet period
    expect(await summariesMade()).toBe(0);
    const handle = client.workflow.getHandle(dashboardWorkflowId(config, dashboard.id));
    await handle.result(); // skips to the end of the quiet period, 60 s after quiet-2
    const latest = await store.latest(dashboard.id);
    expect(latest?.version).toBe(before + 1);
    expect(latest?.eventIds).toEqual(['quiet-1', 'quiet-2']);
  }, 120_000);
});

describe('retry backoff', () => {
  it('doubles from the initial delay up to the cap', () => {
    const retry = { initialMs: 10 * SECOND, maxMs: 60 * SECOND };
    expect([1, 2, 3, 4, 5, 50].map((n) => backoffMs(retry, n))).toEqual([
      10 * SECOND,
      20 * SECOND,
      40 * SECOND,
      60 * SECOND,
      60 * SECOND,
      60 * SECOND,
    ]);
  });
});
