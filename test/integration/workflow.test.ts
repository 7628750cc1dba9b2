/**
 * The per-dashboard workflow on a real Temporal server: signal-with-start folds events into few runs, redelivered
 * event ids change nothing, and a retried store writes one version.
 */
import { Client, Connection } from '@temporalio/client';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { createRedis } from '../../src/clients';
import { DashboardRegistry } from '../../src/domain/registry';
import { dashboardWorkflowId, signalDashboard } from '../../src/ingest/starter';
import type { Service } from '../../src/process';
import { SummaryStore } from '../../src/store/summaries';
import { buildLlmWorker } from '../../workers/llm';
import { buildPipelineWorker } from '../../workers/pipeline';
import { DashboardIdKey } from '../../workflows/search-attributes';
import { deleteRunTopics, eventually, isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';

// A quiet period long enough that a burst sent in one go lands inside it.
const config = isolatedConfig({ PRECIS_QUIET_PERIOD_MS: '1500', PRECIS_MAX_DELAY_MS: '10000' });
const registry = DashboardRegistry.fromDirectory(config.dashboardsDir);
// social-listening has no refresh policy of its own, so the config's quiet period applies.
const dashboard = registry.get('social-listening');
let connection: Connection;
let client: Client;
let redis: Redis;
let store: SummaryStore;
let workers: Service[] = [];

beforeAll(async () => {
  connection = await Connection.connect({ address: config.temporal.address });
  client = new Client({ connection, namespace: config.temporal.namespace });
  redis = createRedis(config);
  store = new SummaryStore(redis, config.redis.keyPrefix, 100);
  workers = [
    await buildPipelineWorker(config, pino({ level: 'error' })),
    await buildLlmWorker(config, pino({ level: 'error' })),
  ];
});

afterAll(async () => {
  for (const worker of workers) await worker.close();
  await deleteRunTopics(config);
  await connection?.close();
  await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
  redis.disconnect();
});

const at = (i: number) => new Date(Date.UTC(2026, 10, 28, 10, 0, i)).toISOString();

describe('dashboard workflow', () => {
  it('folds a burst into one summary and ignores redelivered events', async () => {
    if (!dashboard) throw new Error('social-listening must exist');
    const ids = Array.from({ length: 30 }, (_, i) => `burst-${i}`);
    // 30 events in 10 separate calls, each redelivering the previous call's events too.
    for (let call = 0; call < 10; call++) {
      const slice = ids
        .slice(Math.max(0, call * 3 - 3), call * 3 + 3)
        .map((eventId, i) => ({ eventId, occurredAt: at(i) }));
      await signalDashboard(client, config, dashboard, slice);
    }
    const handle = client.workflow.getHandle(dashboardWorkflowId(config, 'social-listening'));
    const state = await handle.result();
    expect(state).toMatchObject({ summariesMade: 1, pending: 0, status: 'idle' });

    const history = await store.history('social-listening', 10);
    expect(history).toHaveLength(1);
    // Every distinct event counted once; the newest 20 ids kept, oldest first.
    expect(history[0]?.eventCount).toBe(30);
    expect(history[0]?.eventIds).toEqual(ids.slice(-20));

    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(DashboardIdKey)).toBe('social-listening');
  });

  it('starts a new run for the next change once the previous run completed', async () => {
    if (!dashboard) throw new Error('social-listening must exist');
    await signalDashboard(client, config, dashboard, [{ eventId: 'later-1', occurredAt: at(50) }]);
    const latest = await eventually('a second summary', async () => {
      const summary = await store.latest('social-listening');
      return summary?.eventIds.includes('later-1') ? summary : undefined;
    });
    expect(latest.version).toBe(2);
    expect(latest.eventIds).toEqual(['later-1']);
  });

  it('still summarizes steady traffic: the max delay caps the quiet period', async () => {
    if (!dashboard) throw new Error('social-listening must exist');
    // Events every 400 ms never leave a 1.5 s quiet period; the 10 s max delay has to end the wait.
    const steady = { ...dashboard, id: 'social-listening' };
    const started = Date.now();
    let n = 0;
    const timer = setInterval(() => {
      n++;
      void signalDashboard(client, config, steady, [{ eventId: `steady-${n}`, occurredAt: at(100 + n) }]);
    }, 400);
    try {
      const summary = await eventually(
        'a summary during steady traffic',
        async () => {
          const latest = await store.latest('social-listening');
          return latest?.eventIds.some((id) => id.startsWith('steady-')) ? latest : undefined;
        },
        30_000,
      );
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(9_000);
      expect(elapsed).toBeLessThan(16_000);
      expect(summary.eventIds.length).toBeGreaterThan(10);
    } finally {
      clearInterval(timer);
    }
  });
});
