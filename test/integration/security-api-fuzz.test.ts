/**
 * Every API input under fuzzing, through Fastify's `inject` on a real app (real Redis, Kafka, Temporal): path
 * parameters, query strings, headers and bodies of every route, plus methods and paths that match none. Whatever
 * comes in: no crash, never a 5xx, and every 4xx is an RFC 9457 problem (application/problem+json) whose status
 * is the response's.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { buildApp } from '../../api/app';
import { apiKeyDigest } from '../../api/auth';
import { type ApiResources, createApiDeps } from '../../api/deps';
import { createKafka, createRedis, ensureTopics } from '../../src/clients';
import { SummaryStore } from '../../src/store/summaries';
import { deleteRunTopics, isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';
import { summaryDraft } from '../support/summaries';

const key = `pk_${randomBytes(24).toString('base64url')}`;
const config = isolatedConfig({
  PRECIS_API_KEYS: JSON.stringify([
    { id: 'fuzz', sha256: apiKeyDigest(key), scopes: ['read', 'refresh', 'metrics'] },
  ]),
  PRECIS_API_RATE_LIMIT_RPM: '1000000',
});
const KNOWN = ['sre-checkout', 'marketing-funnel', 'social-listening', 'precis-platform'];

let app: FastifyInstance;
let resources: ApiResources;
let redis: Redis;
const errors: unknown[] = [];

beforeAll(async () => {
  redis = createRedis(config);
  // Refresh requests go to the run's own events topic: it must exist for a valid one to be accepted.
  await ensureTopics(createKafka(config, 'fuzz-setup', pino({ level: 'silent' })), config);
  const logger = pino({ level: 'error' }, { write: (line: string) => errors.push(JSON.parse(line)) });
  resources = createApiDeps(config, logger);
  app = buildApp(resources.deps);
  await app.ready();
  await new SummaryStore(redis, config.redis.keyPrefix, 10).put(summaryDraft('sre-checkout'), randomUUID());
});

afterAll(async () => {
  await app.close();
  await resources.close();
  await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
  redis.disconnect();
  await deleteRunTopics(config);
});

/** Path segments: known ids, near misses, traversal, bad percent-encoding, anything at all. */
const segment = fc.oneof(
  fc.constantFrom(...KNOWN),
  fc.constantFrom(
    '',
    '.',
    '..',
    '%',
    '%zz',
    '%c0%af',
    '%00',
    '%2e%2e',
    'a'.repeat(700),
    '__proto__',
    'constructor',
  ),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 20 }).map(encodeURIComponent),
  fc.string({ maxLength: 20 }).map((s) => s.replace(/[^\x21-\x7e]/g, '')),
);

const workflowId = fc.oneof(
  fc.constantFrom(...KNOWN.map((id) => `${config.temporal.workflowIdPrefix}${id}`)),
  segment.map((s) => `${config.temporal.workflowIdPrefix}${s}`),
  segment,
);

const path = fc.oneof(
  fc.constant('/v1/dashboards'),
  segment.map((id) => `/v1/dashboards/${id}/summary`),
  segment.map((id) => `/v1/dashboards/${id}/summaries`),
  segment.map((id) => `/v1/dashboards/${id}/refresh`),
  segment.map((id) => `/v1/dashboards/${id}/stream`),
  workflowId.map((id) => `/v1/workflows/${id}`),
  fc.constantFrom('/healthz', '/readyz', '/metrics', '/openapi.json', '/docs', '/', '/v1', '/v2/dashboards'),
  fc.array(segment, { maxLength: 4 }).map((parts) => `/${parts.join('/')}`),
);

const queryValue = fc.oneof(
  fc.integer().map(String),
  fc.constantFrom('', '-1', '0', '1', '100', '101', '1e3', 'NaN', 'Infinity', '0x10', '[]', '%', '1&limit=2'),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
);
const query = fc
  .array(fc.tuple(fc.constantFrom('limit', 'before', 'after', '__proto__', 'x', ''), queryValue), {
    maxLength: 4,
  })
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

/** Header values: what a client may send (printable text; light-my-request refuses control characters itself). */
const headerValue = fc.oneof(
  fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
  fc.constantFrom(
    '*',
    'W/"1-x"',
    '"1-abc"',
    '99999999999999999999',
    '-1',
    'Bearer',
    'Bearer ',
    `Bearer ${key}x`,
  ),
);
const headers = fc.record(
  {
    authorization: fc.oneof(fc.constant(`Bearer ${key}`), headerValue),
    'x-api-key': fc.oneof(fc.constant(key), headerValue),
    'if-none-match': headerValue,
    'last-event-id': fc.oneof(fc.constantFrom('0', '1', '999999999999999', '1.5', ''), headerValue),
    'content-type': fc.constantFrom(
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=utf-16',
      'garbage',
    ),
    accept: fc.constantFrom('application/json', 'text/event-stream', '*/*', 'text/html'),
  },
  { requiredKeys: [] },
);
const body = fc.option(
  fc.oneof(
    fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
    fc.string({ maxLength: 200 }),
    fc.constantFrom('{', '{"__proto__":{"polluted":1}}', 'x'.repeat(20_000)),
  ),
  { nil: undefined },
);
const method = fc.constantFrom('GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');

/**
 * The response, or a skipped run when the request cannot even be written: light-my-request refuses some URLs
 * (`/\\`) before they reach the server, a client-side limit that says nothing about the API.
 */
async function injectable<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    // Node's own TypeError (another realm than the test's): recognised by its code.
    if ((error as { code?: unknown }).code === 'ERR_INVALID_URL') fc.pre(false);
    throw error;
  }
}

/** The body, or nothing for an accepted event stream (it never ends by itself: hang up). */
async function bodyOf(stream: Readable, contentType: unknown): Promise<string> {
  if (String(contentType).startsWith('text/event-stream')) {
    stream.destroy();
    return '';
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('API inputs under fuzzing', () => {
  it('never crashes (no 5xx but 503 with Retry-After), and every 4xx is a problem+json with its own status', async () => {
    await fc.assert(
      fc.asyncProperty(method, path, query, headers, body, async (m, p, q, h, b) => {
        const response = await injectable(() =>
          app.inject({
            method: m as 'GET',
            url: `${p}${q}`,
            headers: h,
            ...(b === undefined || m === 'GET' || m === 'HEAD' ? {} : { payload: b }),
            // A stream that was accepted never ends by itself: answer once the head is out, then hang up.
            payloadAsStream: true,
          }),
        );
        const text = await bodyOf(response.stream() as Readable, response.headers['content-type']);
        const where = `${m} ${p}${q} -> ${response.statusCode}`;
        // A dependency that does not answer in time is a 503 with Retry-After (valid input, honest answer); any
        // other 5xx is a crash.
        const crashed =
          response.statusCode >= 500 &&
          !(response.statusCode === 503 && response.headers['retry-after'] !== undefined);
        expect({ where, crashed }).toEqual({ where, crashed: false });
        if (response.statusCode >= 400) {
          expect({ where, type: response.headers['content-type'] }).toEqual({
            where,
            type: expect.stringMatching(/^application\/problem\+json/),
          });
          if (m !== 'HEAD') expect(JSON.parse(text)).toMatchObject({ status: response.statusCode });
        }
        expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
      }),
      {
        numRuns: 3000,
        // A URL light-my-request cannot write: skipped, not failed.
        examples: [['GET', '/\\', '', {}, undefined]],
      },
    );
    expect(errors).toEqual([]);
  });
});
