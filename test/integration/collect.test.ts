/**
 * Collection on real engines: each widget is its own Temporal activity, a failing source costs only its widget
 * (with the reason in the summary), a transient failure is retried alone, collected data stays out of workflow
 * history (Redis holds it, with an expiry), and a dashboard whose every widget failed keeps its events and tries
 * again, visibly, until its sources recover.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { stateQuery } from '../../workflows/dashboard';
import { PrecisStatusKey } from '../../workflows/search-attributes';
import { deleteRunTopics, eventually, isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';

const requests: Record<string, number> = {};
/** While true, /recovering answers 503 like a source that is down. */
let recoveringIsDown = true;
let server: Server;
let dashboardsDir: string;

function hourlyPoints(base: number): { t: string; v: number }[] {
  const hour = 3_600_000;
  const now = Math.floor(Date.now() / hour) * hour;
  return Array.from({ length: 48 }, (_, i) => ({
    t: new Date(now - (47 - i) * hour).toISOString(),
    v: base + (i >= 24 ? 50 : 0),
  }));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '';
    requests[path] = (requests[path] ?? 0) + 1;
    if (path === '/missing') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such report"}');
    } else if ((path === '/flaky' && requests[path] === 1) || (path === '/recovering' && recoveringIsDown)) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"warming up"}');
    } else {
      const base = path === '/flaky' ? 200 : 100;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ data: { items: hourlyPoints(base) } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const http = (path: string) =>
    `{ type: http, url: "http://127.0.0.1:${port}${path}", mapping: { items: data.items, time: t, value: v } }`;
  dashboardsDir = mkdtempSync(join(tmpdir(), 'precis-dashboards-'));
  writeFileSync(
    join(dashboardsDir, 'mixed.yaml'),
    `id: mixed
title: Mixed sources
widgets:
  - { id: orders, title: Orders, comparisonWindow: 1d, resolution: 1h, source: ${http('/orders')} }
  - { id: flaky, title: Flaky feed, comparisonWindow: 1d, resolution: 1h, source: ${http('/flaky')} }
  - { id: gone, title: Gone report, comparisonWindow: 1d, resolution: 1h, source: ${http('/missing')} }
  - { id: pushed, title: Pushed numbers, source: { type: inline } }
  - { id: synthetic, title: Synthetic, source: { type: demo, seed: 5 } }
`,
  );
  writeFileSync(
    join(dashboardsDir, 'broken.yaml'),
    `id: broken
title: Broken
widgets:
  - { id: gone, title: Gone report, source: ${http('/missing')} }
`,
  );
  writeFileSync(
    join(dashboardsDir, 'outage.yaml'),
    `id: outage
title: Outage
widgets:
  - { id: orders, title: Orders, comparisonWindow: 1d, resolution: 1h, source: ${http('/recovering')} }
`,
  );
});

const config = () =>
  isolatedConfig({
    PRECIS_DASHBOARDS_DIR: dashboardsDir,
    PRECIS_HTTP_ALLOWED_HOSTS: '127.0.0.1',
    PRECIS_HTTP_ALLOWED_NETWORKS: '127.0.0.1/32',
    PRECIS_RUN_RETRY_INITIAL_MS: '500',
    PRECIS_RUN_RETRY_MAX_MS: '2000',
  });

