import type { LookupAddress } from 'node:dns';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type LookupFunction } from 'node:net';
import tls from 'node:tls';
import { loadConfig } from '../../src/config';
import { type HttpSource, sourceSchema, widgetSchema } from '../../src/domain/dashboard';
import { createHttpConnector, type Resolver } from '../../src/sources/http';
import { type CollectRequest, type SourceConnector, SourceError } from '../../src/sources/types';

/**
 * A real HTTP server on 127.0.0.1 and the connector talking to it. Names ending in ".test" are resolved by a
 * fake resolver; net.connect is wrapped so that, even if the guard were broken, no socket could reach anything
 * but loopback.
 */

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** Every request the server received: path and headers. */
const received: { path: string; headers: IncomingHttpHeaders }[] = [];
/** Every net.connect call: the host it was asked for. */
const connects: string[] = [];
const pendingTimers = new Set<NodeJS.Timeout>();

let server: Server;
let base: string;
let port: number;

function later(ms: number, run: () => void): void {
  const timer = setTimeout(() => {
    pendingTimers.delete(timer);
    run();
  }, ms);
  pendingTimers.add(timer);
}

function json(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function redirect(res: ServerResponse, location: string, status = 302): void {
  res.writeHead(status, { location });
  res.end();
}

const GOOD = {
  data: {
    items: [
      { ts: '2024-03-01T00:00:00Z', count: 10, channel: 'paid' },
      { ts: 1_709_337_600, count: '12.5', channel: 'organic' },
      { ts: 1_709_424_000_000, count: 11, channel: 'paid' },
    ],
  },
};

const routes: Record<string, (res: ServerResponse) => void> = {
  '/good': (res) => json(res, GOOD),
  '/vendor-json': (res) => {
    res.writeHead(200, { 'content-type': 'application/vnd.api+json' });
    res.end(JSON.stringify(GOOD));
  },
  '/chunked-good': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const text = JSON.stringify(GOOD);
    res.write(text.slice(0, 20));
    later(20, () => res.end(text.slice(20)));
  },
  '/unavailable': (res) => {
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '30' });
    res.end('down for maintenance');
  },
  '/throttled': (res) => json(res, { error: 'slow down' }, 429),
  '/missing': (res) => json(res, { error: 'not found' }, 404),
  '/html': (res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html><body>{}</body></html>');
  },
  '/no-content-type': (res) => {
    res.removeHeader('content-type');
    res.end(JSON.stringify(GOOD));
  },
  '/big-declared': (res) => {
    const body = JSON.stringify({ data: { items: [], padding: 'x'.repeat(5_000) } });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  },
  '/big-chunked': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(`{"data":{"items":[],"padding":"${'x'.repeat(800)}`);
    later(20, () => res.end(`${'x'.repeat(800)}"}}`));
  },
  '/slow-headers': (res) => later(5_000, () => json(res, GOOD)),
  '/slow-body': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"data":');
    later(5_000, () => res.end('{"items":[]}}'));
  },
  '/invalid-json': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"data": {"items": [}');
  },
  '/redirect-good': (res) => redirect(res, '/good'),
  '/redirect-twice': (res) => redirect(res, '/redirect-good', 307),
  '/redirect-loop': (res) => redirect(res, '/redirect-loop', 301),
  '/redirect-metadata': (res) => redirect(res, 'http://169.254.169.254/latest/meta-data'),
  '/redirect-metadata-decimal': (res) => redirect(res, 'http://2852039166/latest/meta-data'),
  '/redirect-file': (res) => redirect(res, 'file:///etc/passwd'),
  '/redirect-unlisted': (res) => redirect(res, `http://unlisted.test:${port}/good`),
  '/redirect-private-name': (res) => redirect(res, `http://private.test:${port}/good`),
  '/redirect-same-origin': (res) => redirect(res, '/echo'),
  '/redirect-cross-origin': (res) => redirect(res, `http://other.test:${port}/echo`),
  '/redirect-cross-and-back': (res) => redirect(res, `http://other.test:${port}/redirect-back`),
  '/redirect-back': (res) => redirect(res, `http://127.0.0.1:${port}/echo`),
  '/echo': (res) => json(res, [{ t: '2024-03-01T00:00:00Z', v: 1 }]),
};

