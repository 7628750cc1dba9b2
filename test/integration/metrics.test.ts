/**
 * Metrics from every precis process, on the real engines: the four processes run as real processes (tsx), an event
 * goes through to a stored summary written by a model (the project's OpenAI-compatible test server), and then each
 * process's /metrics is scraped: every metric the Grafana dashboard queries is exported, freshness and model outcomes
 * moved as they should, and the Temporal core's own worker metrics are there. The local Prometheus config that
 * scripts/stack.sh writes passes `promtool check config` (the dashboard's PromQL and the alert rules pass `promtool
 * check rules`), and a Prometheus of this test's own, started on that config, scrapes all four processes.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import type { Producer } from 'kafkajs';
import pino from 'pino';
import { createKafka, createProducer, createRedis, ensureTopics } from '../../src/clients';
import { type Config, loadConfig } from '../../src/config';
import { CostLedger } from '../../src/llm/cost';
import { SummaryStore } from '../../src/store/summaries';
import { deleteRunTopics, eventually, isolatedEnv } from '../support/config';
import { freePort } from '../support/net';
import { type OpenAiTestServer, startOpenAiServer } from '../support/openai-server';
import { deleteKeysWithPrefix } from '../support/redis';

const ROOT = join(__dirname, '..', '..');
const DASHBOARD_FILE = join(ROOT, 'deploy', 'grafana', 'dashboards', 'precis.json');
const run = promisify(execFile);

type ProcessName = 'api' | 'ingest' | 'pipeline' | 'llm';
const ENTRY_POINTS: Record<ProcessName, string> = {
  api: 'api/server.ts',
  ingest: 'workers/ingest.ts',
  pipeline: 'workers/pipeline.ts',
  llm: 'workers/llm.ts',
};

// ---------------------------------------------------------------------------------------------------------------
// The Prometheus text format and PromQL, as far as this test needs them
// ---------------------------------------------------------------------------------------------------------------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1] ?? ''] = pair[2] ?? '';
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples of `name` whose labels include `labels` (0 when there is none). */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

const PROMQL_WORDS = new Set([
  ...['sum', 'max', 'min', 'avg', 'count', 'topk', 'bottomk', 'quantile', 'stddev', 'group'],
  ...['rate', 'irate', 'increase', 'delta', 'deriv', 'histogram_quantile', 'clamp_min', 'clamp_max', 'abs'],
  ...[
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'and',
    'or',
    'unless',
    'bool',
    'offset',
  ],
]);

