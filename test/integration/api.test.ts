/**
 * The read API through `inject`, on real Redis, Kafka and Temporal: every route's 2xx and 4xx paths, caching and
 * 304s, API keys and scopes, the shared rate limit, the refresh event on Kafka, readiness and the OpenAPI document.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Consumer, KafkaMessage } from 'kafkajs';
import pino from 'pino';
import { buildApp } from '../../api/app';
import { apiKeyDigest } from '../../api/auth';
import type { AppDeps } from '../../api/context';
import { type ApiResources, createApiDeps } from '../../api/deps';
import { RateLimiter } from '../../api/rate-limit';
import { renderSettings } from '../../api/summary-render';
import { SummaryViews } from '../../api/summary-views';
import { createKafka, ensureTopics } from '../../src/clients';
import type { Config } from '../../src/config';
import { dashboardEventSchema } from '../../src/domain/event';
import type { SummaryDraft } from '../../src/domain/summary';
import { dashboardWorkflowId, signalDashboard } from '../../src/ingest/starter';
import { SummaryStore } from '../../src/store/summaries';
import { deleteRunTopics, eventually, isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';
import { summaryDraft } from '../support/summaries';

const readKey = `pk_${randomBytes(24).toString('base64url')}`;
const refreshKey = `pk_${randomBytes(24).toString('base64url')}`;
const adminKey = `pk_${randomBytes(24).toString('base64url')}`;
const KEYS = JSON.stringify([
  { id: 'reader', sha256: apiKeyDigest(readKey), scopes: ['read'] },
  { id: 'refresher', sha256: apiKeyDigest(refreshKey), scopes: ['refresh'] },
  { id: 'admin', sha256: apiKeyDigest(adminKey).toUpperCase(), scopes: ['read', 'refresh', 'metrics'] },
]);

const base = isolatedConfig({ PRECIS_API_KEYS: KEYS });
/** Same Redis prefix, topics and task queues as `base`, with other settings. */
function configWith(env: NodeJS.ProcessEnv): Config {
  return isolatedConfig({
    PRECIS_REDIS_PREFIX: base.redis.keyPrefix,
    PRECIS_TOPIC_EVENTS: base.kafka.eventsTopic,
    PRECIS_TOPIC_DLQ: base.kafka.deadLetterTopic,
    PRECIS_TOPIC_SUMMARIES: base.kafka.summariesTopic,
    PRECIS_TASK_QUEUE: base.temporal.taskQueue,
    PRECIS_LLM_TASK_QUEUE: base.llm.taskQueue,
    PRECIS_WORKFLOW_ID_PREFIX: base.temporal.workflowIdPrefix,
    PRECIS_API_KEYS: KEYS,
    ...env,
  });
}

const silent = pino({ level: 'silent' });
const opened: { app: FastifyInstance; resources: ApiResources }[] = [];

/** A real app on real clients; `override` swaps some of them (a dead Redis, say). */
function appFor(config: Config, override: Partial<AppDeps> = {}, logger = silent): FastifyInstance {
  const resources = createApiDeps(config, logger);
  const app = buildApp({ ...resources.deps, ...override });
  opened.push({ app, resources });
  return app;
}

// A long in-memory cache: any new version seen at once proves the pub/sub eviction.
const config = configWith({ PRECIS_API_SUMMARY_CACHE_MS: '60000' });
let app: FastifyInstance;
let redis: Redis;
let store: SummaryStore;

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
/** Three hours ago: older than the default staleness age of one hour. */
const LONG_AGO = new Date(Date.now() - 3 * 3_600_000).toISOString();

function draft(dashboardId: string, overrides: Partial<SummaryDraft> = {}): SummaryDraft {
  return summaryDraft(dashboardId, {
    dataAsOf: '2026-11-28T09:00:00.000Z',
    headline: 'Checkout service health: p99 latency rose 12.0%.',
    insights: [{ widgetIds: ['p99-latency'], severity: 'warning', text: 'p99 latency rose 12.0%.' }],
    usage: { promptTokens: 120, completionTokens: 40, costUsd: 0.0012 },
    inputHash: 'abc',
    workflowId: `${config.temporal.workflowIdPrefix}${dashboardId}`,
    runId: 'run-1',
    ...overrides,
  });
}

async function put(dashboardId: string, overrides: Partial<SummaryDraft> = {}): Promise<number> {
  return (await store.put(draft(dashboardId, overrides), randomUUID())).summary.version;
}

beforeAll(async () => {
  redis = new Redis(config.redis.url);
  store = new SummaryStore(redis, config.redis.keyPrefix, 50);
  app = appFor(config);
  await put('sre-checkout', { generatedAt: LONG_AGO });
  await app.ready();
});

