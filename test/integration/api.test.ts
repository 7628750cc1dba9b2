import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../api/app';
import { createRedis } from '../../src/clients';
import { DashboardRegistry } from '../../src/domain/registry';
import type { SummaryDraft } from '../../src/domain/summary';
import { SummaryStore } from '../../src/store/summaries';
import { isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';

const config = isolatedConfig();
const registry = DashboardRegistry.fromDirectory(config.dashboardsDir);
let redis: Redis;
let store: SummaryStore;
let app: FastifyInstance;

beforeAll(async () => {
  redis = createRedis(config);
  store = new SummaryStore(redis, config.redis.keyPrefix, 10);
  app = buildApp({ config, registry, store, redis });
  const draft: SummaryDraft = {
    dashboardId: 'sre-checkout',
    generatedAt: '2026-11-28T10:00:00.000Z',
    dataAsOf: '2026-11-28T09:00:00.000Z',
    headline: 'Checkout service health: p99 latency rose 12.0%.',
    insights: [{ widgetIds: ['p99-latency'], severity: 'warning', text: 'p99 latency rose 12.0%.' }],
    anomalies: [],
    recommendations: [],
    missingWidgets: [],
    model: 'precis-local-extractive-v1',
    degraded: false,
    degradedReason: null,
    usage: { promptTokens: 0, completionTokens: 0, costUsd: 0 },
    cacheOutcome: 'none',
    inputHash: 'abc',
    eventIds: ['e1'],
    workflowId: 'precis-dashboard-sre-checkout',
    runId: 'run-1',
  };
  await store.put(draft, 'api-test');
});

afterAll(async () => {
  await app.close();
  await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
  redis.disconnect();
});

describe('read API', () => {
  it('serves the latest summary with a link to its Temporal run', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/dashboards/sre-checkout/summary' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      dashboardId: 'sre-checkout',
      version: 1,
      headline: 'Checkout service health: p99 latency rose 12.0%.',
      links: {
        temporalRun:
          'http://127.0.0.1:8233/namespaces/default/workflows/precis-dashboard-sre-checkout/run-1/history',
      },
    });
  });

  it('lists every known dashboard with its latest summary, or null', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/dashboards' });
    expect(response.statusCode).toBe(200);
    const { dashboards } = response.json() as {
      dashboards: { id: string; summary: { version: number } | null }[];
    };
    expect(dashboards.map((d) => d.id).sort()).toEqual([
      'marketing-funnel',
      'precis-platform',
      'social-listening',
      'sre-checkout',
    ]);
    expect(dashboards.find((d) => d.id === 'sre-checkout')?.summary?.version).toBe(1);
    expect(dashboards.find((d) => d.id === 'marketing-funnel')?.summary).toBeNull();
  });

  it.each([
    ['/v1/dashboards/bad%20id!/summary', 400, 'Invalid dashboard id'],
    ['/v1/dashboards/nope/summary', 404, 'Unknown dashboard'],
    ['/v1/dashboards/marketing-funnel/summary', 404, 'No summary yet'],
    ['/v1/nothing', 404, 'Not found'],
  ])('answers GET %s with %i problem+json', async (url, status, title) => {
    const response = await app.inject({ method: 'GET', url });
    expect(response.statusCode).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ status, title, instance: url });
  });

  it('reports health and readiness', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
  });

  it('answers 503 with Retry-After and no internals when Redis is unreachable', async () => {
    // A real client aimed at a port where nothing listens.
    const deadRedis = new Redis({
      host: '127.0.0.1',
      port: 1,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    const deadApp = buildApp({
      config,
      registry,
      store: new SummaryStore(deadRedis, 'x:', 10),
      redis: deadRedis,
    });
    try {
      for (const url of ['/readyz', '/v1/dashboards/sre-checkout/summary']) {
        const response = await deadApp.inject({ method: 'GET', url });
        expect(response.statusCode).toBe(503);
        expect(response.headers['retry-after']).toBe('5');
        expect(response.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|at .*\.ts/);
      }
    } finally {
      await deadApp.close();
      deadRedis.disconnect();
    }
  });
});