/**
 * The metric names a PromQL expression reads: what is left once label matchers, strings, ranges, grouping clauses,
 * Grafana variables, numbers, functions and keywords are taken out.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ');
  return [...stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .map((m) => m[0])
    .filter((word) => !PROMQL_WORDS.has(word));
}

function dashboardExprs(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
    panels: { targets?: { expr?: string }[] }[];
  };
  return dashboard.panels.flatMap((panel) => (panel.targets ?? []).flatMap((t) => (t.expr ? [t.expr] : [])));
}

// ---------------------------------------------------------------------------------------------------------------
// The processes
// ---------------------------------------------------------------------------------------------------------------

let openAi: OpenAiTestServer;
let env: Record<string, string>;
let config: Config;
let ports: Record<ProcessName, number>;
let redis: Redis;
let producer: Producer;
const children = new Map<ProcessName, { child: ChildProcess; output: string[] }>();

function spawnProcess(name: ProcessName): void {
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [ENTRY_POINTS[name]], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr])
    stream?.on('data', (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.length > 200) output.shift();
    });
  children.set(name, { child, output });
}

function url(name: ProcessName, path: string): string {
  return `http://127.0.0.1:${ports[name]}${path}`;
}

async function scrape(name: ProcessName): Promise<string> {
  const response = await fetch(url(name, '/metrics'));
  expect(response.status).toBe(200);
  return response.text();
}

async function stopAll(): Promise<void> {
  await Promise.all(
    [...children.values()].map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
          child.once('exit', () => {
            clearTimeout(force);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

beforeAll(async () => {
  openAi = await startOpenAiServer();
  ports = {
    api: await freePort(),
    ingest: await freePort(),
    pipeline: await freePort(),
    llm: await freePort(),
  };
  env = isolatedEnv({
    OPENAI_API_KEY: 'sk-test',
    PRECIS_LLM_BASE_URL: openAi.baseURL,
    PRECIS_API_AUTH: 'disabled',
    PRECIS_API_PORT: String(ports.api),
    PRECIS_INGEST_METRICS_PORT: String(ports.ingest),
    PRECIS_PIPELINE_METRICS_PORT: String(ports.pipeline),
    PRECIS_LLM_WORKER_METRICS_PORT: String(ports.llm),
  }).env;
  config = loadConfig(env);
  const kafka = createKafka(config, 'test', pino({ level: 'silent' }));
  // Created here, before the API's readiness (which checks Kafka) and the ingest consumer look for them.
  await ensureTopics(kafka, config);
  producer = createProducer(kafka);
  await producer.connect();
  redis = createRedis(config);
  for (const name of Object.keys(ENTRY_POINTS) as ProcessName[]) spawnProcess(name);
  for (const name of Object.keys(ENTRY_POINTS) as ProcessName[]) {
    await eventually(
      `${name} ready on port ${ports[name]}`,
      async () => {
        const exited = children.get(name)?.child.exitCode;
        if (exited !== null && exited !== undefined)
          throw new Error(`${name} exited ${exited}: ${children.get(name)?.output.join('')}`);
        const response = await fetch(url(name, '/readyz')).catch(() => null);
        return response?.status === 200 ? true : undefined;
      },
      180_000,
      250,
    );
  }
}, 300_000);

afterAll(async () => {
  await stopAll();
  await producer?.disconnect();
  await openAi?.close();
  if (redis) {
    await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
    redis.disconnect();
  }
  if (config) await deleteRunTopics(config);
}, 60_000);

describe('metrics from every precis process', () => {
  const eventId = randomUUID();
  // The event happened 3 s before it is sent: freshness is measured from occurredAt, not from its arrival.
  const occurredAt = new Date(Date.now() - 3000).toISOString();
  let samples: Record<ProcessName, Sample[]>;

  beforeAll(async () => {
    await producer.send({
      topic: config.kafka.eventsTopic,
      messages: [
        {
          key: 'sre-checkout',
          value: JSON.stringify({
            schemaVersion: 1,
            eventId,
            type: 'dashboard.data_changed',
            dashboardId: 'sre-checkout',
            occurredAt,
          }),
        },
      ],
    });
    const store = new SummaryStore(redis, config.redis.keyPrefix, config.redis.summaryHistory);
    await eventually(
      'the summary of the event',
      async () => {
        const latest = await store.latest('sre-checkout');
        return latest?.eventIds.includes(eventId) ? latest : undefined;
      },
      120_000,
    );
    // One API request, so that the API's request histogram has a series.
    expect((await fetch(url('api', '/v1/dashboards'))).status).toBe(200);
    // The workflow's last task (after the model activity) completes after the summary is stored: wait for the
    // pipeline worker to have counted the stored summary, then scrape everything.
    await eventually('the stored summary counted', async () =>
      total(parseSamples(await scrape('pipeline')), 'precis_summaries_stored_total') >= 1 ? true : undefined,
    );
    samples = {
      api: parseSamples(await scrape('api')),
      ingest: parseSamples(await scrape('ingest')),
      pipeline: parseSamples(await scrape('pipeline')),
      llm: parseSamples(await scrape('llm')),
    };
  }, 180_000);

  it('exports every metric the Grafana dashboard queries', () => {
    const exported = new Set(Object.values(samples).flatMap((list) => list.map((s) => s.name)));
    // Made by Prometheus itself for every target, not by a process.
    const byPrometheus = new Set(['up']);
    const queried = [...new Set(dashboardExprs().flatMap(metricNames))];
    expect(queried.length).toBeGreaterThan(20);
    expect(queried.filter((name) => !exported.has(name) && !byPrometheus.has(name))).toEqual([]);
  });

  it('observes freshness from the event to the stored summary', () => {
    const count = total(samples.pipeline, 'precis_summary_freshness_seconds_count', { delivery: 'stored' });
    const sum = total(samples.pipeline, 'precis_summary_freshness_seconds_sum', { delivery: 'stored' });
    expect(count).toBeGreaterThanOrEqual(1);
    // At least the 3 s between occurredAt and the send, per observation.
    expect(sum).toBeGreaterThanOrEqual(3 * count);
    expect(
      total(samples.pipeline, 'precis_summaries_stored_total', { degraded: 'false' }),
    ).toBeGreaterThanOrEqual(1);
    for (const stage of ['collect', 'clean', 'enrich', 'store'])
      expect(
        total(samples.pipeline, 'precis_stage_duration_seconds_count', { stage, result: 'ok' }),
      ).toBeGreaterThan(0);
    expect(
      total(samples.llm, 'precis_stage_duration_seconds_count', { stage: 'summarize', result: 'ok' }),
    ).toBeGreaterThan(0);
  });

  it('counts the model call under its outcome and model, as the cost ledger does', async () => {
    expect(
      total(samples.llm, 'precis_model_outcomes_total', { model: 'gpt-4o', outcome: 'model_call' }),
    ).toBe(1);
    for (const outcome of ['fallback_model', 'local_fallback', 'local_default'])
      expect(total([...samples.llm, ...samples.pipeline], 'precis_model_outcomes_total', { outcome })).toBe(
        0,
      );
    expect(
      total(samples.llm, 'precis_model_tokens_total', { model: 'gpt-4o', kind: 'prompt' }),
    ).toBeGreaterThan(0);
    expect(total(samples.llm, 'precis_model_cost_usd_total', { model: 'gpt-4o' })).toBeGreaterThan(0);
    expect(total(samples.llm, 'precis_model_limiter_wait_seconds_count', { model: 'gpt-4o' })).toBe(1);
    expect(total(samples.llm, 'precis_model_breaker_state', { model: 'gpt-4o', state: 'closed' })).toBe(1);
    expect(total(samples.llm, 'precis_model_budget_spent_usd')).toBeGreaterThan(0);
    // The processes' counters add up to the day's counts in Redis (the ledger the API and CLI read).
    const ledger = await new CostLedger(redis, config.redis.keyPrefix).outcomes();
    for (const [outcome, count] of Object.entries(ledger))
      expect({
        outcome,
        count: total([...samples.llm, ...samples.pipeline], 'precis_model_outcomes_total', { outcome }),
      }).toEqual({
        outcome,
        count,
      });
  });

  it('appends the Temporal core worker metrics to each worker /metrics', () => {
    for (const name of ['pipeline', 'llm'] as const) {
      expect(total(samples[name], 'temporal_worker_task_slots_available')).toBeGreaterThan(0);
      // The core's service_name label, and the worker's own task queue.
      const taskQueues = samples[name]
        .filter((s) => s.name === 'temporal_worker_task_slots_available')
        .map((s) => s.labels.task_queue);
      expect(taskQueues).toContain(name === 'pipeline' ? config.temporal.taskQueue : config.llm.taskQueue);
    }
    expect(total(samples.pipeline, 'temporal_workflow_task_schedule_to_start_latency_count')).toBeGreaterThan(
      0,
    );
    expect(total(samples.llm, 'temporal_activity_schedule_to_start_latency_count')).toBeGreaterThan(0);
  });

  it('exports the default process metrics under the same names in every process', () => {
    for (const name of Object.keys(ENTRY_POINTS) as ProcessName[])
      expect(total(samples[name], 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(total(samples.ingest, 'precis_ingest_messages_consumed_total')).toBeGreaterThanOrEqual(1);
  });

  it('writes a local Prometheus config that promtool accepts and that scrapes all four processes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'precis-prometheus-'));
    try {
      const prometheusPort = await freePort();
      const file = join(dir, 'prometheus.yml');
      await run('bash', [join(ROOT, 'scripts', 'stack.sh'), 'prometheus-config', file], {
        env: { ...process.env, ...env, PROMETHEUS_PORT: String(prometheusPort) },
      });
      await run('promtool', ['check', 'config', file]);
      await run('promtool', ['check', 'rules', join(ROOT, 'deploy', 'prometheus', 'rules', 'precis.yml')]);
      // The dashboard's expressions are valid PromQL: promtool parses them as recording rules (Grafana's
      // $__rate_interval replaced by a range).
      const exprRules = join(dir, 'dashboard-exprs.yml');
      writeFileSync(
        exprRules,
        JSON.stringify({
          groups: [
            {
              name: 'dashboard',
              rules: dashboardExprs().map((expr, index) => ({
                record: `precis_dashboard_expr_${index}`,
                expr: expr.replaceAll('$__rate_interval', '5m'),
              })),
            },
          ],
        }),
      );
      await run('promtool', ['check', 'rules', exprRules]);

      const prometheus = spawn(
        'prometheus',
        [
          `--config.file=${file}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${prometheusPort}`,
          '--log.level=warn',
        ],
        { stdio: 'ignore' },
      );
      try {
        const health = await eventually(
          'Prometheus scraping every precis process',
          async () => {
            const response = await fetch(`http://127.0.0.1:${prometheusPort}/api/v1/targets`);
            const body = (await response.json()) as {
              data: { activeTargets: { labels: { job: string }; health: string }[] };
            };
            const byJob = Object.fromEntries(body.data.activeTargets.map((t) => [t.labels.job, t.health]));
            const jobs = ['precis-api', 'precis-ingest', 'precis-pipeline', 'precis-llm'];
            return jobs.every((job) => byJob[job] === 'up') ? byJob : undefined;
          },
          60_000,
          500,
        );
        expect(health).toMatchObject({ prometheus: 'up' });
      } finally {
        await new Promise<void>((resolve) => {
          prometheus.once('exit', () => resolve());
          prometheus.kill('SIGTERM');
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