afterAll(async () => {
  for (const { app: each, resources } of opened) {
    await each.close();
    await resources.close();
  }
  await deleteRunTopics(base);
  await deleteKeysWithPrefix(redis, base.redis.keyPrefix);
  redis.disconnect();
});

describe('GET /v1/dashboards/{id}/summary', () => {
  it('serves the latest summary with freshness, cost, staleness and the link to its Temporal run', async () => {
    const response = await app.inject({ url: '/v1/dashboards/sre-checkout/summary', headers: auth(readKey) });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['cache-control']).toBe('private, max-age=5, must-revalidate');
    expect(response.headers.etag).toMatch(/^"1-[0-9a-z]+(-s)?"$/);
    expect(response.json()).toMatchObject({
      dashboardId: 'sre-checkout',
      version: 1,
      headline: 'Checkout service health: p99 latency rose 12.0%.',
      checkedAt: LONG_AGO,
      usage: { promptTokens: 120, completionTokens: 40, costUsd: 0.0012 },
      links: {
        temporalRun: `http://127.0.0.1:8233/namespaces/default/workflows/${config.temporal.workflowIdPrefix}sre-checkout/run-1/history`,
      },
    });
    // Generated long ago and never checked since: older than the 1 h staleness age.
    expect(response.json().stale).toBe(true);
    expect(response.json()).not.toHaveProperty('reusedBecause');
  });

  it('answers 304 to If-None-Match with the current ETag (also weak or in a list), 200 otherwise', async () => {
    const first = await app.inject({ url: '/v1/dashboards/sre-checkout/summary', headers: auth(readKey) });
    const etag = String(first.headers.etag);
    for (const ifNoneMatch of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const again = await app.inject({
        url: '/v1/dashboards/sre-checkout/summary',
        headers: { ...auth(readKey), 'if-none-match': ifNoneMatch },
      });
      expect(again.statusCode).toBe(304);
      expect(again.body).toBe('');
      expect(again.headers.etag).toBe(etag);
    }
    const other = await app.inject({
      url: '/v1/dashboards/sre-checkout/summary',
      headers: { ...auth(readKey), 'if-none-match': '"0-0"' },
    });
    expect(other.statusCode).toBe(200);
  });

  it('serves a newly stored version at once, though the process caches summaries for a minute', async () => {
    const before = await app.inject({
      url: '/v1/dashboards/precis-platform/summary',
      headers: auth(readKey),
    });
    expect(before.statusCode).toBe(404);
    const version = await put('precis-platform', { headline: 'First.' });
    const first = await eventually('the first summary', async () => {
      const response = await app.inject({
        url: '/v1/dashboards/precis-platform/summary',
        headers: auth(readKey),
      });
      return response.statusCode === 200 ? response : undefined;
    });
    expect(first.json()).toMatchObject({ version, headline: 'First.', stale: false });
    const next = await put('precis-platform', { headline: 'Second.' });
    const second = await eventually(
      'the second summary',
      async () => {
        const response = await app.inject({
          url: '/v1/dashboards/precis-platform/summary',
          headers: auth(readKey),
        });
        return response.json().version === next ? response : undefined;
      },
      2000,
      20,
    );
    expect(second.json().headline).toBe('Second.');
    expect(second.headers.etag).not.toBe(first.headers.etag);
  });

  it('merges freshness (dataAsOf, checkedAt, reusedBecause) and changes the ETag with it', async () => {
    const fresh = appFor(configWith({ PRECIS_API_SUMMARY_CACHE_MS: '0' }));
    const version = await put('social-listening', {
      generatedAt: new Date(Date.now() - 7_200_000).toISOString(),
    });
    const stale = await fresh.inject({
      url: '/v1/dashboards/social-listening/summary',
      headers: auth(readKey),
    });
    expect(stale.json()).toMatchObject({ version, stale: true });
    const checkedAt = new Date().toISOString();
    await store.touch('social-listening', {
      version,
      checkedAt,
      dataAsOf: '2026-11-29T00:00:00.000Z',
      cause: 'immaterial',
      eventIds: ['e2'],
    });
    const touched = await fresh.inject({
      url: '/v1/dashboards/social-listening/summary',
      headers: auth(readKey),
    });
    expect(touched.json()).toMatchObject({
      version,
      checkedAt,
      dataAsOf: '2026-11-29T00:00:00.000Z',
      reusedBecause: 'immaterial',
      stale: false,
    });
    expect(touched.headers.etag).not.toBe(stale.headers.etag);
    const revalidated = await fresh.inject({
      url: '/v1/dashboards/social-listening/summary',
      headers: { ...auth(readKey), 'if-none-match': String(stale.headers.etag) },
    });
    expect(revalidated.statusCode).toBe(200);
  });

  it('reports a summary marked stale by its writer as stale, however recently checked', async () => {
    const fresh = appFor(configWith({ PRECIS_API_SUMMARY_CACHE_MS: '0' }));
    const marked = { ...draft('social-listening'), stale: true };
    await store.put(marked, randomUUID());
    const response = await fresh.inject({
      url: '/v1/dashboards/social-listening/summary',
      headers: auth(readKey),
    });
    expect(response.json()).toMatchObject({ stale: true });
  });

  it.each([
    ['/v1/dashboards/bad%20id!/summary', 400, 'Invalid path parameter', /^id: /],
    [`/v1/dashboards/${'x'.repeat(129)}/summary`, 400, 'Invalid path parameter', /^id: /],
    ['/v1/dashboards/%E0%A4%A/summary', 400, 'Bad request', /./],
    ['/v1/dashboards/nope/summary', 404, 'Unknown dashboard', /nope/],
    ['/v1/dashboards/marketing-funnel/summary', 404, 'No summary yet', /marketing-funnel/],
    ['/v1/nothing', 404, 'Not found', /nothing/],
  ])('answers GET %s with %i problem+json', async (url, status, title, detail) => {
    const response = await app.inject({ url, headers: auth(readKey) });
    expect(response.statusCode).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ status, title, instance: url });
    expect(response.json().detail).toMatch(detail);
  });
});

