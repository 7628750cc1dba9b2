import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config';
import type { PrometheusSource } from '../../src/domain/dashboard';
import {
  createPrometheusConnector,
  formatLabels,
  HEARTBEAT_INTERVAL_MS,
  MAX_SERIES,
} from '../../src/sources/prometheus';
import { eventually } from '../support/config';
import { collectFailure, collectRequest, TEST_PROMETHEUS_URL } from '../support/engines';

/**
 * The prometheus connector against the real Prometheus of scripts/stack.sh (127.0.0.1:9090, scraping itself every
 * second), and against a stub on 127.0.0.1 for answers a healthy Prometheus does not give on demand.
 */

const config = loadConfig({ PRECIS_PROMETHEUS_URL: TEST_PROMETHEUS_URL });
const connector = createPrometheusConnector(config.sources);

function source(query: string, extra: Partial<PrometheusSource> = {}): PrometheusSource {
  return { type: 'prometheus', query, timeout: '10s', ...extra };
}

/** The last minute at a 5 s resolution, like a widget refreshed now. */
function lastMinute() {
  const asOf = new Date();
  return collectRequest({
    asOf,
    from: new Date(asOf.getTime() - 60_000),
    resolutionMs: 5_000,
    resolution: '5s',
  });
}

beforeAll(async () => {
  // A freshly started Prometheus needs a scrape or two before `up` has samples.
  await eventually(
    'Prometheus self-scrape samples',
    async () => {
      const response = await fetch(`${TEST_PROMETHEUS_URL}/api/v1/query?query=up`);
      const body = (await response.json()) as { data?: { result?: unknown[] } };
      return (body.data?.result?.length ?? 0) > 0 ? true : undefined;
    },
    30_000,
    250,
  );
  // At least two 5 s steps of data for the range queries.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
});

describe('prometheus source connector (real Prometheus)', () => {
  it('returns the range of `up` as one series named by its labels, with finite points on the step grid', async () => {
    const request = lastMinute();
    // Only Prometheus's own target: the stack's config also scrapes the precis processes, which may or may not run.
    const data = await connector.collect(source('up{job="prometheus"}', { unit: 'bool' }), request);
    expect(data.unit).toBe('bool');
    expect(data.series.map((s) => s.key)).toEqual([
      `up{instance="${new URL(TEST_PROMETHEUS_URL).host}",job="prometheus"}`,
    ]);
    const points = data.series[0]?.points ?? [];
    expect(points.length).toBeGreaterThan(0);
    for (const point of points) {
      expect(point.v).toBe(1);
      const t = Date.parse(point.t);
      expect(t).toBeGreaterThanOrEqual(request.from.getTime());
      expect(t).toBeLessThanOrEqual(request.asOf.getTime());
      // Prometheus evaluates at start + k * step.
      expect((t - request.from.getTime()) % 5_000).toBe(0);
    }
    expect(request.heartbeats.length).toBeGreaterThanOrEqual(2);
  });

  it('names series by seriesLabel', async () => {
    const data = await connector.collect(
      source('sum by (handler) (rate(prometheus_http_requests_total[10s]))', { seriesLabel: 'handler' }),
      lastMinute(),
    );
    const keys = data.series.map((s) => s.key);
    // The self-scrape requests /metrics every second.
    expect(keys).toContain('/metrics');
    expect(new Set(keys).size).toBe(keys.length);
    for (const series of data.series) {
      expect(series.key.startsWith('/')).toBe(true);
      expect(series.points.length).toBeGreaterThan(0);
      for (const point of series.points) expect(Number.isFinite(point.v)).toBe(true);
    }
    const metrics = data.series.find((s) => s.key === '/metrics');
    expect(metrics?.points.some((p) => p.v > 0)).toBe(true);
  });

  it('keeps NaN and +Inf samples as non-finite numbers', async () => {
    const nan = await connector.collect(source('vector(0) / 0'), lastMinute());
    expect(nan.series[0]?.key).toBe('{}');
    expect(nan.series[0]?.points.length).toBeGreaterThan(0);
    for (const point of nan.series[0]?.points ?? []) expect(point.v).toBeNaN();
    const inf = await connector.collect(source('vector(1) / 0'), lastMinute());
    for (const point of inf.series[0]?.points ?? []) expect(point.v).toBe(Number.POSITIVE_INFINITY);
  });

  it('refuses several series under one seriesLabel value: the query needs an aggregation', async () => {
    const error = await collectFailure(
      connector,
      source('prometheus_http_requests_total', { seriesLabel: 'job' }),
      lastMinute(),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/several series have job = "prometheus"/);
  });

  it("reports bad PromQL as non-retryable, with Prometheus's message", async () => {
    const error = await collectFailure(connector, source('sum(rate(up[1m]'), lastMinute());
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/HTTP 400/);
    expect(error.message).toMatch(/parse error/);
  });

  it('reports too fine a resolution (Prometheus refuses > 11000 points per series) as non-retryable', async () => {
    const asOf = new Date();
    const error = await collectFailure(
      connector,
      source('up'),
      collectRequest({ asOf, from: new Date(asOf.getTime() - 86_400_000), resolutionMs: 1_000 }),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/exceeded maximum resolution/);
  });

  it('treats a server where nothing listens as retryable', async () => {
    const error = await collectFailure(connector, source('up', { url: 'http://127.0.0.1:1' }), lastMinute());
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });
});

