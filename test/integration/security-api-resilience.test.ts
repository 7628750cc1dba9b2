/**
 * The API on data and engines it cannot fully trust, on real Redis, Kafka and Temporal:
 * - stored summaries of an older or odd shape (written raw into Redis, as a schema change would leave them) are
 *   served, migrated or labelled degraded, never a 500, and logged once per dashboard and version;
 * - with Redis gone (a redis-server of our own, killed), every read route answers 503 problem+json with
 *   Retry-After, never wrong data and never a 500.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { buildApp } from '../../api/app';
import { apiKeyDigest } from '../../api/auth';
import { type ApiResources, createApiDeps } from '../../api/deps';
import type { Config } from '../../src/config';
import { SummaryStore } from '../../src/store/summaries';
import { deleteRunTopics, eventually, isolatedConfig } from '../support/config';
import { freePort } from '../support/net';
import { deleteKeysWithPrefix } from '../support/redis';
import { summaryDraft } from '../support/summaries';

const key = `pk_${randomBytes(24).toString('base64url')}`;
const KEYS = JSON.stringify([{ id: 'all', sha256: apiKeyDigest(key), scopes: ['read', 'refresh'] }]);
const auth = { authorization: `Bearer ${key}` };
const opened: { app: FastifyInstance; resources: ApiResources }[] = [];

/** Every log line the app writes, parsed. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

async function appFor(config: Config, logger = pino({ level: 'silent' })): Promise<FastifyInstance> {
  const resources = createApiDeps(config, logger);
  const app = buildApp(resources.deps);
  opened.push({ app, resources });
  await app.ready();
  return app;
}

afterAll(async () => {
  for (const { app, resources } of opened) {
    await app.close();
    await resources.close();
  }
});

const draft = (dashboardId: string) => summaryDraft(dashboardId);

describe('stored summaries the current schema does not accept', () => {
  const config = isolatedConfig({ PRECIS_API_KEYS: KEYS, PRECIS_API_SUMMARY_CACHE_MS: '0' });
  const prefix = config.redis.keyPrefix;
  let redis: Redis;
  let app: FastifyInstance;
  let lines: Record<string, unknown>[];

  beforeAll(async () => {
    redis = new Redis(config.redis.url);
    const captured = capturedLogger();
    lines = captured.lines;
    app = await appFor(config, captured.logger);
  });

  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
    await deleteRunTopics(config);
  });

  /** Writes a document as the latest summary and as the only history entry, bypassing the store's writer. */
  async function storeRaw(dashboardId: string, document: string, freshness?: string): Promise<void> {
    await redis.set(`${prefix}summary:${dashboardId}:latest`, document);
    await redis.del(`${prefix}summary:${dashboardId}:history`);
    await redis.lpush(`${prefix}summary:${dashboardId}:history`, document);
    if (freshness !== undefined) await redis.set(`${prefix}summary:${dashboardId}:freshness`, freshness);
  }

  const read = (path: string) => app.inject({ url: path, headers: auth });

  it('migrates a summary of an older shape (fields added since are missing), without a degraded label', async () => {
    const {
      missingWidgets: _m,
      eventIds: _e,
      cacheOutcome: _c,
      inputHash: _i,
      ...older
    } = draft('sre-checkout');
    await storeRaw('sre-checkout', `{"version":4,${JSON.stringify(older).slice(1)}`);
    const response = await read('/v1/dashboards/sre-checkout/summary');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      version: 4,
      headline: 'Checkout is healthy.',
      degraded: false,
      missingWidgets: [],
      eventIds: [],
      cacheOutcome: 'none',
    });
  });

  it('serves an odd shape as degraded, naming what it could not read, on every read route; logs it once', async () => {
    const odd = {
      ...draft('marketing-funnel'),
      headline: 42,
      usage: 'free',
      insights: [
        { widgetIds: ['w'], severity: 'info', text: 'kept' },
        { widget: 'w', level: 'loud' },
      ],
      model: { name: 'gpt' },
    };
    await storeRaw('marketing-funnel', `{"version":7,${JSON.stringify(odd).slice(1)}`, '{"version":"seven"}');
    for (let i = 0; i < 3; i++) {
      const response = await read('/v1/dashboards/marketing-funnel/summary');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({
        version: 7,
        degraded: true,
        degradedReason: expect.stringMatching(/headline.*insights\[1\].*model.*usage/),
        insights: [{ text: 'kept' }],
        model: 'unknown',
      });
    }
    const history = await read('/v1/dashboards/marketing-funnel/summaries');
    expect(history.statusCode).toBe(200);
    expect(history.json().summaries).toMatchObject([{ version: 7, degraded: true }]);
    const list = await read('/v1/dashboards');
    expect(list.statusCode).toBe(200);
    expect(
      list.json().dashboards.find((d: { id: string }) => d.id === 'marketing-funnel').summary,
    ).toMatchObject({
      version: 7,
      degraded: true,
    });
    const reports = lines.filter((line) => line.dashboardId === 'marketing-funnel' && line.version === 7);
    // Once for the summary, once for its freshness record: not once per read.
    expect(reports.filter((line) => (line.unreadable as string[]).includes('headline'))).toHaveLength(1);
    expect(reports.length).toBeLessThanOrEqual(2);
  });

  it('serves a document that is not even JSON as a labelled placeholder, not a 500', async () => {
    await storeRaw('social-listening', '{"version":3,"headline":"cut off');
    const response = await read('/v1/dashboards/social-listening/summary');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      dashboardId: 'social-listening',
      version: 3,
      degraded: true,
      stale: true,
      headline: expect.stringMatching(/cannot read/),
    });
    expect((await read('/v1/dashboards/social-listening/summaries')).statusCode).toBe(200);
  });

  it('streams a degraded summary instead of ending the stream', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const controller = new AbortController();
    const response = await fetch(`${address}/v1/dashboards/social-listening/stream`, {
      headers: auth,
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('event: summary')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value ?? new Uint8Array()).toString();
    }
    controller.abort();
    expect(text).toMatch(/id: 3\nevent: summary\ndata: \{.*"degraded":true/);
  });
});