/** Names the fake resolver knows; anything else (localhost) goes to the system resolver, which sees /etc/hosts. */
const FAKE_DNS: Record<string, string[]> = {
  'other.test': ['127.0.0.1'],
  'fresh.test': ['127.0.0.1'],
  'private.test': ['10.0.0.1'],
  'mixed.test': ['127.0.0.1', '10.0.0.1'],
  'metadata.test': ['169.254.169.254'],
  'mapped.test': ['::ffff:127.0.0.1'],
};

const resolver = jest.fn<Promise<LookupAddress[]>, [string]>(async (hostname) => {
  const fake = FAKE_DNS[hostname];
  if (fake) return fake.map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 }));
  if (hostname !== 'localhost')
    throw Object.assign(new Error(`unknown test host ${hostname}`), { code: 'ENOTFOUND' });
  const { lookup } = await import('node:dns/promises');
  return lookup(hostname, { all: true });
});

const ALLOWED_HOSTS =
  '127.0.0.1,localhost,other.test,fresh.test,private.test,mixed.test,metadata.test,mapped.test,169.254.169.254';
const open = createHttpConnector(
  loadConfig({
    PRECIS_HTTP_ALLOWED_HOSTS: ALLOWED_HOSTS,
    PRECIS_HTTP_ALLOWED_NETWORKS: '127.0.0.1/32,::1/128',
  }).sources,
  { resolve: resolver as Resolver },
);
const strict = createHttpConnector(
  loadConfig({
    PRECIS_HTTP_ALLOWED_HOSTS: '127.0.0.1,localhost,::ffff:7f00:1',
    PRECIS_HTTP_ALLOWED_NETWORKS: '',
  }).sources,
);

/** Refuses, as a test failure, any socket whose final address is not loopback. */
function loopbackOnly(lookup: LookupFunction | undefined): LookupFunction | undefined {
  if (!lookup) return lookup;
  return (hostname, options, callback) =>
    lookup(hostname, options, (error, address, family) => {
      const addresses = typeof address === 'string' ? [address] : address.map((a) => a.address);
      const outside = addresses.find((a) => !LOOPBACK.has(a));
      if (!error && outside)
        return callback(new Error(`test harness blocked a connection to ${outside}`), '');
      return callback(error, address, family);
    });
}