describe('GET /v1/dashboards', () => {
  it('lists every dashboard with the status of its latest summary, or null', async () => {
    const response = await app.inject({ url: '/v1/dashboards', headers: auth(readKey) });
    expect(response.statusCode).toBe(200);
    const { dashboards } = response.json() as {
      dashboards: { id: string; title: string; summary: Record<string, unknown> | null; links: object }[];
    };
    expect(dashboards.map((d) => d.id).sort()).toEqual([
      'marketing-funnel',
      'precis-platform',
      'social-listening',
      'sre-checkout',
    ]);
    const sre = dashboards.find((d) => d.id === 'sre-checkout');
    expect(sre?.summary).toEqual({
      version: 1,
      generatedAt: LONG_AGO,
      checkedAt: LONG_AGO,
      headline: 'Checkout service health: p99 latency rose 12.0%.',
      degraded: false,
      model: 'precis-local-extractive-v1',
      stale: true,
    });
    expect(sre?.links).toEqual({
      summary: '/v1/dashboards/sre-checkout/summary',
      history: '/v1/dashboards/sre-checkout/summaries',
      stream: '/v1/dashboards/sre-checkout/stream',
    });
    expect(dashboards.find((d) => d.id === 'marketing-funnel')?.summary).toBeNull();
  });

  it('reads every dashboard in one Redis round trip', async () => {
    const cold = appFor(configWith({ PRECIS_API_SUMMARY_CACHE_MS: '0' }));
    await cold.ready();
    const monitor = await redis.monitor();
    const commands: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((arg) => arg.startsWith(config.redis.keyPrefix)))
        commands.push(String(args[0]).toLowerCase());
    });
    try {
      const response = await cold.inject({ url: '/v1/dashboards', headers: auth(readKey) });
      expect(response.statusCode).toBe(200);
      await eventually(
        'the MGET in the monitor',
        async () => (commands.includes('mget') ? true : undefined),
        2000,
        20,
      );
      expect(commands.filter((command) => command === 'mget')).toHaveLength(1);
      expect(commands).not.toContain('get');
    } finally {
      monitor.disconnect();
    }
  });
});

