/**
 * Server-Sent Events over a real socket: a listening API on port 0 and a real HTTP client. Summaries written
 * through SummaryStore.put (and, at the end, produced by the real pipeline) reach the stream; Last-Event-ID
 * resumes; heartbeats flow; streams share one Redis subscriber, are bounded, and are cleaned up on close.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { buildApp } from '../../api/app';
import { apiKeyDigest } from '../../api/auth';
import { type ApiResources, createApiDeps } from '../../api/deps';
import type { SummaryDraft } from '../../src/domain/summary';
import { signalDashboard } from '../../src/ingest/starter';
import type { Service } from '../../src/process';
import { SummaryStore } from '../../src/store/summaries';
import { buildLlmWorker } from '../../workers/llm';
import { buildPipelineWorker } from '../../workers/pipeline';
import { deleteRunTopics, eventually, isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';
import { summaryDraft } from '../support/summaries';

const key = `pk_${randomBytes(24).toString('base64url')}`;
const config = isolatedConfig({
  PRECIS_API_KEYS: JSON.stringify([{ id: 'streamer', sha256: apiKeyDigest(key), scopes: ['read'] }]),
  PRECIS_API_SSE_HEARTBEAT_MS: '300',
  PRECIS_API_SSE_MAX_CLIENTS: '3',
  PRECIS_API_RATE_LIMIT_RPM: '10000',
});
const logger = pino({ level: 'silent' });

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** A minimal EventSource over node:http that records every event and comment line. */
class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  private buffer = '';

  private constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    readonly body: () => string,
    private readonly destroy: () => void,
  ) {}

  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        let raw = '';
        const client = new SseClient(
          res.statusCode ?? 0,
          res.headers,
          () => raw,
          () => req.destroy(),
        );
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          raw += chunk;
          client.feed(chunk);
        });
        res.on('end', () => {
          client.ended = true;
        });
        res.on('error', () => {
          client.ended = true;
        });
        resolve(client);
      });
      req.on('error', reject);
      req.end();
    });
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let end = this.buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const event: SseEvent = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line);
        else if (line.startsWith('id: ')) event.id = line.slice(4);
        else if (line.startsWith('event: ')) event.event = line.slice(7);
        else if (line.startsWith('data: ')) event.data = line.slice(6);
      }
      if (event.data !== undefined) this.events.push(event);
      end = this.buffer.indexOf('\n\n');
    }
  }

  summaries(): { id?: string; version: number; headline: string; eventIds: string[] }[] {
    return this.events.map((event) => ({ id: event.id, ...JSON.parse(event.data ?? '{}') }));
  }

  async waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
    return eventually(what, async () => probe(), timeoutMs, 20);
  }

  close(): void {
    this.destroy();
  }
}

let resources: ApiResources;
let app: FastifyInstance;
let baseUrl: string;
let redis: Redis;
let store: SummaryStore;
const clients: SseClient[] = [];

async function stream(dashboardId: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await SseClient.open(`${baseUrl}/v1/dashboards/${dashboardId}/stream`, {
    authorization: `Bearer ${key}`,
    ...headers,
  });
  clients.push(client);
  return client;
}

function closeAll(): void {
  for (const client of clients.splice(0)) client.close();
}

function draft(dashboardId: string, headline: string): SummaryDraft {
  return summaryDraft(dashboardId, {
    headline,
    insights: [],
    eventIds: [],
    workflowId: `${config.temporal.workflowIdPrefix}${dashboardId}`,
  });
}

async function put(dashboardId: string, headline: string): Promise<number> {
  return (await store.put(draft(dashboardId, headline), randomUUID())).summary.version;
}

async function sseGauge(): Promise<number> {
  const metrics = await app.inject({ url: '/metrics' });
  return Number(/^precis_api_sse_clients (\d+)$/m.exec(metrics.body)?.[1]);
}

