/**
 * Read-path benchmark (not a test): the real API serving a cached summary, against a bare Fastify app whose one
 * route sends a constant JSON body of the same size, loaded one after the other in the same run with autocannon
 * (a separate process, so load generation does not share the server's event loop).
 *
 *   npm run bench                         3 alternating rounds of 10 s per target, 64 connections
 *   BENCH_DURATION_S=30 BENCH_ROUNDS=1 BENCH_CONNECTIONS=128 npm run bench
 *
 * Needs Redis (scripts/stack.sh up). The API runs with auth and the per-key rate limit on (limit set out of
 * reach), so every request pays for the key check and the Redis rate-limit round trip like in production.
 * Targets: ≥ 0.7× the bare route's requests/s, p99 ≤ 10 ms. Results go to bench/results/api-read.json.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from '../api/app';
import { apiKeyDigest } from '../api/auth';
import { createApiDeps } from '../api/deps';
import { loadConfig } from '../src/config';
import type { SummaryDraft } from '../src/domain/summary';
import { deleteKeysWithPrefix } from '../test/support/redis';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_S = 2;
const TARGET_RATIO = 0.7;
const TARGET_P99_MS = 10;

interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  non2xx: number;
  errors: number;
  bytesPerResponse: number;
}

interface AutocannonJson {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  throughput: { total: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  '2xx': number;
}

/** Runs autocannon's CLI in its own process and reads its JSON summary. */
function load(url: string, headers: Record<string, string>, seconds: number): Promise<LoadResult> {
  const args = [
    require.resolve('autocannon/autocannon.js'),
    '--json',
    '--connections',
    String(CONNECTIONS),
    '--duration',
    String(seconds),
    ...Object.entries(headers).flatMap(([name, value]) => ['--headers', `${name}=${value}`]),
    url,
  ];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout) => {
      if (error) return reject(error);
      const result = JSON.parse(stdout) as AutocannonJson;
      resolve({
        requestsPerSecond: result.requests.average,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        maxMs: result.latency.max,
        requests: result.requests.total,
        non2xx: result.non2xx,
        errors: result.errors + result.timeouts,
        bytesPerResponse: result['2xx'] > 0 ? Math.round(result.throughput.total / result['2xx']) : 0,
      });
    });
  });
}