beforeAll(async () => {
  const realConnect = net.connect;
  jest.spyOn(net, 'connect').mockImplementation(((options: net.NetConnectOpts, listener?: () => void) => {
    const host = 'host' in options ? (options.host ?? '') : '';
    connects.push(host);
    if (net.isIP(host) !== 0 && !LOOPBACK.has(host)) {
      throw new Error(`test harness blocked a connection to ${host}`);
    }
    const guarded = 'host' in options ? { ...options, lookup: loopbackOnly(options.lookup) } : options;
    return realConnect(guarded, listener);
  }) as typeof net.connect);
  jest.spyOn(tls, 'connect').mockImplementation(() => {
    throw new Error('test harness blocked a TLS connection');
  });

  server = createServer((req, res) => {
    const path = req.url ?? '/';
    received.push({ path, headers: req.headers });
    const route = routes[path];
    if (route) route(res);
    else json(res, { error: 'no route' }, 404);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const timer of pendingTimers) clearTimeout(timer);
  await Promise.all([open.close?.(), strict.close?.()]);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  jest.restoreAllMocks();
});

beforeEach(() => {
  received.length = 0;
  connects.length = 0;
  resolver.mockClear();
});

function httpSource(url: string, extra: Record<string, unknown> = {}): HttpSource {
  const source = sourceSchema.parse({
    type: 'http',
    url,
    mapping: { items: 'data.items', time: 'ts', value: 'count', series: 'channel' },
    ...extra,
  });
  if (source.type !== 'http') throw new Error('expected an http source');
  return source;
}

function collectRequest(overrides: Partial<CollectRequest> = {}): CollectRequest {
  const widget = widgetSchema.parse({ id: 'signups', title: 'Signups', source: { type: 'inline' } });
  return {
    widget,
    asOf: new Date('2024-03-04T00:00:00Z'),
    from: new Date('2024-02-19T00:00:00Z'),
    resolutionMs: 86_400_000,
    events: [],
    signal: new AbortController().signal,
    heartbeat: () => {},
    ...overrides,
  };
}

async function failure(
  connector: SourceConnector<HttpSource>,
  source: HttpSource,
  request = collectRequest(),
): Promise<SourceError> {
  try {
    await connector.collect(source, request);
  } catch (error) {
    if (error instanceof SourceError) return error;
    throw error;
  }
  throw new Error('expected collect to fail');
}

const EXPECTED_SERIES = [
  {
    key: 'paid',
    points: [
      { t: '2024-03-01T00:00:00.000Z', v: 10 },
      { t: '2024-03-03T00:00:00.000Z', v: 11 },
    ],
  },
  { key: 'organic', points: [{ t: '2024-03-02T00:00:00.000Z', v: 12.5 }] },
];

describe('http source connector', () => {
  it('maps a good JSON response to series of points', async () => {
    const data = await open.collect(httpSource(`${base}/good`, { unit: 'visits' }), collectRequest());
    expect(data).toEqual({ series: EXPECTED_SERIES, unit: 'visits' });
  });

  it('omits the unit when the source does not name one', async () => {
    const data = await open.collect(httpSource(`${base}/good`), collectRequest());
    expect(data).toEqual({ series: EXPECTED_SERIES });
    expect('unit' in data).toBe(false);
  });

  it('accepts +json media types and heartbeats while streaming a chunked body', async () => {
    const heartbeat = jest.fn();
    await expect(
      open.collect(httpSource(`${base}/vendor-json`), collectRequest({ heartbeat })),
    ).resolves.toMatchObject({ series: EXPECTED_SERIES });
    heartbeat.mockClear();
    await open.collect(httpSource(`${base}/chunked-good`), collectRequest({ heartbeat }));
    expect(heartbeat.mock.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('sends the configured headers', async () => {
    await open.collect(httpSource(`${base}/good`, { headers: { 'X-Tenant': 'acme' } }), collectRequest());
    expect(received[0]?.headers).toMatchObject({ 'x-tenant': 'acme', accept: 'application/json' });
  });

  it.each([
    ['503', '/unavailable', /HTTP 503 from http:\/\/127\.0\.0\.1:\d+\/unavailable \(retry after 30 s\)/],
    ['429', '/throttled', /HTTP 429/],
  ])('treats %s as retryable', async (_status, path, message) => {
    const error = await failure(open, httpSource(`${base}${path}`));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(message);
  });

  it('treats 404 as not retryable', async () => {
    const error = await failure(open, httpSource(`${base}/missing`));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/HTTP 404/);
  });

  it('keeps query strings (which may hold keys) out of error messages', async () => {
    const error = await failure(open, httpSource(`${base}/missing?api_key=s3cret`));
    expect(error.message).not.toMatch(/s3cret/);
  });

  it.each([
    ['text/html', '/html', /got content-type "text\/html"/],
    ['no content-type', '/no-content-type', /got content-type "\(none\)"/],
  ])('refuses a %s response', async (_what, path, message) => {
    const error = await failure(open, httpSource(`${base}${path}`));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(message);
  });

  it('refuses a body over maxBytes announced by Content-Length', async () => {
    const error = await failure(open, httpSource(`${base}/big-declared`, { maxBytes: 1_000 }));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/response of \d+ bytes is larger than maxBytes \(1000 bytes\)/);
  });

  it('refuses a chunked body that grows over maxBytes', async () => {
    const error = await failure(open, httpSource(`${base}/big-chunked`, { maxBytes: 1_000 }));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/larger than maxBytes \(1000 bytes\)/);
  });

  it('reads the same chunked body when it fits', async () => {
    await expect(
      open.collect(httpSource(`${base}/big-chunked`, { maxBytes: 2_000 }), collectRequest()),
    ).resolves.toEqual({ series: [] });
  });

  it.each([
    ['headers', '/slow-headers'],
    ['body', '/slow-body'],
  ])('times out, retryably, on a server slow to send its %s', async (_what, path) => {
    const started = Date.now();
    const error = await failure(open, httpSource(`${base}${path}`, { timeout: '1s' }));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/no complete response within 1s/);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('stops when the activity is cancelled', async () => {
    const controller = new AbortController();
    later(100, () => controller.abort());
    const error = await failure(
      open,
      httpSource(`${base}/slow-headers`),
      collectRequest({ signal: controller.signal }),
    );
    expect(error.message).toMatch(/cancelled/);
  });

  it('refuses invalid JSON, not retryably', async () => {
    const error = await failure(open, httpSource(`${base}/invalid-json`));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/not valid JSON/);
  });

  it('refuses a response that does not match the mapping', async () => {
    const error = await failure(open, httpSource(`${base}/echo`));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/expected an array of items at "data\.items"/);
  });

  it('follows redirects to allowed URLs', async () => {
    await expect(open.collect(httpSource(`${base}/redirect-twice`), collectRequest())).resolves.toEqual({
      series: EXPECTED_SERIES,
    });
    expect(received.map((r) => r.path)).toEqual(['/redirect-twice', '/redirect-good', '/good']);
  });

  it('gives up after 3 redirects', async () => {
    const error = await failure(open, httpSource(`${base}/redirect-loop`));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/more than 3 redirects/);
    expect(received).toHaveLength(4);
  });

  it.each([
    ['/redirect-metadata', /refused: address 169\.254\.169\.254 is not allowed \(linkLocal, cloud metadata/],
    ['/redirect-metadata-decimal', /refused: address 169\.254\.169\.254 is not allowed/],
  ])('refuses a redirect to the metadata service (%s) without connecting to it', async (path, message) => {
    const error = await failure(open, httpSource(`${base}${path}`));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(message);
    expect(received.map((r) => r.path)).toEqual([path]);
    expect(connects).not.toContain('169.254.169.254');
    expect(resolver).not.toHaveBeenCalled();
  });

  it('refuses a redirect to a host that is not on the allow-list', async () => {
    const error = await failure(open, httpSource(`${base}/redirect-unlisted`));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/refused: host "unlisted\.test" is not on the allow-list/);
    expect(resolver).not.toHaveBeenCalled();
  });

  it('refuses a redirect to an allowed name that resolves to a private address', async () => {
    const error = await failure(open, httpSource(`${base}/redirect-private-name`));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(
      /refused: private\.test resolves to address 10\.0\.0\.1 is not allowed \(private\)/,
    );
    expect(resolver.mock.calls).toEqual([['private.test']]);
    expect(received.map((r) => r.path)).toEqual(['/redirect-private-name']);
  });

  it('refuses a redirect to a non-http scheme', async () => {
    const error = await failure(open, httpSource(`${base}/redirect-file`));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/refused: scheme "file:" is not allowed/);
  });

  it('keeps credentials on same-origin redirects and drops them for good once the origin changes', async () => {
    const headers = { Authorization: 'Bearer s3cret', 'X-Api-Key': 'k', Cookie: 'c=1', 'X-Tenant': 'acme' };
    const source = (path: string) => httpSource(`${base}${path}`, { headers, mapping: { items: '' } });

    await open.collect(source('/redirect-same-origin'), collectRequest());
    expect(received[1]?.headers).toMatchObject({
      authorization: 'Bearer s3cret',
      'x-api-key': 'k',
      cookie: 'c=1',
    });

    received.length = 0;
    await open.collect(source('/redirect-cross-origin'), collectRequest());
    expect(received.map((r) => r.path)).toEqual(['/redirect-cross-origin', '/echo']);
    expect(received[0]?.headers.authorization).toBe('Bearer s3cret');
    expect(received[1]?.headers).toMatchObject({ host: `other.test:${port}`, 'x-tenant': 'acme' });
    expect(received[1]?.headers).not.toHaveProperty('authorization');
    expect(received[1]?.headers).not.toHaveProperty('x-api-key');
    expect(received[1]?.headers).not.toHaveProperty('cookie');

    received.length = 0;
    await open.collect(source('/redirect-cross-and-back'), collectRequest());
    expect(received.map((r) => r.path)).toEqual(['/redirect-cross-and-back', '/redirect-back', '/echo']);
    expect(received[2]?.headers).not.toHaveProperty('authorization');
  });

  it('resolves allowed names at connect time and uses the address it checked', async () => {
    // A name no other test uses, so no pooled connection to it exists yet.
    await expect(
      open.collect(httpSource(`http://fresh.test:${port}/good`), collectRequest()),
    ).resolves.toEqual({ series: EXPECTED_SERIES });
    // One resolution, made by the socket itself: there is no earlier check-time lookup a rebinding could fool.
    expect(resolver.mock.calls).toEqual([['fresh.test']]);
    expect(connects).toEqual(['fresh.test']);
    await expect(
      open.collect(httpSource(`http://localhost:${port}/good`), collectRequest()),
    ).resolves.toMatchObject({ series: EXPECTED_SERIES });
  });

  it.each([
    ['mixed.test', /mixed\.test resolves to address 10\.0\.0\.1 is not allowed \(private\)/],
    ['metadata.test', /metadata\.test resolves to address 169\.254\.169\.254 is not allowed/],
  ])('refuses %s, which resolves to a disallowed address', async (host, message) => {
    const error = await failure(open, httpSource(`http://${host}:${port}/good`));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(message);
    expect(received).toHaveLength(0);
  });

  it('judges an IPv4-mapped DNS answer as the IPv4 address it maps', async () => {
    await expect(
      open.collect(httpSource(`http://mapped.test:${port}/good`), collectRequest()),
    ).resolves.toMatchObject({ series: EXPECTED_SERIES });
    const error = await failure(strict, httpSource(`http://[::ffff:127.0.0.1]:${port}/good`));
    expect(error.message).toMatch(/refused: address 127\.0\.0\.1 is not allowed \(loopback\)/);
  });

  it.each([
    ['127.0.0.1', `http://127.0.0.1:PORT/good`],
    ['decimal', `http://2130706433:PORT/good`],
    ['hex', `http://0x7f000001:PORT/good`],
    ['short', `http://127.1:PORT/good`],
    ['octal', `http://0177.0.0.1:PORT/good`],
  ])(
    'refuses loopback (%s) when no network is allowed, even though the host is allow-listed',
    async (_what, url) => {
      const error = await failure(strict, httpSource(url.replace('PORT', String(port))));
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(/refused: address 127\.0\.0\.1 is not allowed \(loopback\)/);
      expect(received).toHaveLength(0);
      expect(connects).toHaveLength(0);
    },
  );

  it('refuses localhost through DNS when no network is allowed', async () => {
    const error = await failure(strict, httpSource(`http://localhost:${port}/good`));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(
      /refused: localhost resolves to address (127\.0\.0\.1|::1) is not allowed \(loopback\)/,
    );
    expect(received).toHaveLength(0);
  });

  it('refuses a host that is not on the allow-list without resolving it', async () => {
    const error = await failure(open, httpSource(`http://example.com:${port}/good`));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/refused: host "example\.com" is not on the allow-list/);
    expect(resolver).not.toHaveBeenCalled();
    expect(connects).toHaveLength(0);
  });

  it('refuses non-http schemes in the configured URL', async () => {
    const error = await failure(open, httpSource('ftp://127.0.0.1/data.json'));
    expect(error.message).toMatch(/refused: scheme "ftp:"/);
  });

  it('refuses, not retryably, headers undici will not send', async () => {
    const error = await failure(
      open,
      httpSource(`${base}/good`, { headers: { 'Transfer-Encoding': 'chunked' } }),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/invalid transfer-encoding header/);
    expect(received).toHaveLength(0);
  });

  it('reports a connection failure as retryable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(open, httpSource(`http://127.0.0.1:${closedPort}/good`));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/request to http:\/\/127\.0\.0\.1:\d+\/good failed: .*ECONNREFUSED/);
  });
});