beforeAll(async () => {
  redis = new Redis(config.redis.url);
  store = new SummaryStore(redis, config.redis.keyPrefix, 50);
  resources = createApiDeps(config, logger);
  app = buildApp(resources.deps);
  await app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterEach(() => closeAll());

afterAll(async () => {
  closeAll();
  await app.close();
  await resources.close();
  await deleteRunTopics(config);
  await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
  redis.disconnect();
});

describe('GET /v1/dashboards/{id}/stream', () => {
  it('sends the latest summary first, then each summary as it is stored', async () => {
    const first = await put('sre-checkout', 'One.');
    const client = await stream('sre-checkout');
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(client.headers['cache-control']).toBe('no-store');
    await client.waitFor('the latest summary', () => client.events[0]);
    expect(client.events[0]).toMatchObject({ id: String(first), event: 'summary' });
    expect(JSON.parse(client.events[0]?.data ?? '')).toMatchObject({
      dashboardId: 'sre-checkout',
      version: first,
      headline: 'One.',
      stale: false,
      links: { temporalRun: expect.stringContaining('/workflows/') },
    });

    const second = await put('sre-checkout', 'Two.');
    await client.waitFor('the new summary', () => client.events[1]);
    expect(client.events[1]).toMatchObject({ id: String(second), event: 'summary' });
    expect(JSON.parse(client.events[1]?.data ?? '')).toMatchObject({ version: second, headline: 'Two.' });
    // Another dashboard's summary is not sent on this stream.
    await put('social-listening', 'Elsewhere.');
    const third = await put('sre-checkout', 'Three.');
    await client.waitFor('the third summary', () => client.events[2]);
    expect(client.summaries().map((s) => s.version)).toEqual([first, second, third]);
  });

  it('resumes after Last-Event-ID from the history, then continues live, in order and without repeats', async () => {
    const versions: number[] = [];
    for (let i = 1; i <= 4; i++) versions.push(await put('precis-platform', `History ${i}.`));
    const [v1, v2, v3, v4] = versions;
    const client = await stream('precis-platform', { 'last-event-id': String(v1) });
    await client.waitFor('the missed versions', () => (client.events.length >= 3 ? true : undefined));
    expect(client.events.map((e) => Number(e.id))).toEqual([v2, v3, v4]);
    const v5 = await put('precis-platform', 'Live 5.');
    await client.waitFor('the live version', () => (client.events.length >= 4 ? true : undefined));
    expect(client.summaries().map((s) => [s.version, s.headline])).toEqual([
      [v2, 'History 2.'],
      [v3, 'History 3.'],
      [v4, 'History 4.'],
      [v5, 'Live 5.'],
    ]);
    // Up to date already: nothing until the next version.
    const current = await stream('precis-platform', { 'last-event-id': String(v5) });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(current.events).toEqual([]);
    // An id from before a reset of the history (higher than anything stored): start over from the latest.
    const lost = await stream('precis-platform', { 'last-event-id': '999999' });
    await lost.waitFor('the latest summary', () => lost.events[0]);
    expect(Number(lost.events[0]?.id)).toBe(v5);
  });

  it('sends heartbeat comment lines while idle', async () => {
    const client = await stream('marketing-funnel');
    await client.waitFor('two heartbeats', () => (client.comments.length >= 2 ? true : undefined), 3000);
    expect(client.comments[0]).toBe(': heartbeat');
    expect(client.events).toEqual([]);
  });

  it('serves every stream of a process from one Redis subscriber connection', async () => {
    await stream('sre-checkout');
    await stream('sre-checkout');
    await stream('precis-platform');
    const [, subscribers] = (await redis.pubsub('NUMSUB', store.channel('sre-checkout'))) as [string, number];
    // Two streams of this dashboard and the summary cache, all on the one connection.
    expect(subscribers).toBe(1);
    expect(await sseGauge()).toBe(3);
  });

  it('answers 503 with Retry-After when every stream slot is taken, and frees slots on close', async () => {
    const open = [await stream('sre-checkout'), await stream('sre-checkout'), await stream('sre-checkout')];
    expect(open.map((c) => c.status)).toEqual([200, 200, 200]);
    const refused = await stream('sre-checkout');
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('30');
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    await refused.waitFor('the problem body', () => (refused.ended ? true : undefined));
    expect(JSON.parse(refused.body())).toMatchObject({ status: 503, title: 'Too many streams' });

    open[0]?.close();
    await eventually('a freed slot', async () => ((await sseGauge()) === 2 ? true : undefined), 3000, 20);
    const again = await stream('sre-checkout');
    expect(again.status).toBe(200);
  });

  it('refuses a stream without a key, or with a bad Last-Event-ID', async () => {
    const anonymous = await SseClient.open(`${baseUrl}/v1/dashboards/sre-checkout/stream`);
    clients.push(anonymous);
    expect(anonymous.status).toBe(401);
    const bad = await stream('sre-checkout', { 'last-event-id': 'yesterday' });
    expect(bad.status).toBe(400);
    await bad.waitFor('the problem body', () => (bad.ended ? true : undefined));
    expect(JSON.parse(bad.body()).detail).toMatch(/Last-Event-ID/);
    const unknown = await stream('nope');
    expect(unknown.status).toBe(404);
  });
});

describe('SSE with the real pipeline', () => {
  const workers: Service[] = [];

  beforeAll(async () => {
    workers.push(await buildPipelineWorker(config, logger), await buildLlmWorker(config, logger));
  });

  afterAll(async () => {
    for (const worker of workers) await worker.close();
  });

  it('pushes the summary a workflow produced for an event, and ends streams when the API closes', async () => {
    // Every widget of sre-checkout has demo data, so the run needs nothing from outside.
    const dashboard = resources.deps.registry.get('sre-checkout');
    if (!dashboard) throw new Error('sre-checkout must exist');
    const client = await stream('sre-checkout');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = client.events.length;
    const eventId = randomUUID();
    await signalDashboard(resources.deps.temporal, config, dashboard, [
      { eventId, occurredAt: new Date().toISOString() },
    ]);
    const pushed = await client.waitFor(
      'the pipeline summary on the stream',
      () => client.summaries().find((s) => s.eventIds.includes(eventId)),
      90_000,
    );
    expect(client.events.length).toBeGreaterThan(before);
    expect(pushed).toMatchObject({
      id: String(pushed.version),
      headline: expect.stringMatching(/\S/),
      model: 'precis-local-extractive-v1',
    });
    // The same version is what the summary route serves.
    const latest = await app.inject({
      url: '/v1/dashboards/sre-checkout/summary',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(latest.json().version).toBe(pushed.version);

    await app.close();
    await client.waitFor('the stream to end', () => (client.ended ? true : undefined));
  });
});