describe('collection through Temporal', () => {
  let settings: ReturnType<typeof config>;
  let connection: Connection;
  let client: Client;
  let redis: Redis;
  let workers: Service[] = [];

  beforeAll(async () => {
    settings = config();
    connection = await Connection.connect({ address: settings.temporal.address });
    client = new Client({ connection, namespace: settings.temporal.namespace });
    redis = createRedis(settings);
    workers = [
      await buildPipelineWorker(settings, pino({ level: 'error' })),
      await buildLlmWorker(settings, pino({ level: 'error' })),
    ];
  });

  afterAll(async () => {
    for (const worker of workers) await worker.close();
    await deleteRunTopics(settings);
    await connection?.close();
    await deleteKeysWithPrefix(redis, settings.redis.keyPrefix);
    redis.disconnect();
    server.close();
    rmSync(dashboardsDir, { recursive: true, force: true });
  });

  it('summarizes what could be collected and says which widgets are missing and why', async () => {
    const registry = DashboardRegistry.fromDirectory(dashboardsDir);
    const mixed = registry.get('mixed');
    if (!mixed) throw new Error('fixture missing');
    await signalDashboard(client, settings, mixed, [{ eventId: 'e1', occurredAt: new Date().toISOString() }]);
    const handle = client.workflow.getHandle(dashboardWorkflowId(settings, 'mixed'));
    await handle.result();

    const store = new SummaryStore(redis, settings.redis.keyPrefix, 10);
    const summary = await store.latest('mixed');
    expect(summary?.insights.map((i) => i.widgetIds[0]).sort()).toEqual(['flaky', 'orders', 'synthetic']);
    expect(summary?.missingWidgets).toEqual([
      { widgetId: 'gone', reason: expect.stringMatching(/404/) },
      { widgetId: 'pushed', reason: expect.stringMatching(/no event of this run carried inline data/) },
    ]);
    expect(summary?.insights.find((i) => i.widgetIds[0] === 'orders')?.text).toMatch(
      /^Orders rose 50\.0% to 150/,
    );

    // The flaky source was retried alone: it was asked twice, the healthy one once, the 404 once (not retryable).
    expect(requests['/flaky']).toBe(2);
    expect(requests['/orders']).toBe(1);
    expect(requests['/missing']).toBe(1);

    // Collected data stayed out of history: the collect steps (local activities, whose results history keeps in
    // markers: `gather` for all widgets, `collectWidget` for the one collected again) returned references to Redis,
    // which expire.
    const history = await handle.fetchHistory();
    const results = (history.events ?? [])
      .map((event) => event.markerRecordedEventAttributes?.details?.result?.payloads?.[0]?.data)
      .filter((data): data is Uint8Array => data instanceof Uint8Array)
      .map((data) => JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>);
    const gathered = results.flatMap((result) =>
      Array.isArray(result.widgets) ? (result.widgets as Record<string, unknown>[]) : [],
    );
    const again = results.filter((result) => 'ref' in result && 'points' in result);
    expect(gathered.map((w) => w.widgetId).sort()).toEqual([
      'flaky',
      'gone',
      'orders',
      'pushed',
      'synthetic',
    ]);
    expect(again.map((w) => w.widgetId)).toEqual(['flaky']);
    const refs = [...gathered, ...again].filter((w) => 'ref' in w);
    expect(refs.map((w) => w.widgetId).sort()).toEqual(['flaky', 'orders', 'synthetic']);
    for (const result of refs) {
      expect(Object.keys(result).every((key) => ['points', 'ref', 'series', 'widgetId'].includes(key))).toBe(
        true,
      );
      const ttl = await redis.ttl(`${settings.redis.keyPrefix}blob:${String(result.ref)}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(settings.sources.blobTtlSeconds);
    }
  });

  it('keeps the events of a dashboard whose every widget failed and summarizes them once a source recovers', async () => {
    const registry = DashboardRegistry.fromDirectory(dashboardsDir);
    const outage = registry.get('outage');
    if (!outage) throw new Error('fixture missing');
    await signalDashboard(client, settings, outage, [
      { eventId: 'o-1', occurredAt: new Date().toISOString() },
      { eventId: 'o-2', occurredAt: new Date().toISOString() },
    ]);
    const handle = client.workflow.getHandle(dashboardWorkflowId(settings, 'outage'));
    // The attempt failed: the run stays open, says why, and shows it in the list of runs.
    const retrying = await eventually('the run to report its failed attempts', async () => {
      const state = await handle.query(stateQuery);
      return state.status === 'retrying' && (state.failure?.failedAttempts ?? 0) >= 2 ? state : undefined;
    });
    expect(retrying.pending).toBe(2);
    expect(retrying.failure?.reason).toMatch(/every widget failed to collect \(orders: .*503/);
    expect(Date.parse(retrying.failure?.nextAttemptAt ?? '')).not.toBeNaN();
    const described = await handle.describe();
    expect(described.status.name).toBe('RUNNING');
    expect(described.typedSearchAttributes.get(PrecisStatusKey)).toBe('retrying');

    // An event that arrives meanwhile joins the waiting ones.
    await signalDashboard(client, settings, outage, [
      { eventId: 'o-3', occurredAt: new Date().toISOString() },
    ]);
    recoveringIsDown = false;
    const result = await handle.result();
    expect(result.status).toBe('idle');
    expect(result.failure).toBeUndefined();
    const store = new SummaryStore(redis, settings.redis.keyPrefix, 10);
    const summaries = await store.history('outage', 10);
    expect(summaries.flatMap((s) => s.eventIds).sort()).toEqual(['o-1', 'o-2', 'o-3']);
    expect(summaries.reduce((total, s) => total + (s.eventCount ?? 0), 0)).toBe(3);
    expect((await handle.describe()).typedSearchAttributes.get(PrecisStatusKey)).toBe('idle');
  });
});