describe('prometheus source connector (stub server)', () => {
  type Handler = (res: ServerResponse, url: URL, headers: Record<string, unknown>) => void;
  let handler: Handler = (res) => res.end();
  let server: Server;
  let base: string;

  function json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
  function matrix(result: unknown[]): unknown {
    return { status: 'success', data: { resultType: 'matrix', result } };
  }

  beforeAll(async () => {
    server = createServer((req, res) => handler(res, new URL(req.url ?? '/', 'http://stub'), req.headers));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends query, start, end and step, under the URL path prefix, with credentials as Basic auth', async () => {
    let seen: { url: URL; authorization: unknown } | undefined;
    handler = (res, url, headers) => {
      seen = { url, authorization: headers.authorization };
      json(
        res,
        200,
        matrix([{ metric: { b: 'y', a: 'x"q', __name__: 'm' }, values: [[1_700_000_000, '2.5']] }]),
      );
    };
    const asOf = new Date('2026-03-04T12:00:00.000Z');
    const data = await connector.collect(
      source('rate(m[5m])', { url: `http://user:p%40ss@${base.slice('http://'.length)}/prom` }),
      collectRequest({ asOf, from: new Date('2026-03-04T11:00:00.500Z'), resolutionMs: 60_000 }),
    );
    expect(seen?.url.pathname).toBe('/prom/api/v1/query_range');
    expect(Object.fromEntries(seen?.url.searchParams ?? [])).toEqual({
      query: 'rate(m[5m])',
      start: '1772622000.5',
      end: '1772625600',
      step: '60',
      timeout: '10s',
    });
    expect(seen?.authorization).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`);
    expect(data.series).toEqual([
      { key: 'm{a="x\\"q",b="y"}', points: [{ t: '2023-11-14T22:13:20.000Z', v: 2.5 }] },
    ]);
  });

  it('formats label sets stably', () => {
    expect(formatLabels({ __name__: 'up' })).toBe('up');
    expect(formatLabels({})).toBe('{}');
    expect(formatLabels({ z: '1', a: '2' })).toBe('{a="2",z="1"}');
    expect(formatLabels({ job: 'x', __name__: 'up', instance: 'h:1' })).toBe('up{instance="h:1",job="x"}');
  });

  it('maps statuses: 422 and status "error" are final, 429 and 503 may pass', async () => {
    const cases: [number, unknown, boolean, RegExp][] = [
      [
        422,
        { status: 'error', errorType: 'execution', error: 'too many samples' },
        false,
        /422: too many samples/,
      ],
      [200, { status: 'error', errorType: 'bad_data', error: 'odd' }, false, /\(bad_data\): odd/],
      [429, { status: 'error', error: 'slow down' }, true, /HTTP 429: slow down/],
      [
        503,
        { status: 'error', errorType: 'timeout', error: 'query timed out' },
        true,
        /HTTP 503: query timed out/,
      ],
      [502, 'not json', true, /HTTP 502/],
      [200, { status: 'success', data: { resultType: 'vector', result: [] } }, false, /got vector/],
      [200, { hello: 'world' }, false, /not a Prometheus API response/],
    ];
    for (const [status, body, retryable, message] of cases) {
      handler = (res) => json(res, status, body);
      const error = await collectFailure(connector, source('up', { url: base }), lastMinute());
      expect([status, error.retryable, error.message]).toEqual([
        status,
        retryable,
        expect.stringMatching(message),
      ]);
    }
  });

  it(`refuses more than ${MAX_SERIES} series or 100000 points`, async () => {
    const many = Array.from({ length: MAX_SERIES + 1 }, (_, i) => ({ metric: { i: String(i) }, values: [] }));
    handler = (res) => json(res, 200, matrix(many));
    const series = await collectFailure(connector, source('x', { url: base }), lastMinute());
    expect(series.retryable).toBe(false);
    expect(series.message).toMatch(/1001 series, more than the limit of 1000/);

    const values = Array.from({ length: 10_001 }, (_, i) => [1_700_000_000 + i, '1']);
    const heavy = Array.from({ length: 10 }, (_, i) => ({ metric: { i: String(i) }, values }));
    handler = (res) => json(res, 200, matrix(heavy));
    const points = await collectFailure(connector, source('x', { url: base }), lastMinute());
    expect(points.retryable).toBe(false);
    expect(points.message).toMatch(/100010 points, more than the limit of 100000/);
  });

  it('keeps heartbeating while Prometheus is slow to answer', async () => {
    handler = (res) => {
      setTimeout(() => json(res, 200, matrix([])), HEARTBEAT_INTERVAL_MS + 500);
    };
    const request = lastMinute();
    const data = await connector.collect(source('up', { url: base }), request);
    expect(data.series).toEqual([]);
    expect(request.heartbeats).toContainEqual({ waiting: 'prometheus' });
  });

  it('gives up after the source timeout, and at once when cancelled, both retryable', async () => {
    handler = () => {}; // never answers
    const started = Date.now();
    const late = await collectFailure(connector, source('up', { url: base, timeout: '1s' }), lastMinute());
    expect(late.retryable).toBe(true);
    expect(late.message).toMatch(/within 1s/);
    expect(Date.now() - started).toBeLessThan(3_000);

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const request = { ...lastMinute(), signal: controller.signal };
    const cancelled = await collectFailure(connector, source('up', { url: base, timeout: '30s' }), request);
    expect(cancelled.retryable).toBe(true);
    expect(cancelled.message).toMatch(/cancelled/);
  });
});