describe('GET /v1/dashboards/{id}/summaries', () => {
  beforeAll(async () => {
    // versions 1..7 of a dashboard of its own
    for (let i = 1; i <= 7; i++) await put('marketing-funnel', { headline: `Version ${i}.` });
  });

  afterAll(async () => {
    await redis.del(
      ...['latest', 'history', 'version', 'freshness'].map(
        (p) => `${config.redis.keyPrefix}summary:marketing-funnel:${p}`,
      ),
    );
  });

  it('pages through the history newest first with a next cursor', async () => {
    const versions: number[] = [];
    let url: string | null = '/v1/dashboards/marketing-funnel/summaries?limit=3';
    while (url !== null) {
      const response = await app.inject({ url, headers: auth(readKey) });
      expect(response.statusCode).toBe(200);
      const page = response.json() as {
        summaries: { version: number; headline: string; links: { temporalRun: string } }[];
        next: number | null;
        links: { next: string | null };
      };
      expect(page.summaries.length).toBeLessThanOrEqual(3);
      for (const summary of page.summaries) expect(summary.headline).toBe(`Version ${summary.version}.`);
      versions.push(...page.summaries.map((s) => s.version));
      expect(page.next).toBe(page.links.next === null ? null : page.summaries.at(-1)?.version);
      url = page.links.next;
    }
    expect(versions).toEqual([7, 6, 5, 4, 3, 2, 1]);
  });

  it('returns only versions lower than `before`, 20 by default', async () => {
    const response = await app.inject({
      url: '/v1/dashboards/marketing-funnel/summaries?before=5',
      headers: auth(readKey),
    });
    expect(response.json().summaries.map((s: { version: number }) => s.version)).toEqual([4, 3, 2, 1]);
    expect(response.json().next).toBeNull();
    const all = await app.inject({
      url: '/v1/dashboards/marketing-funnel/summaries',
      headers: auth(readKey),
    });
    expect(all.json().summaries).toHaveLength(7);
    const none = await app.inject({
      url: '/v1/dashboards/precis-platform/summaries?before=1',
      headers: auth(readKey),
    });
    expect(none.json()).toMatchObject({ summaries: [], next: null });
  });

  it.each([
    ['limit=0', /^limit: /],
    ['limit=101', /^limit: /],
    ['limit=abc', /^limit: /],
    ['limit=1&limit=2', /^limit: /],
    ['before=-3', /^before: /],
    ['before=1.5', /^before: /],
  ])('answers ?%s with 400 naming the parameter', async (query, detail) => {
    const response = await app.inject({
      url: `/v1/dashboards/marketing-funnel/summaries?${query}`,
      headers: auth(readKey),
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ title: 'Invalid query parameter' });
    expect(response.json().detail).toMatch(detail);
  });

  it('answers 404 for an unknown dashboard', async () => {
    const response = await app.inject({ url: '/v1/dashboards/nope/summaries', headers: auth(readKey) });
    expect(response.statusCode).toBe(404);
  });
});

describe('POST /v1/dashboards/{id}/refresh', () => {
  let consumer: Consumer;
  const received: KafkaMessage[] = [];

  beforeAll(async () => {
    const kafka = createKafka(config, 'api-test', silent);
    await ensureTopics(kafka, config, [config.kafka.eventsTopic]);
    consumer = kafka.consumer({ groupId: `${base.runId}-api-test` });
    await consumer.connect();
    await consumer.subscribe({ topic: config.kafka.eventsTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push(message);
      },
    });
  });

  afterAll(async () => {
    await consumer.disconnect();
  });

  it('publishes a valid refresh event keyed by the dashboard id and answers 202 with links', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/dashboards/sre-checkout/refresh',
      headers: auth(refreshKey),
    });
    expect(response.statusCode).toBe(202);
    const workflowId = `${config.temporal.workflowIdPrefix}sre-checkout`;
    const body = response.json();
    expect(body).toEqual({
      eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      type: 'dashboard.refresh_requested',
      workflowId,
      links: {
        summary: '/v1/dashboards/sre-checkout/summary',
        stream: '/v1/dashboards/sre-checkout/stream',
        workflow: `/v1/workflows/${workflowId}`,
        temporalRun: `http://127.0.0.1:8233/namespaces/default/workflows/${workflowId}`,
      },
    });
    expect(response.headers.location).toBe(`/v1/workflows/${workflowId}`);

    const message = await eventually(
      'the refresh event on the events topic',
      async () => received.find((m) => m.value?.toString().includes(body.eventId)),
      30_000,
    );
    expect(message.key?.toString()).toBe('sre-checkout');
    const event = dashboardEventSchema.parse(JSON.parse(String(message.value)));
    expect(event).toMatchObject({
      schemaVersion: 1,
      eventId: body.eventId,
      type: 'dashboard.refresh_requested',
      dashboardId: 'sre-checkout',
    });
    expect(Math.abs(Date.parse(event.occurredAt) - Date.now())).toBeLessThan(60_000);
  });

  it.each([
    ['/v1/dashboards/nope/refresh', 404],
    ['/v1/dashboards/bad!/refresh', 400],
  ])('answers POST %s with %i', async (url, status) => {
    const response = await app.inject({ method: 'POST', url, headers: auth(refreshKey) });
    expect(response.statusCode).toBe(status);
  });

  it('refuses a body over the limit with 413', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/dashboards/sre-checkout/refresh',
      headers: { ...auth(refreshKey), 'content-type': 'application/json' },
      payload: JSON.stringify({ pad: 'x'.repeat(20_000) }),
    });
    expect(response.statusCode).toBe(413);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('answers 503 with Retry-After when Kafka cannot be reached', async () => {
    const deadKafka = createKafka(configWith({ PRECIS_KAFKA_BROKERS: '127.0.0.1:1' }), 'dead', silent);
    const producer = deadKafka.producer({ retry: { retries: 0 } });
    const offline = appFor(configWith({ PRECIS_API_DEPENDENCY_TIMEOUT_MS: '500' }), { producer });
    const response = await offline.inject({
      method: 'POST',
      url: '/v1/dashboards/sre-checkout/refresh',
      headers: auth(refreshKey),
    });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.json().detail).toMatch(/Kafka/);
    await producer.disconnect().catch(() => undefined);
  });
});