describe('with Redis gone', () => {
  let server: ChildProcess;
  let config: Config & { runId: string };

  beforeAll(async () => {
    const port = await freePort();
    server = spawn(
      'redis-server',
      ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    config = isolatedConfig({
      PRECIS_API_KEYS: KEYS,
      PRECIS_REDIS_URL: `redis://127.0.0.1:${port}`,
      PRECIS_API_SUMMARY_CACHE_MS: '0',
      PRECIS_API_DEPENDENCY_TIMEOUT_MS: '1000',
    });
    const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1 });
    await eventually('our redis-server', async () => ((await redis.ping()) === 'PONG' ? true : undefined));
    await new SummaryStore(redis, config.redis.keyPrefix, 10).put(draft('sre-checkout'), randomUUID());
    redis.disconnect();
  });

  afterAll(async () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    await deleteRunTopics(config);
  });

  it('answers 503 problem+json with Retry-After on every read route', async () => {
    const app = await appFor(config);
    const routes = [
      '/v1/dashboards',
      '/v1/dashboards/sre-checkout/summary',
      '/v1/dashboards/sre-checkout/summaries',
      '/v1/dashboards/sre-checkout/stream',
      `/v1/workflows/${config.temporal.workflowIdPrefix}sre-checkout`,
    ];
    const before = await app.inject({ url: routes[1] as string, headers: auth });
    expect(before.statusCode).toBe(200);

    server.kill('SIGKILL');
    await new Promise((resolve) => server.once('exit', resolve));
    // Past the rate limiter's lease (0.5 s): every request needs Redis again.
    await new Promise((resolve) => setTimeout(resolve, 600));
    for (const url of routes) {
      const response = await app.inject({ url, headers: auth });
      expect({ url, status: response.statusCode }).toEqual({ url, status: 503 });
      expect(response.headers['retry-after']).toBe('5');
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body).not.toMatch(/Checkout is healthy|ECONNREFUSED|127\.0\.0\.1/);
    }
    const refresh = await app.inject({
      method: 'POST',
      url: '/v1/dashboards/sre-checkout/refresh',
      headers: auth,
    });
    expect(refresh.statusCode).toBe(503);
    expect(refresh.headers['retry-after']).toBe('5');
  });
});
