/**
 * Collection on real engines: each widget is its own Temporal activity, a failing source costs only its widget
 * (with the reason in the summary), a transient failure is retried alone, collected data stays out of workflow
 * history (Redis holds it, with an expiry), and only an all-failed collection fails the run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { createRedis } from '../../src/clients';
import { DashboardRegistry } from '../../src/domain/registry';
import { dashboardWorkflowId, signalDashboard } from '../../src/ingest/starter';
import type { Service } from '../../src/process';
import { SummaryStore } from '../../src/store/summaries';
import { buildLlmWorker } from '../../workers/llm';
import { buildPipelineWorker } from '../../workers/pipeline';
import { deleteRunTopics, isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';

const requests: Record<string, number> = {};
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
    } else if (path === '/flaky' && requests[path] === 1) {
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
});

const config = () =>
  isolatedConfig({
    PRECIS_DASHBOARDS_DIR: dashboardsDir,
    PRECIS_HTTP_ALLOWED_HOSTS: '127.0.0.1',
    PRECIS_HTTP_ALLOWED_NETWORKS: '127.0.0.1/32',
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
    // markers) returned references to Redis, which expire.
    const history = await handle.fetchHistory();
    const results = (history.events ?? [])
      .map((event) => event.markerRecordedEventAttributes?.details?.result?.payloads?.[0]?.data)
      .filter((data): data is Uint8Array => data instanceof Uint8Array)
      .map((data) => JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>);
    const collected = results.filter((result) => 'ref' in result && 'points' in result);
    expect(collected).toHaveLength(3);
    for (const result of collected) {
      expect(Object.keys(result).sort()).toEqual(['points', 'ref', 'series', 'widgetId']);
      const ttl = await redis.ttl(`${settings.redis.keyPrefix}blob:${String(result.ref)}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(settings.sources.blobTtlSeconds);
    }
  });

  it('fails the run only when every widget failed', async () => {
    const registry = DashboardRegistry.fromDirectory(dashboardsDir);
    const broken = registry.get('broken');
    if (!broken) throw new Error('fixture missing');
    await signalDashboard(client, settings, broken, [
      { eventId: 'e2', occurredAt: new Date().toISOString() },
    ]);
    const handle = client.workflow.getHandle(dashboardWorkflowId(settings, 'broken'));
    const failure = await handle.result().then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(String((failure as WorkflowFailedError).cause?.message)).toMatch(
      /every widget failed to collect \(gone: .*404/,
    );
  });
});