describe('GET /v1/workflows/{workflowId}', () => {
  const workflowId = dashboardWorkflowId(config, 'precis-platform');

  beforeAll(async () => {
    // Started without a worker on its task queue: it stays RUNNING, with its search attribute set.
    const dashboard = opened[0]?.resources.deps.registry.get('precis-platform');
    const temporal = opened[0]?.resources.deps.temporal;
    if (!dashboard || !temporal) throw new Error('the app must exist');
    await signalDashboard(temporal, config, dashboard, [
      { eventId: 'wf-1', occurredAt: new Date().toISOString() },
    ]);
  });

  afterAll(async () => {
    await opened[0]?.resources.deps.temporal.workflow.getHandle(workflowId).terminate('test over');
  });

  it('reports the run from Temporal with its search attributes', async () => {
    const response = await app.inject({ url: `/v1/workflows/${workflowId}`, headers: auth(readKey) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      workflowId,
      runId: expect.any(String),
      type: 'dashboardWorkflow',
      status: 'RUNNING',
      taskQueue: config.temporal.taskQueue,
      closeTime: null,
      // No summary made yet (no worker): the latest summary's attributes are absent.
      searchAttributes: { DashboardId: 'precis-platform', PrecisOutcome: null, PrecisHeadline: null },
    });
    expect(Date.parse(response.json().startTime)).toBeGreaterThan(Date.now() - 120_000);
    expect(response.json().links.temporalRun).toContain(`/workflows/${workflowId}/`);
  });

  it.each([
    [`${config.temporal.workflowIdPrefix}sre-checkout`, 404],
    ['someone-elses-workflow', 400],
    [`${config.temporal.workflowIdPrefix}bad!id`, 400],
  ])('answers %s with %i', async (id, status) => {
    const response = await app.inject({
      url: `/v1/workflows/${encodeURIComponent(id)}`,
      headers: auth(readKey),
    });
    expect(response.statusCode).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('answers 503 with Retry-After when Temporal cannot be reached', async () => {
    const unreachable = createApiDeps(configWith({ TEMPORAL_ADDRESS: '127.0.0.1:1' }), silent);
    const offline = appFor(configWith({ PRECIS_API_DEPENDENCY_TIMEOUT_MS: '500' }), {
      temporal: unreachable.deps.temporal,
    });
    try {
      const started = Date.now();
      const response = await offline.inject({ url: `/v1/workflows/${workflowId}`, headers: auth(readKey) });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.json().detail).toMatch(/Temporal/);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await unreachable.close();
    }
  });
});

describe('the rendered-summary cache', () => {
  it('reloads a busy dashboard in the background before its TTL ends, never serving past it', async () => {
    const ttlMs = 1000;
    let now = Date.now();
    const reads = jest.spyOn(store, 'latestDocuments');
    const views = new SummaryViews(store, renderSettings(config), ttlMs, () => now);
    try {
      const first = await put('views-cache');
      expect((await views.get('views-cache'))?.view.version).toBe(first);
      expect(reads).toHaveBeenCalledTimes(1);
      now += ttlMs / 2;
      expect(views.peek('views-cache')?.view.version).toBe(first);
      expect(reads).toHaveBeenCalledTimes(1);
      // A newer version, not announced: the last quarter's read still answers from memory and reloads.
      const second = await put('views-cache');
      now += ttlMs * 0.3;
      expect(views.peek('views-cache')?.view.version).toBe(first);
      expect(reads).toHaveBeenCalledTimes(2);
      await reads.mock.results[1]?.value;
      expect(views.peek('views-cache')?.view.version).toBe(second);
      // Past the first TTL the reloaded entry serves without waiting for Redis.
      now += ttlMs * 0.3;
      expect(views.peek('views-cache')?.view.version).toBe(second);
      expect(reads).toHaveBeenCalledTimes(2);
      // Nobody read it in its last quarter: past its TTL it is gone, and the next read waits for Redis.
      now += ttlMs * 2;
      expect(views.peek('views-cache')).toBeUndefined();
    } finally {
      reads.mockRestore();
    }
  });
});

describe('API keys, scopes and rate limits', () => {
  it('answers 401 with WWW-Authenticate without a valid key', async () => {
    for (const headers of [
      {},
      auth('pk_wrong'),
      { authorization: 'Basic abc' },
      { 'x-api-key': 'pk_wrong' },
    ]) {
      const response = await app.inject({ url: '/v1/dashboards', headers });
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('accepts the key as a bearer token or in x-api-key', async () => {
    expect((await app.inject({ url: '/v1/dashboards', headers: { 'x-api-key': readKey } })).statusCode).toBe(
      200,
    );
    expect(
      (await app.inject({ url: '/v1/dashboards', headers: { authorization: `bearer ${adminKey}` } }))
        .statusCode,
    ).toBe(200);
  });

  it('answers 403 when the key lacks the scope', async () => {
    const read = await app.inject({ url: '/v1/dashboards', headers: auth(refreshKey) });
    expect(read.statusCode).toBe(403);
    expect(read.json().detail).toMatch(/"read"/);
    const refresh = await app.inject({
      method: 'POST',
      url: '/v1/dashboards/sre-checkout/refresh',
      headers: auth(readKey),
    });
    expect(refresh.statusCode).toBe(403);
    expect(refresh.json().detail).toMatch(/"refresh"/);
  });

  it('leaves health, readiness, metrics and the API description open', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']) {
      expect((await app.inject({ url })).statusCode).toBe(200);
    }
  });

  it('protects /metrics with the metrics scope when asked to', async () => {
    const guarded = appFor(configWith({ PRECIS_API_METRICS_AUTH: 'key' }));
    expect((await guarded.inject({ url: '/metrics' })).statusCode).toBe(401);
    expect((await guarded.inject({ url: '/metrics', headers: auth(readKey) })).statusCode).toBe(403);
    expect((await guarded.inject({ url: '/metrics', headers: auth(adminKey) })).statusCode).toBe(200);
  });

  it('refuses to build without keys unless auth is disabled explicitly', async () => {
    const keyless = createApiDeps(isolatedConfig(), silent);
    try {
      expect(() => buildApp(keyless.deps)).toThrow(/PRECIS_API_KEYS/);
    } finally {
      await keyless.close();
    }
    const open = appFor(configWith({ PRECIS_API_KEYS: '', PRECIS_API_AUTH: 'disabled' }));
    expect((await open.inject({ url: '/v1/dashboards' })).statusCode).toBe(200);
  });

  it('limits each key across API processes sharing Redis, with 429 and Retry-After', async () => {
    // Far from a minute boundary, so that the sliding window's previous minute plays no part.
    const [seconds] = await redis.time();
    if (Number(seconds) % 60 > 50) await new Promise((resolve) => setTimeout(resolve, 11_000));
    const limitedKey = `pk_${randomBytes(24).toString('base64url')}`;
    const limited = configWith({
      PRECIS_API_RATE_LIMIT_RPM: '5',
      PRECIS_API_KEYS: JSON.stringify([
        { id: 'limited', sha256: apiKeyDigest(limitedKey), scopes: ['read'] },
        { id: 'other', sha256: apiKeyDigest(readKey), scopes: ['read'] },
      ]),
    });
    const one = appFor(limited);
    const two = appFor(limited);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await (i % 2 === 0 ? one : two).inject({
        url: '/v1/dashboards',
        headers: auth(limitedKey),
      });
      statuses.push(response.statusCode);
      if (response.statusCode === 200) expect(response.headers['ratelimit-remaining']).toBe(String(4 - i));
      if (response.statusCode === 429) {
        expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(Number(response.headers['retry-after'])).toBeLessThanOrEqual(120);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    // Another key has a budget of its own.
    expect((await one.inject({ url: '/v1/dashboards', headers: auth(readKey) })).statusCode).toBe(200);
  });
});

describe('the shared rate limiter', () => {
  it('never admits more than the limit across processes, and leases cost at most one lease each', async () => {
    const [seconds] = await redis.time();
    if (Number(seconds) % 60 > 50) await new Promise((resolve) => setTimeout(resolve, 11_000));
    const prefix = `${config.redis.keyPrefix}lease-test:`;
    // 1000 per minute: leases of up to 10 requests per round trip.
    const processes = [new RateLimiter(redis, prefix, 1000), new RateLimiter(redis, prefix, 1000)];
    const decisions = await Promise.all(
      Array.from({ length: 1400 }, (_, i) => processes[i % 2]?.take('busy-key') ?? Promise.reject()),
    );
    const admitted = decisions.filter((decision) => decision.allowed).length;
    expect(admitted).toBeLessThanOrEqual(1000);
    expect(admitted).toBeGreaterThanOrEqual(1000 - 2 * 10);
    const refusals = decisions.filter((decision) => !decision.allowed);
    expect(refusals.length).toBe(1400 - admitted);
    for (const refusal of refusals) if (!refusal.allowed) expect(refusal.retryAfterMs).toBeGreaterThan(0);
  });

  it('tops up a busy lease before it runs out, so a busy key does not wait for Redis', async () => {
    const prefix = `${config.redis.keyPrefix}top-up-test:`;
    // 100,000 per minute: leases grow to 1000 requests.
    const limiter = new RateLimiter(redis, prefix, 100_000);
    const waits: number[] = [];
    for (let i = 0; i < 6000; i++) {
      const decision = limiter.take('busy-key');
      if (decision instanceof Promise) {
        waits.push(i);
        expect((await decision).allowed).toBe(true);
      } else {
        expect(decision.allowed).toBe(true);
      }
      // Requests arrive over time: Redis answers a top-up long before the lease's last quarter is used.
      if (i % 25 === 24) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    // Only while the lease grows (each lease ran out before expiring) do requests wait; after that, none.
    expect(waits.length).toBeGreaterThan(0);
    expect(waits.filter((i) => i >= 3000)).toEqual([]);
    // Counted in Redis: every admitted request, plus at most one lease held unused.
    const counted = Number(await redis.hget(`${prefix}api:rate:busy-key`, 'c'));
    expect(counted).toBeGreaterThanOrEqual(6000);
    expect(counted).toBeLessThanOrEqual(6000 + 1000);
  });
});

describe('CORS', () => {
  it('sends no CORS headers unless origins are configured', async () => {
    const response = await app.inject({
      url: '/v1/dashboards',
      headers: { ...auth(readKey), origin: 'https://a.example' },
    });
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('allows only the configured origins, even on refusals', async () => {
    const withCors = appFor(configWith({ PRECIS_API_CORS_ORIGINS: 'https://ui.example' }));
    const preflight = await withCors.inject({
      method: 'OPTIONS',
      url: '/v1/dashboards/sre-checkout/summary',
      headers: {
        origin: 'https://ui.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://ui.example');
    const refused = await withCors.inject({
      url: '/v1/dashboards',
      headers: { origin: 'https://ui.example' },
    });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe('https://ui.example');
    const other = await withCors.inject({
      url: '/v1/dashboards',
      headers: { ...auth(readKey), origin: 'https://evil.example' },
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('errors and dependencies', () => {
  it('answers an internal error with a bare 500 problem: no stack, no message, but logs it', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    const own = isolatedConfig({ PRECIS_API_KEYS: KEYS });
    const broken = appFor(own, {}, logger);
    // A history key of the wrong type: Redis answers the history script with an error that is nobody's outage.
    // (A damaged summary document no longer does: it is served degraded, see security-api-resilience.test.ts.)
    await redis.set(`${own.redis.keyPrefix}summary:sre-checkout:history`, 'not a list');
    try {
      const response = await broken.inject({
        url: '/v1/dashboards/sre-checkout/summaries',
        headers: auth(readKey),
      });
      expect(response.statusCode).toBe(500);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toEqual({
        type: 'about:blank',
        title: 'Internal error',
        status: 500,
        detail: 'the request could not be completed',
        instance: '/v1/dashboards/sre-checkout/summaries',
      });
      expect(response.body).not.toMatch(/WRONGTYPE|Redis|\bat\b|\.ts|node_modules/);
      expect(lines.join('')).toMatch(/WRONGTYPE/);
    } finally {
      await deleteKeysWithPrefix(redis, own.redis.keyPrefix);
    }
  });

  it('reports readiness of Redis, Temporal and Kafka', async () => {
    const response = await app.inject({ url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      status: 'ready',
      checks: { redis: 'up', temporal: 'up', kafka: 'up' },
    });
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
  });

  it('answers 503 naming Redis, with Retry-After and no internals, when Redis is unreachable', async () => {
    // A real client aimed at a port where nothing listens.
    const deadRedis = new Redis({
      host: '127.0.0.1',
      port: 1,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    const deadConfig = configWith({ PRECIS_API_DEPENDENCY_TIMEOUT_MS: '1000' });
    const offline = appFor(deadConfig, {
      redis: deadRedis,
      store: new SummaryStore(deadRedis, 'x:', 10),
    });
    try {
      const ready = await offline.inject({ url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.headers['retry-after']).toBe('5');
      expect(ready.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(ready.json()).toMatchObject({
        title: 'Not ready',
        detail: 'not reachable: redis',
        checks: { redis: 'down', temporal: 'up', kafka: 'up' },
      });
      const summary = await offline.inject({
        url: '/v1/dashboards/sre-checkout/summary',
        headers: auth(readKey),
      });
      expect(summary.statusCode).toBe(503);
      expect(summary.headers['retry-after']).toBe('5');
      for (const response of [ready, summary]) {
        expect(response.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|:1\b|at .*\.ts/);
      }
    } finally {
      deadRedis.disconnect();
    }
  });
});

describe('metrics and the API description', () => {
  it('exposes request durations by route pattern and status, and the SSE client gauge', async () => {
    await app.inject({ url: '/v1/dashboards/sre-checkout/summary', headers: auth(readKey) });
    const response = await app.inject({ url: '/metrics' });
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.body).toMatch(
      /precis_api_http_request_duration_seconds_count\{method="GET",route="\/v1\/dashboards\/:id\/summary",status="200"\} [1-9]/,
    );
    expect(response.body).toMatch(
      /precis_api_http_request_duration_seconds_count\{method="GET",route="\/v1\/dashboards",status="401"\}/,
    );
    expect(response.body).toMatch(/^precis_api_sse_clients 0$/m);
  });

  it('serves an OpenAPI 3.1 document listing every route with security and problem responses', async () => {
    const response = await app.inject({ url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const doc = response.json();
    expect(doc.openapi).toBe('3.1.0');
    const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        'GET /v1/dashboards',
        'GET /v1/dashboards/{id}/summary',
        'GET /v1/dashboards/{id}/summaries',
        'POST /v1/dashboards/{id}/refresh',
        'GET /v1/dashboards/{id}/stream',
        'GET /v1/workflows/{workflowId}',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'GET /openapi.json',
        'GET /docs',
      ].sort(),
    );
    expect(doc.components.securitySchemes.bearerAuth).toEqual(
      expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    );
    expect(doc.components.schemas.Problem.required).toEqual(['type', 'title', 'status']);
    const summary = doc.paths['/v1/dashboards/{id}/summary'].get;
    expect(summary.security).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }]);
    expect(summary.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Summary',
    });
    for (const status of ['400', '401', '403', '404', '429', '503']) {
      expect(summary.responses[status].content['application/problem+json'].schema).toEqual({
        $ref: '#/components/schemas/Problem',
      });
    }
    expect(doc.components.schemas.Summary.required).toEqual(
      expect.arrayContaining(['stale', 'usage', 'checkedAt', 'links']),
    );
    expect(doc.paths['/healthz'].get.security).toEqual([]);
    const history = doc.paths['/v1/dashboards/{id}/summaries'].get;
    expect(history.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual([
      'path:id',
      'query:limit',
      'query:before',
    ]);
    // Every $ref resolves.
    for (const ref of JSON.stringify(doc).match(/"#\/components\/schemas\/[^"]+"/g) ?? []) {
      expect(doc.components.schemas).toHaveProperty(ref.slice(22, -1));
    }
  });

  it('lists in the OpenAPI document exactly the routes the app serves', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, item]) =>
        Object.keys(item).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    // printRoutes draws a tree whose children continue their parent's path.
    const served: string[] = [];
    const stack: string[] = [];
    for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
      const match = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \((.+)\))?$/.exec(line);
      if (!match?.[2]) continue;
      stack.length = (match[1] ?? '').length / 4;
      stack.push(match[2]);
      for (const method of match[3]?.split(', ') ?? []) {
        served.push(`${method} ${stack.join('')}`);
      }
    }
    expect(served.sort()).toEqual(documented.sort());
  });

  it('serves a docs page that renders the document without any CDN', async () => {
    const response = await app.inject({ url: '/docs' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).not.toMatch(/https?:\/\//);
    // The CSP admits exactly the inline script...
    const script = /<script>([\s\S]*)<\/script>/.exec(response.body)?.[1] ?? '';
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toContain(`script-src 'sha256-${createHash('sha256').update(script).digest('base64')}'`);
    // ...and the script, run against the real document, lists every operation.
    const openapi = (await app.inject({ url: '/openapi.json' })).json();
    const elements: Record<string, { textContent: string; innerHTML: string }> = {
      title: { textContent: '', innerHTML: '' },
      intro: { textContent: '', innerHTML: '' },
      ops: { textContent: '', innerHTML: '' },
    };
    let fetched = '';
    runInNewContext(script, {
      document: { getElementById: (id: string) => elements[id] },
      fetch: async (url: string) => {
        fetched = url;
        return { json: async () => openapi };
      },
    });
    await eventually('the rendered page', async () => (elements.ops?.innerHTML ? true : undefined), 2000, 10);
    expect(fetched).toBe('openapi.json');
    expect(elements.title?.textContent).toBe('precis API 1.0.0');
    for (const path of Object.keys(openapi.paths))
      expect(elements.ops?.innerHTML).toContain(`<code>${path}</code>`);
    expect(elements.ops?.innerHTML).toContain('API key with scope <code>refresh</code>');
  });
});