/** Rounds together: mean throughput, median p50, worst p99 and max (conservative on latency). */
function combine(results: LoadResult[]): LoadResult {
  const sum = (pick: (r: LoadResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  const p50s = results.map((r) => r.p50Ms).sort((a, b) => a - b);
  return {
    requestsPerSecond: sum((r) => r.requestsPerSecond) / results.length,
    p50Ms: p50s[Math.floor(p50s.length / 2)] ?? 0,
    p99Ms: Math.max(...results.map((r) => r.p99Ms)),
    maxMs: Math.max(...results.map((r) => r.maxMs)),
    requests: sum((r) => r.requests),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    bytesPerResponse: results[0]?.bytesPerResponse ?? 0,
  };
}

function summaryDraft(): SummaryDraft {
  return {
    dashboardId: 'sre-checkout',
    generatedAt: new Date().toISOString(),
    dataAsOf: new Date().toISOString(),
    headline: 'Checkout service health: p99 latency rose 12.0% to 212 ms; error rate steady at 0.41%.',
    insights: [
      { widgetIds: ['p99-latency'], severity: 'warning', text: 'p99 latency rose 12.0% (189 ms → 212 ms).' },
      {
        widgetIds: ['error-rate'],
        severity: 'info',
        text: 'Error rate held at 0.41% (0.40% the day before).',
      },
      { widgetIds: ['requests'], severity: 'notice', text: 'Requests grew 3.2% to 118,400 per hour.' },
    ],
    anomalies: [
      { widgetId: 'p99-latency', at: new Date().toISOString(), value: 254, description: 'Spike at 254 ms.' },
    ],
    recommendations: ['Check the payment provider latency between 09:00 and 10:00.'],
    missingWidgets: [],
    model: 'precis-local-extractive-v1',
    degraded: false,
    degradedReason: null,
    usage: { promptTokens: 1180, completionTokens: 240, costUsd: 0.00535 },
    cacheOutcome: 'miss',
    inputHash: randomBytes(32).toString('hex'),
    eventIds: [randomUUID(), randomUUID()],
    workflowId: 'precis-dashboard-sre-checkout',
    runId: randomUUID(),
  };
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

async function main(): Promise<void> {
  const key = `pk_${randomBytes(24).toString('base64url')}`;
  const prefix = `precis-bench:${Date.now().toString(36)}:`;
  const config = loadConfig({
    ...process.env,
    PRECIS_REDIS_PREFIX: prefix,
    PRECIS_API_KEYS: JSON.stringify([{ id: 'bench', sha256: apiKeyDigest(key), scopes: ['read'] }]),
    PRECIS_API_RATE_LIMIT_RPM: '1000000000',
    PRECIS_LOG_LEVEL: 'warn',
  });
  const resources = createApiDeps(config, pino({ level: 'warn' }));
  const { store, redis } = resources.deps;
  await store.put(summaryDraft(), randomUUID());

  const api = buildApp(resources.deps);
  const apiUrl = `${await listen(api)}/v1/dashboards/sre-checkout/summary`;
  const headers = { authorization: `Bearer ${key}` };
  const sample = await fetch(apiUrl, { headers });
  if (sample.status !== 200) throw new Error(`the API answered ${sample.status}`);
  const body = await sample.text();

  // The same bytes, parsed once: the bare route serializes a constant object like a typical JSON route.
  const constant = JSON.parse(body) as unknown;
  const bare = Fastify();
  bare.get('/constant', async () => constant);
  const bareUrl = `${await listen(bare)}/constant`;
  const bareBody = await (await fetch(bareUrl)).text();

  console.log(
    `precis read benchmark: ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION_S} s per target, ` +
      `${cpus().length} CPUs, ` +
      `body ${Buffer.byteLength(body)} B (bare ${Buffer.byteLength(bareBody)} B)`,
  );
  await load(apiUrl, headers, WARMUP_S);
  await load(bareUrl, {}, WARMUP_S);
  // Alternating rounds, so that noise from other work on the machine falls on both targets alike.
  const rounds: { api: LoadResult; bare: LoadResult }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      const api = await load(apiUrl, headers, DURATION_S);
      rounds.push({ api, bare: await load(bareUrl, {}, DURATION_S) });
    } else {
      const bare = await load(bareUrl, {}, DURATION_S);
      rounds.push({ api: await load(apiUrl, headers, DURATION_S), bare });
    }
    const last = rounds[round];
    if (last) {
      console.log(
        `  round ${round + 1}: API ${last.api.requestsPerSecond.toFixed(0)} req/s (p99 ${last.api.p99Ms} ms), ` +
          `bare ${last.bare.requestsPerSecond.toFixed(0)} req/s (p99 ${last.bare.p99Ms} ms), ` +
          `ratio ${(last.api.requestsPerSecond / last.bare.requestsPerSecond).toFixed(2)}×`,
      );
    }
  }
  const apiResult = combine(rounds.map((r) => r.api));
  const bareResult = combine(rounds.map((r) => r.bare));

  const ratio = apiResult.requestsPerSecond / bareResult.requestsPerSecond;
  const row = (name: string, r: LoadResult) =>
    `  ${name.padEnd(34)} ${r.requestsPerSecond.toFixed(0).padStart(8)} req/s   p50 ${String(r.p50Ms).padStart(3)} ms   p99 ${String(r.p99Ms).padStart(3)} ms   max ${r.maxMs} ms   non-2xx ${r.non2xx}   errors ${r.errors}`;
  console.log(row('API GET /v1/dashboards/{id}/summary', apiResult));
  console.log(row('bare Fastify constant JSON route', bareResult));
  const ratioOk = ratio >= TARGET_RATIO;
  const p99Ok = apiResult.p99Ms <= TARGET_P99_MS;
  console.log(
    `  ratio ${ratio.toFixed(2)}× (target ≥ ${TARGET_RATIO}×: ${ratioOk ? 'met' : 'MISSED'}), ` +
      `API p99 ${apiResult.p99Ms} ms (target ≤ ${TARGET_P99_MS} ms: ${p99Ok ? 'met' : 'MISSED'})`,
  );

  const results = {
    benchmark: 'api-read',
    at: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    connections: CONNECTIONS,
    durationSeconds: DURATION_S,
    rounds: ROUNDS,
    perRound: rounds,
    bodyBytes: Buffer.byteLength(body),
    api: apiResult,
    bare: bareResult,
    ratio: Number(ratio.toFixed(3)),
    targets: { ratio: TARGET_RATIO, p99Ms: TARGET_P99_MS, ratioMet: ratioOk, p99Met: p99Ok },
  };
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'api-read.json'), `${JSON.stringify(results, null, 2)}\n`);

  await api.close();
  await bare.close();
  await deleteKeysWithPrefix(redis, prefix);
  await resources.close();
  if (apiResult.non2xx > 0 || apiResult.errors > 0) throw new Error('the API answered errors under load');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
