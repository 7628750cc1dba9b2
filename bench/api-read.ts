/**
 * Read-path benchmark: the real API serving a cached summary, against a bare Fastify app whose one route sends a
 * constant JSON body of the same size, loaded one after the other in the same run with autocannon (a separate
 * process, so load generation does not share the server's event loop).
 *
 * `measureReads` is the `reads` scenario of `npm run bench` (bench/run.ts), which points it at the API process it
 * started. Run alone, this file measures an API built in this process (auth and the per-key rate limit on, limit
 * set out of reach, so every request pays for the key check and the rate-limit lease like in production):
 *
 *   node_modules/.bin/tsx bench/api-read.ts          3 alternating rounds of 10 s per target, 64 connections
 *   BENCH_DURATION_S=30 BENCH_ROUNDS=1 BENCH_CONNECTIONS=128 node_modules/.bin/tsx bench/api-read.ts
 *
 * Needs Redis (scripts/stack.sh up). Targets (issue #9): ≥ 0.9× the bare route's requests/s, and the API's p99
 * within 1.2× the bare route's p99. Results of a run alone go to bench/results/api-read.json.
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

export const TARGET_RATIO = 0.9;
/** The API's p99 may be at most this many times the bare route's p99. */
export const TARGET_P99_FACTOR = 1.2;

export interface ReadOptions {
  durationS: number;
  rounds: number;
  connections: number;
  warmupS: number;
  /** An API already running (URL of a summary route and the headers to send); absent = build one in this process. */
  api?: { url: string; headers: Record<string, string> };
  log?: (line: string) => void;
}

export interface ReadResult {
  connections: number;
  durationSeconds: number;
  rounds: number;
  perRound: { api: LoadResult; bare: LoadResult }[];
  bodyBytes: number;
  bareBodyBytes: number;
  api: LoadResult;
  bare: LoadResult;
  ratio: number;
  /** API p99 ÷ bare p99. */
  p99Factor: number;
  targets: { ratio: number; p99Factor: number; ratioMet: boolean; p99Met: boolean };
}

export interface LoadResult {
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
function load(
  url: string,
  headers: Record<string, string>,
  seconds: number,
  connections: number,
): Promise<LoadResult> {
  const args = [
    require.resolve('autocannon/autocannon.js'),
    '--json',
    '--connections',
    String(connections),
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

/** An API in this process, serving one stored summary (for a run of this file alone). */
async function inProcessApi(): Promise<{
  url: string;
  headers: Record<string, string>;
  close: () => Promise<void>;
}> {
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
  const url = `${await listen(api)}/v1/dashboards/sre-checkout/summary`;
  return {
    url,
    headers: { authorization: `Bearer ${key}` },
    close: async () => {
      await api.close();
      await deleteKeysWithPrefix(redis, prefix);
      await resources.close();
    },
  };
}

/**
 * Loads the API's summary route and the bare route in alternating rounds (noise from other work on the machine
 * falls on both alike) and combines the rounds: mean throughput, median p50, worst p99.
 */
export async function measureReads(options: ReadOptions): Promise<ReadResult> {
  const log = options.log ?? console.log;
  const own = options.api ? null : await inProcessApi();
  const target = options.api ?? own;
  if (!target) throw new Error('no API to load');
  const bare = Fastify();
  try {
    const sample = await fetch(target.url, { headers: target.headers });
    if (sample.status !== 200) throw new Error(`the API answered ${sample.status}`);
    const body = await sample.text();
    // The same bytes, parsed once: the bare route serializes a constant object like a typical JSON route.
    const constant = JSON.parse(body) as unknown;
    bare.get('/constant', async () => constant);
    const bareUrl = `${await listen(bare)}/constant`;
    const bareBody = await (await fetch(bareUrl)).text();
    const { connections, durationS, rounds: roundCount, warmupS } = options;
    log(
      `  reads: ${connections} connections, ${roundCount} round(s) of ${durationS} s per target, ` +
        `body ${Buffer.byteLength(body)} B (bare ${Buffer.byteLength(bareBody)} B)`,
    );
    if (warmupS > 0) {
      await load(target.url, target.headers, warmupS, connections);
      await load(bareUrl, {}, warmupS, connections);
    }
    const rounds: { api: LoadResult; bare: LoadResult }[] = [];
    for (let round = 0; round < roundCount; round++) {
      if (round % 2 === 0) {
        const api = await load(target.url, target.headers, durationS, connections);
        rounds.push({ api, bare: await load(bareUrl, {}, durationS, connections) });
      } else {
        const bareRound = await load(bareUrl, {}, durationS, connections);
        rounds.push({ api: await load(target.url, target.headers, durationS, connections), bare: bareRound });
      }
      const last = rounds[round];
      if (last) {
        log(
          `  round ${round + 1}: API ${last.api.requestsPerSecond.toFixed(0)} req/s (p99 ${last.api.p99Ms} ms), ` +
            `bare ${last.bare.requestsPerSecond.toFixed(0)} req/s (p99 ${last.bare.p99Ms} ms), ` +
            `ratio ${(last.api.requestsPerSecond / last.bare.requestsPerSecond).toFixed(2)}×`,
        );
      }
    }
    const apiResult = combine(rounds.map((r) => r.api));
    const bareResult = combine(rounds.map((r) => r.bare));
    const ratio = apiResult.requestsPerSecond / bareResult.requestsPerSecond;
    const p99Factor = apiResult.p99Ms / Math.max(1, bareResult.p99Ms);
    if (apiResult.non2xx > 0 || apiResult.errors > 0) {
      log(`  the API answered ${apiResult.non2xx} non-2xx and ${apiResult.errors} errors under load`);
    }
    return {
      connections,
      durationSeconds: durationS,
      rounds: roundCount,
      perRound: rounds,
      bodyBytes: Buffer.byteLength(body),
      bareBodyBytes: Buffer.byteLength(bareBody),
      api: apiResult,
      bare: bareResult,
      ratio: Number(ratio.toFixed(3)),
      p99Factor: Number(p99Factor.toFixed(2)),
      targets: {
        ratio: TARGET_RATIO,
        p99Factor: TARGET_P99_FACTOR,
        ratioMet: ratio >= TARGET_RATIO,
        p99Met: p99Factor <= TARGET_P99_FACTOR,
      },
    };
  } finally {
    await bare.close();
    await own?.close();
  }
}

async function main(): Promise<void> {
  const result = await measureReads({
    durationS: Number(process.env.BENCH_DURATION_S ?? 10),
    rounds: Number(process.env.BENCH_ROUNDS ?? 3),
    connections: Number(process.env.BENCH_CONNECTIONS ?? 64),
    warmupS: 2,
  });
  const row = (name: string, r: LoadResult) =>
    `  ${name.padEnd(34)} ${r.requestsPerSecond.toFixed(0).padStart(8)} req/s   p50 ${String(r.p50Ms).padStart(3)} ms   p99 ${String(r.p99Ms).padStart(3)} ms   max ${r.maxMs} ms   non-2xx ${r.non2xx}   errors ${r.errors}`;
  console.log(row('API GET /v1/dashboards/{id}/summary', result.api));
  console.log(row('bare Fastify constant JSON route', result.bare));
  console.log(
    `  ratio ${result.ratio.toFixed(2)}× (target ≥ ${TARGET_RATIO}×: ${result.targets.ratioMet ? 'met' : 'MISSED'}), ` +
      `API p99 ${result.p99Factor}× the bare p99 (target ≤ ${TARGET_P99_FACTOR}×: ${result.targets.p99Met ? 'met' : 'MISSED'})`,
  );
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'api-read.json'),
    `${JSON.stringify({ benchmark: 'api-read', at: new Date().toISOString(), node: process.version, cpus: cpus().length, ...result }, null, 2)}\n`,
  );
  if (result.api.non2xx > 0 || result.api.errors > 0) throw new Error('the API answered errors under load');
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
