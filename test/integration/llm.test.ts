/**
 * The model layer with the real `openai` SDK against precis's OpenAI-compatible test server (fault injection,
 * request recording), real Redis for the shared limiter, breaker, cache and ledger, and real Temporal for the
 * retry owner and the upgrade of degraded summaries. "Two workers" are two summarizers on two Redis connections.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Command, Redis } from 'ioredis';
import pino from 'pino';
import { runLlmCli } from '../../scripts/precis-llm';
import { createRedis } from '../../src/clients';
import type { Config } from '../../src/config';
import { parseDashboard } from '../../src/domain/registry';
import type { SummaryDraft } from '../../src/domain/summary';
import { dashboardWorkflowId, signalDashboard } from '../../src/ingest/starter';
import { buildSummarizer } from '../../src/llm/build';
import { ReplyCache } from '../../src/llm/cache';
import { CostLedger } from '../../src/llm/cost';
import { createOpenAiClient } from '../../src/llm/model-client';
import { modelTimeouts } from '../../src/llm/plan';
import { buildMessages, loadPrompt, PROMPT_VERSION } from '../../src/llm/prompt';
import {
  type AttemptInfo,
  RetryLater,
  type SummarizeOutcome,
  type Summarizer,
} from '../../src/llm/summarizer';
import { cleanDashboard } from '../../src/pipeline/clean';
import { enrichDashboard, estimateTokens } from '../../src/pipeline/enrich';
import type { EnrichedDashboard } from '../../src/pipeline/types';
import type { Service } from '../../src/process';
import { SummaryStore } from '../../src/store/summaries';
import { buildLlmWorker } from '../../workers/llm';
import { buildPipelineWorker } from '../../workers/pipeline';
import { deleteRunTopics, eventually, isolatedConfig } from '../support/config';
import { defaultResponder, type OpenAiTestServer, startOpenAiServer } from '../support/openai-server';
import { deleteKeysWithPrefix } from '../support/redis';
import { summaryDraft } from '../support/summaries';

let server: OpenAiTestServer;
const connections: Redis[] = [];
const prefixes: string[] = [];

beforeAll(async () => {
  server = await startOpenAiServer();
});

afterEach(async () => {
  server.reset();
});

afterAll(async () => {
  const cleaner = connections[0];
  if (cleaner) for (const prefix of prefixes) await deleteKeysWithPrefix(cleaner, prefix);
  for (const redis of connections) redis.disconnect();
  await server.close();
});

function llmConfig(env: NodeJS.ProcessEnv = {}) {
  const config = isolatedConfig({
    OPENAI_API_KEY: 'sk-test',
    PRECIS_LLM_BASE_URL: server.baseURL,
    PRECIS_LLM_TIMEOUT_MS: '3000',
    PRECIS_BREAKER_MIN_REQUESTS: '4',
    PRECIS_BREAKER_COOLDOWN_MS: '600',
    ...env,
  });
  prefixes.push(config.redis.keyPrefix);
  return config;
}

function redisFor(config: Config): Redis {
  const redis = createRedis(config);
  connections.push(redis);
  return redis;
}

/** Two workers: separate Redis connections, separate summarizers, one shared configuration. */
function twoWorkers(config: Config): [Summarizer, Summarizer] {
  return [buildSummarizer(config, redisFor(config)), buildSummarizer(config, redisFor(config))];
}

const dashboard = parseDashboard(
  'shop.yaml',
  `
id: shop
title: Shop
widgets:
  - { id: revenue, title: Revenue, unit: EUR, polarity: higher_is_better, comparisonWindow: 3d, resolution: 1d, source: { type: inline } }
  - { id: refunds, title: Refunds, unit: EUR, polarity: higher_is_worse, comparisonWindow: 3d, resolution: 1d, source: { type: inline } }
`,
);

/** A real enriched input; `level` makes inputs differ (and so their hashes and cache keys). */
function enriched(level: number): EnrichedDashboard {
  const day = (n: number) => `2026-11-${String(n).padStart(2, '0')}T00:00:00.000Z`;
  const series = (key: string, base: number) => ({
    key,
    points: [0, 1, 2, 3, 4, 5, 6].map((i) => ({ t: day(22 + i), v: base + (i >= 4 ? base * 0.2 : 0) })),
  });
  const cleaned = cleanDashboard(dashboard, {
    dashboardId: 'shop',
    asOf: '2026-11-28T12:00:00.000Z',
    widgets: [
      { widgetId: 'revenue', status: 'ok', data: { series: [series('revenue', level)] } },
      { widgetId: 'refunds', status: 'ok', data: { series: [series('refunds', 40)] } },
    ],
  });
  return enrichDashboard(dashboard, cleaned, { tokenBudget: 3000 });
}

const lastAttempt = (): AttemptInfo => ({
  attempt: 99,
  firstScheduledMs: Date.now(),
  signal: new AbortController().signal,
});
const firstAttempt = (): AttemptInfo => ({
  attempt: 1,
  firstScheduledMs: Date.now(),
  signal: new AbortController().signal,
});

function resultOf(outcome: SummarizeOutcome) {
  if (outcome.kind !== 'summary') throw new Error(`expected a summary, got ${outcome.kind}`);
  return outcome.result;
}

const modelRequests = (model: string) =>
  server.requests.filter((r) => (r.body as { model?: string } | undefined)?.model === model).length;

describe('one model call', () => {
  it('sends a strict structured-output request and accounts its tokens and cost', async () => {
    const config = llmConfig();
    const [worker] = twoWorkers(config);
    const result = resultOf(await worker.summarize(enriched(1000), lastAttempt()));
    expect(result).toMatchObject({
      model: 'gpt-4o',
      degraded: false,
      degradedReason: null,
      cacheOutcome: 'miss',
    });
    expect(result.content.insights.map((i) => i.widgetIds[0]).sort()).toEqual(['refunds', 'revenue']);
    expect(result.usage.promptTokens).toBeGreaterThan(100);
    // gpt-4o: 2.5 USD per million prompt tokens, 10 per million completion tokens.
    expect(result.usage.costUsd).toBeCloseTo(
      (result.usage.promptTokens * 2.5 + result.usage.completionTokens * 10) / 1e6,
      8,
    );

    expect(server.requests).toHaveLength(1);
    const body = server.requests[0]?.body as {
      messages: { role: string; content: string }[];
      response_format: { type: string; json_schema: { strict: boolean } };
      max_tokens: number;
    };
    expect(body.response_format.type).toBe('json_schema');
    expect(body.response_format.json_schema.strict).toBe(true);
    expect(body.max_tokens).toBe(config.llm.maxOutputTokens);
    expect(body.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(body.messages[1]?.content).toMatch(/<dashboard-data>\n\{.*\}\n<\/dashboard-data>$/s);
    expect(server.requests[0]?.headers['x-stainless-retry-count']).toBe('0');

    const ledger = new CostLedger(redisFor(config), config.redis.keyPrefix);
    expect((await ledger.spent('shop')).dashboard).toBeCloseTo(result.usage.costUsd, 8);
  });
});

describe('spending only when it matters', () => {
  it('makes no call for an unchanged input', async () => {
    const config = llmConfig();
    const [worker] = twoWorkers(config);
    const input = enriched(1000);
    const store = new SummaryStore(redisFor(config), config.redis.keyPrefix, 10);
    await store.put(draftFor(input), 'seed');
    expect(await worker.summarize(input, lastAttempt())).toEqual({
      kind: 'skip',
      cause: 'unchanged',
      version: 1,
    });
    expect(server.requests).toHaveLength(0);
  });

  it('makes no call for a cached input, and none for an immaterial change', async () => {
    const config = llmConfig();
    const [a, b] = twoWorkers(config);
    const input = enriched(1000);
    expect(resultOf(await a.summarize(input, lastAttempt())).cacheOutcome).toBe('miss');
    const again = resultOf(await b.summarize(input, lastAttempt()));
    expect(again).toMatchObject({ cacheOutcome: 'hit', usage: { costUsd: 0 } });
    expect(server.requests).toHaveLength(1);

    // Once that summary is stored, a change far below the materiality threshold reuses it.
    await new SummaryStore(redisFor(config), config.redis.keyPrefix, 10).put(draftFor(input), 'stored');
    expect(await b.summarize(enriched(1000.5), lastAttempt())).toMatchObject({
      kind: 'skip',
      cause: 'immaterial',
    });
    expect(server.requests).toHaveLength(1);
    // A material change calls again.
    expect(resultOf(await b.summarize(enriched(1300), lastAttempt())).cacheOutcome).toBe('miss');
    expect(server.requests).toHaveLength(2);
  });

  it('makes one call for 20 concurrent identical requests from two workers', async () => {
    const config = llmConfig();
    const [a, b] = twoWorkers(config);
    server.setDefaultFault({ kind: 'delay', ms: 400 });
    const input = enriched(2000);
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).summarize(input, lastAttempt())),
    );
    expect(server.requests).toHaveLength(1);
    const cache = outcomes.map((o) => resultOf(o).cacheOutcome).sort();
    expect(cache.filter((c) => c === 'miss')).toHaveLength(1);
    expect(cache.filter((c) => c === 'hit')).toHaveLength(19);
  });
});

describe('bad replies change the strategy', () => {
  it('repairs a schema-violating reply once with a stricter prompt', async () => {
    const [worker] = twoWorkers(llmConfig());
    server.enqueue({ kind: 'schema-violation' });
    const result = resultOf(await worker.summarize(enriched(1000), lastAttempt()));
    expect(result).toMatchObject({ model: 'gpt-4o', degraded: false });
    expect(server.requests).toHaveLength(2);
    const repair = server.requests[1]?.body as { messages: { content: string }[] };
    expect(repair.messages[1]?.content).toMatch(/previous reply was rejected \(reply breaks the schema/);
  });

  it('never serves invented numbers: after a failed repair the fallback model answers, labelled', async () => {
    const [worker] = twoWorkers(llmConfig());
    server.enqueue({ kind: 'invented-numbers' }, { kind: 'invented-numbers' });
    const result = resultOf(await worker.summarize(enriched(1000), lastAttempt()));
    expect(result).toMatchObject({ model: 'gpt-4o-mini', degraded: true });
    expect(result.degradedReason).toMatch(
      /gpt-4o: ungrounded reply after repair: claims the data does not support/,
    );
    expect(modelRequests('gpt-4o')).toBe(2);
    expect(modelRequests('gpt-4o-mini')).toBe(1);
  });

  it('falls back to the local summarizer when every model fails, and says why', async () => {
    const [worker] = twoWorkers(llmConfig());
    server.setDefaultFault({ kind: 'status', status: 401, message: 'Incorrect API key provided' });
    const result = resultOf(await worker.summarize(enriched(1000), lastAttempt()));
    expect(result).toMatchObject({
      model: 'precis-local-extractive-v1',
      degraded: true,
      cacheOutcome: 'none',
    });
    expect(result.degradedReason).toMatch(/gpt-4o: HTTP 401.*; gpt-4o-mini: HTTP 401/);
  });
});

describe('untrusted data', () => {
  it('never serves a reply that carries a link or repeats the system prompt, whatever the data asked for', async () => {
    const [worker] = twoWorkers(llmConfig());
    const link = {
      headline: 'See https://evil.example/x for details',
      insights: [],
      anomalies: [],
      recommendations: [],
    };
    server.enqueue({ kind: 'reply', content: link }, { kind: 'reply', content: link });
    const result = resultOf(await worker.summarize(enriched(1000), lastAttempt()));
    expect(result).toMatchObject({ model: 'gpt-4o-mini', degraded: true });
    expect(result.degradedReason).toMatch(/gpt-4o: unsafe reply after repair: contains a link/);
    expect(JSON.stringify(result.content)).not.toMatch(/https?:/);

    const system = loadPrompt('prompts').system;
    const leak = { headline: system.slice(0, 180), insights: [], anomalies: [], recommendations: [] };
    server.enqueue({ kind: 'reply', content: leak }, { kind: 'reply', content: leak });
    const leaked = resultOf(await worker.summarize(enriched(1700), lastAttempt()));
    expect(leaked.degradedReason).toMatch(/repeats the system prompt/);
  });
});

/** The worst-case cost of one gpt-4o call on this input: its prompt plus 800 output tokens. */
function worstCaseUsd(input: EnrichedDashboard): number {
  const promptTokens = estimateTokens(
    buildMessages(loadPrompt('prompts'), input, null)
      .map((m) => m.content)
      .join('\n'),
  );
  return (promptTokens * 2.5 + 800 * 10) / 1e6;
}

describe('budgets', () => {
  it('degrades instead of spending past the daily budget of a dashboard', async () => {
    // Budget: 1.2 × the worst-case estimate of one call (prompt + max output tokens at gpt-4o prices). The first
    // call fits; after it has spent its real cost (a third of the estimate or more), the next estimate does not.
    const worstCase = worstCaseUsd(enriched(1000));
    const budget = (worstCase * 1.2).toFixed(6);
    const [worker] = twoWorkers(
      llmConfig({
        PRECIS_BUDGET_DASHBOARD_DAILY_USD: budget,
        PRECIS_LLM_FALLBACK_MODEL: 'none',
        PRECIS_LLM_MAX_OUTPUT_TOKENS: '800',
      }),
    );
    expect(resultOf(await worker.summarize(enriched(1000), lastAttempt())).model).toBe('gpt-4o');
    const second = resultOf(await worker.summarize(enriched(1600), lastAttempt()));
    expect(second).toMatchObject({ model: 'precis-local-extractive-v1', degraded: true });
    expect(second.degradedReason).toContain(
      `daily budget of ${Number(budget)} USD for this dashboard reached`,
    );
    expect(server.requests).toHaveLength(1);
  });
});

describe('retry ownership', () => {
  it('turns a transient failure of the primary into a Temporal retry carrying Retry-After', async () => {
    const [worker] = twoWorkers(llmConfig());
    server.enqueue({ kind: 'status', status: 429, retryAfterSeconds: 7 });
    const error = await worker.summarize(enriched(1000), firstAttempt()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryLater);
    expect((error as RetryLater).delayMs).toBe(7000);
    expect(server.requests).toHaveLength(1);
  });

  it('stops calling on insufficient_quota for its hold, then probes once; the operator CLI ends it at once', async () => {
    const config = llmConfig({ PRECIS_LLM_FALLBACK_MODEL: 'none', PRECIS_LLM_QUOTA_HOLD_MS: '1000' });
    const [a, b] = twoWorkers(config);
    server.enqueue({ kind: 'status', status: 429, type: 'insufficient_quota' });
    expect(resultOf(await a.summarize(enriched(1000), firstAttempt())).degradedReason).toMatch(
      /quota exhausted/,
    );
    expect(resultOf(await b.summarize(enriched(1100), firstAttempt())).degradedReason).toMatch(
      /circuit quota_exhausted/,
    );
    expect(server.requests).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // One probe: it succeeds, the circuit closes for everyone.
    expect(resultOf(await b.summarize(enriched(1200), firstAttempt())).model).toBe('gpt-4o');
    expect(resultOf(await a.summarize(enriched(1300), firstAttempt())).model).toBe('gpt-4o');
    expect(server.requests).toHaveLength(3);

    server.enqueue({ kind: 'status', status: 429, type: 'insufficient_quota' });
    await a.summarize(enriched(1400), firstAttempt());
    const lines: string[] = [];
    const cli = (...args: string[]) => runLlmCli(args, config, redisFor(config), (line) => lines.push(line));
    expect(await cli('status', '--model', 'gpt-4o')).toBe(0);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ model: 'gpt-4o', state: 'quota_exhausted' });
    expect(await cli('quota', 'clear', '--model', 'gpt-4o')).toBe(0);
    expect(JSON.parse(lines.at(-1) ?? '{}')).toEqual({
      model: 'gpt-4o',
      endpoint: server.baseURL,
      cleared: true,
    });
    expect(resultOf(await b.summarize(enriched(1500), firstAttempt())).model).toBe('gpt-4o');
    expect(await cli('quota', 'nonsense')).toBe(2);
  });
});

describe('protection shared by every worker', () => {
  it('opens the breaker on failures from two workers, then lets exactly one half-open probe through', async () => {
    const config = llmConfig({ PRECIS_LLM_FALLBACK_MODEL: 'none' });
    const [a, b] = twoWorkers(config);
    server.setDefaultFault({ kind: 'status', status: 503 });
    for (let i = 0; i < 6; i++) await (i % 2 ? a : b).summarize(enriched(1000 + i * 100), lastAttempt());
    // Opened after the 4th failure (minimum requests 4, all failed): the 5th and 6th never reached the server.
    expect(modelRequests('gpt-4o')).toBe(4);

    server.setDefaultFault({ kind: 'delay', ms: 300 });
    await new Promise((resolve) => setTimeout(resolve, 800)); // cooldown 600 ms ± 20 %
    const burst = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? a : b).summarize(enriched(5000 + i * 100), lastAttempt()),
      ),
    );
    expect(modelRequests('gpt-4o')).toBe(5); // one probe
    const models = burst.map((o) => resultOf(o).model);
    expect(models.filter((m) => m === 'gpt-4o')).toHaveLength(1);
    expect(
      burst.map((o) => resultOf(o).degradedReason).filter((r) => r?.includes('circuit half_open')),
    ).toHaveLength(9);

    // The probe succeeded: the circuit is closed for everyone.
    expect(resultOf(await b.summarize(enriched(9000), lastAttempt())).model).toBe('gpt-4o');
  });

  it('holds a tokens-per-minute limit across two workers, handing the wait to Temporal', async () => {
    const config = llmConfig({ PRECIS_LLM_TPM: '4000', PRECIS_LLM_MAX_OUTPUT_TOKENS: '800' });
    const [a, b] = twoWorkers(config);
    server.setDefaultFault({ kind: 'delay', ms: 300 });
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? a : b).summarize(enriched(1000 + i * 500), firstAttempt()).catch((e: unknown) => e),
      ),
    );
    const waited = outcomes.filter((o): o is RetryLater => o instanceof RetryLater);
    const served = outcomes.filter((o) => !(o instanceof Error));
    // Each call reserves its prompt estimate plus 800 output tokens (~1.5k): two fit in 4000, the rest wait.
    expect(served.length).toBe(server.requests.length);
    expect(server.requests.length).toBeGreaterThanOrEqual(1);
    expect(server.requests.length).toBeLessThanOrEqual(2);
    expect(waited.length).toBe(6 - server.requests.length);
    for (const retry of waited) expect(retry.delayMs).toBeGreaterThan(10_000);
  });
});

describe('through Temporal', () => {
  const sre = parseDashboard(
    'sre.yaml',
    'id: sre-checkout\ntitle: Checkout\nwidgets:\n  - { id: requests, title: Requests, source: { type: demo } }\n',
  );
  let connection: Connection;
  let client: Client;
  const workers: Service[] = [];

  beforeAll(async () => {
    const config = llmConfig();
    connection = await Connection.connect({ address: config.temporal.address });
    client = new Client({ connection, namespace: config.temporal.namespace });
  });

  const configs: Config[] = [];
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.close();
    for (const config of configs.splice(0)) await deleteRunTopics(config);
  });

  afterAll(async () => {
    await connection?.close();
  });

  async function start(config: Config): Promise<void> {
    const logger = pino({ level: 'error' });
    configs.push(config);
    workers.push(await buildPipelineWorker(config, logger), await buildLlmWorker(config, logger));
  }

  it('honours Retry-After: Temporal retries the model call after the delay the provider asked for', async () => {
    const config = llmConfig({ PRECIS_DASHBOARDS_DIR: 'dashboards' });
    await start(config);
    server.enqueue({ kind: 'status', status: 429, retryAfterSeconds: 2 });
    await signalDashboard(client, config, sre, [{ eventId: 'r1', occurredAt: new Date().toISOString() }]);
    await client.workflow.getHandle(dashboardWorkflowId(config, 'sre-checkout')).result();
    const store = new SummaryStore(redisFor(config), config.redis.keyPrefix, 10);
    expect(await store.latest('sre-checkout')).toMatchObject({
      model: 'gpt-4o',
      degraded: false,
      cacheOutcome: 'miss',
    });
    expect(server.requests).toHaveLength(2);
    const gap =
      (server.requests[1]?.receivedAt.getTime() ?? 0) - (server.requests[0]?.receivedAt.getTime() ?? 0);
    expect(gap).toBeGreaterThanOrEqual(2000);
    expect(gap).toBeLessThan(6000);
  });

  it('retries a 500 that asks for no delay (retry-after-ms: 0) instead of giving up on the model', async () => {
    // Found by the chaos suite: a next-retry delay of 0 made Temporal end the activity (retry state TIMEOUT) after
    // one attempt, so every 5xx with a zero rate-limit reset went straight to the local summarizer.
    const config = llmConfig({ PRECIS_DASHBOARDS_DIR: 'dashboards' });
    await start(config);
    server.enqueue({ kind: 'status', status: 500, retryAfterMs: 0 });
    await signalDashboard(client, config, sre, [{ eventId: 'z1', occurredAt: new Date().toISOString() }]);
    await client.workflow.getHandle(dashboardWorkflowId(config, 'sre-checkout')).result();
    // One summary, by the model: not a degraded one upgraded later.
    const history = await new SummaryStore(redisFor(config), config.redis.keyPrefix, 10).history(
      'sre-checkout',
      10,
    );
    expect(history.map((s) => [s.model, s.degraded])).toEqual([['gpt-4o', false]]);
    expect(server.requests).toHaveLength(2);
  });

  it('keeps a slow model call alive by heartbeats, with timeouts sized from the configuration', async () => {
    const config = llmConfig({ PRECIS_LLM_TIMEOUT_MS: '8000', PRECIS_LLM_HEARTBEAT_TIMEOUT_MS: '2000' });
    await start(config);
    // The reply takes 2.5 heartbeat timeouts: only an activity that heartbeats during the call survives it.
    server.setDefaultFault({ kind: 'delay', ms: 5000 });
    await signalDashboard(client, config, sre, [{ eventId: 'h1', occurredAt: new Date().toISOString() }]);
    const handle = client.workflow.getHandle(dashboardWorkflowId(config, 'sre-checkout'));
    await handle.result();
    expect(
      await new SummaryStore(redisFor(config), config.redis.keyPrefix, 10).latest('sre-checkout'),
    ).toMatchObject({ model: 'gpt-4o', degraded: false });
    expect(server.requests).toHaveLength(1);

    const ms = (d: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
      Number(d?.seconds ?? 0) * 1000 + (d?.nanos ?? 0) / 1e6;
    const events = (await handle.fetchHistory()).events ?? [];
    // Done on the first attempt: no heartbeat timeout cut it off.
    expect(events.filter((e) => e.activityTaskTimedOutEventAttributes)).toHaveLength(0);
    expect(
      events.find((e) => e.activityTaskStartedEventAttributes)?.activityTaskStartedEventAttributes?.attempt,
    ).toBe(1);
    const scheduled = events
      .map((e) => e.activityTaskScheduledEventAttributes)
      .find((a) => a?.activityType?.name === 'summarizeWithModel');
    const expected = modelTimeouts(config.llm);
    expect(ms(scheduled?.heartbeatTimeout)).toBe(2000);
    expect(ms(scheduled?.startToCloseTimeout)).toBe(expected.startToCloseMs);
    expect(ms(scheduled?.scheduleToCloseTimeout)).toBe(expected.scheduleToCloseMs);
  });

  it('serves a degraded summary at once and upgrades it when the model recovers', async () => {
    const config = llmConfig({
      PRECIS_LLM_PRIMARY_ATTEMPTS: '1',
      PRECIS_LLM_FALLBACK_MODEL: 'none',
      PRECIS_LLM_UPGRADE_DELAYS_MS: '1000,1000,1000,1000',
    });
    await start(config);
    server.setDefaultFault({ kind: 'status', status: 503 });
    await signalDashboard(client, config, sre, [{ eventId: 'u1', occurredAt: new Date().toISOString() }]);
    const store = new SummaryStore(redisFor(config), config.redis.keyPrefix, 10);
    const degraded = await eventually(
      'a degraded summary',
      async () => (await store.latest('sre-checkout')) ?? undefined,
    );
    expect(degraded).toMatchObject({ version: 1, degraded: true, model: 'precis-local-extractive-v1' });
    expect(degraded.degradedReason).toMatch(/HTTP 503/);

    server.setDefaultFault(null);
    await client.workflow.getHandle(dashboardWorkflowId(config, 'sre-checkout')).result();
    expect(await store.latest('sre-checkout')).toMatchObject({
      version: 2,
      degraded: false,
      model: 'gpt-4o',
    });
  });
  it('an upgrade answered by the fallback model stores that paid reply, then the primary upgrades it', async () => {
    const config = llmConfig({
      PRECIS_LLM_PRIMARY_ATTEMPTS: '1',
      PRECIS_LLM_FALLBACK_MODEL: 'gpt-4o-mini',
      PRECIS_LLM_UPGRADE_DELAYS_MS: '1000,1000,1000,1000',
    });
    await start(config);
    server.setDefaultFault({ kind: 'status', status: 503 });
    await signalDashboard(client, config, sre, [{ eventId: 'f1', occurredAt: new Date().toISOString() }]);
    const store = new SummaryStore(redisFor(config), config.redis.keyPrefix, 10);
    const local = await eventually(
      'a local summary',
      async () => (await store.latest('sre-checkout')) ?? undefined,
    );
    expect(local).toMatchObject({ version: 1, degraded: true, model: 'precis-local-extractive-v1' });

    // The first upgrade: the primary fails once more, the fallback answers (a paid reply).
    const before = server.requests.length;
    server.setDefaultFault(null);
    server.enqueue({ kind: 'status', status: 503 });
    await client.workflow.getHandle(dashboardWorkflowId(config, 'sre-checkout')).result();

    const history = await store.history('sre-checkout', 10);
    const byVersion = [...history].sort((a, b) => a.version - b.version);
    expect(byVersion.map((s) => [s.version, s.model, s.degraded])).toEqual([
      [1, 'precis-local-extractive-v1', true],
      [2, 'gpt-4o-mini', true],
      [3, 'gpt-4o', false],
    ]);
    // Every reply answered 200 is a stored summary: none bought and dropped.
    const answered = server.requests
      .slice(before)
      .filter((r) => r.outcome.type === 'response' && r.outcome.status === 200);
    expect(answered.map((r) => (r.body as { model?: string }).model)).toEqual(['gpt-4o-mini', 'gpt-4o']);
  });
});

describe('the real OpenAI API', () => {
  const live = process.env.OPENAI_API_KEY ? it : it.skip;
  live('summarizes with the configured model when OPENAI_API_KEY is set', async () => {
    const config = isolatedConfig({ OPENAI_API_KEY: process.env.OPENAI_API_KEY });
    prefixes.push(config.redis.keyPrefix);
    const summarizer = buildSummarizer(config, redisFor(config));
    const result = resultOf(await summarizer.summarize(enriched(1000), lastAttempt()));
    expect(result.degraded).toBe(false);
    expect(result.usage.promptTokens).toBeGreaterThan(0);
  });
});

function draftFor(input: EnrichedDashboard): SummaryDraft {
  return summaryDraft(input.dashboardId, {
    dataAsOf: input.dataAsOf,
    headline: 'seeded',
    insights: [],
    eventIds: [],
    model: 'gpt-4o',
    cacheOutcome: 'miss',
    inputHash: input.inputHash,
  });
}

/**
 * Makes commands of one real Redis connection fail, as a dropped connection would, while `when` says so: the
 * fault is injected at the client's send, Redis itself stays real.
 */
function failCommands(redis: Redis, when: (name: string, args: unknown[]) => boolean): () => number {
  const send = redis.sendCommand.bind(redis);
  let failed = 0;
  redis.sendCommand = (command: Command, stream?: Parameters<Redis['sendCommand']>[1]) => {
    if (when(command.name, command.args)) {
      failed++;
      command.reject(new Error(`injected Redis failure on ${command.name}`));
      return command.promise;
    }
    return send(command, stream);
  };
  return () => failed;
}

const argsMention = (args: unknown[], text: string) => args.some((a) => String(a).includes(text));

/** The primary model's reply was served, bought from the provider once, and its cost booked once. */
async function expectPaidOnce(config: Config, result: ReturnType<typeof resultOf>): Promise<void> {
  expect(result).toMatchObject({ model: 'gpt-4o', degraded: false });
  expect(server.requests).toHaveLength(1);
  const ledger = new CostLedger(redisFor(config), config.redis.keyPrefix);
  expect((await ledger.spent('shop')).dashboard).toBeCloseTo(result.usage.costUsd, 8);
}

describe('nothing paid twice', () => {
  it('a retry after an attempt that died once the provider had answered makes no second call', async () => {
    const config = llmConfig({ PRECIS_LLM_FALLBACK_MODEL: 'none' });
    const dying = redisFor(config);
    // Worker A gets its reply, then loses Redis before it can cache it: its attempt fails.
    failCommands(dying, (name, args) => name === 'set' && argsMention(args, 'llm:cache:'));
    const a = buildSummarizer(config, dying);
    await expect(a.summarize(enriched(1000), firstAttempt())).rejects.toThrow(/injected Redis failure/);
    expect(server.requests).toHaveLength(1);

    // Temporal retries the activity on worker B: it resumes from the kept reply.
    const b = buildSummarizer(config, redisFor(config));
    const result = resultOf(await b.summarize(enriched(1000), { ...firstAttempt(), attempt: 2 }));
    await expectPaidOnce(config, result);
  });

  it('a Redis error while settling after a paid call retries the bookkeeping, not the call', async () => {
    const config = llmConfig();
    const redis = redisFor(config);
    let answered = false;
    server.setResponder((request) => {
      answered = true;
      return defaultResponder(request);
    });
    // The first command the worker sends after the provider answered fails (limiter settle, ledger, or the store).
    let spent = false;
    const failures = failCommands(redis, () => {
      if (!answered || spent) return false;
      spent = true;
      return true;
    });
    const result = resultOf(await buildSummarizer(config, redis).summarize(enriched(1000), firstAttempt()));
    expect(failures()).toBe(1);
    await expectPaidOnce(config, result);
  });

  it('a leader slower than its single-flight lock keeps it: one provider request for two workers', async () => {
    const config = llmConfig();
    const client = createOpenAiClient(config.llm);
    server.setDefaultFault({ kind: 'delay', ms: 1500 });
    const produce = async () => {
      await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
      return { value: 'reply', cacheable: true };
    };
    const caches = [redisFor(config), redisFor(config)].map(
      (redis) => new ReplyCache<string>(redis, config.redis.keyPrefix, 60),
    );
    const outcomes = await Promise.all(
      caches.map(async (cache, i) => {
        await new Promise((resolve) => setTimeout(resolve, i * 100));
        // The lock lives 500 ms unless renewed; the call takes 1500 ms.
        return cache.singleFlight('slow-key', produce, { lockMs: 500, pollMs: 20 });
      }),
    );
    expect(server.requests).toHaveLength(1);
    expect(outcomes.map((o) => o.shared).sort()).toEqual([false, true]);
  });
});

describe('the shared limit counts what reached the provider', () => {
  const limiterTokens = (redis: Redis, config: Config, endpoint: string) =>
    redis.get(`${config.redis.keyPrefix}llm:limit:${endpoint}|gpt-4o:total`).then(Number);

  it('keeps the reservation of a call the provider answered with 5xx', async () => {
    const config = llmConfig({ PRECIS_LLM_FALLBACK_MODEL: 'none' });
    const redis = redisFor(config);
    server.enqueue({ kind: 'status', status: 503 });
    const result = resultOf(await buildSummarizer(config, redis).summarize(enriched(1000), lastAttempt()));
    expect(result.degradedReason).toMatch(/HTTP 503/);
    expect(server.requests).toHaveLength(1);
    expect(await limiterTokens(redis, config, server.baseURL)).toBeGreaterThan(config.llm.maxOutputTokens);
  });

  it('refunds a call that never left (connection refused)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const endpoint = `http://127.0.0.1:${port}/v1`;
    const config = llmConfig({ PRECIS_LLM_FALLBACK_MODEL: 'none', PRECIS_LLM_BASE_URL: endpoint });
    const redis = redisFor(config);
    const result = resultOf(await buildSummarizer(config, redis).summarize(enriched(1000), lastAttempt()));
    expect(result.degradedReason).toMatch(/cannot reach the model endpoint/);
    expect(await limiterTokens(redis, config, endpoint)).toBe(0);
  });
});

describe('budgets hold across workers', () => {
  it('lets at most k of N concurrent calls through a budget that fits k', async () => {
    const worstCase = worstCaseUsd(enriched(9999));
    const config = llmConfig({
      PRECIS_BUDGET_DASHBOARD_DAILY_USD: (worstCase * 3.5).toFixed(6),
      PRECIS_LLM_FALLBACK_MODEL: 'none',
      PRECIS_LLM_MAX_OUTPUT_TOKENS: '800',
    });
    const [a, b] = twoWorkers(config);
    server.setDefaultFault({ kind: 'delay', ms: 300 });
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).summarize(enriched(1000 + i * 100), lastAttempt())),
    );
    expect(server.requests.length).toBeGreaterThanOrEqual(1);
    expect(server.requests.length).toBeLessThanOrEqual(3);
    const refused = outcomes.map((o) => resultOf(o).degradedReason).filter((r) => r?.includes('budget'));
    expect(refused).toHaveLength(8 - server.requests.length);
  });

  it('refuses to start with a model that has no price, and budgets one priced by the operator', () => {
    const local = { PRECIS_LLM_MODEL: 'llama3.1:8b', PRECIS_LLM_FALLBACK_MODEL: 'none' };
    const redis = redisFor(llmConfig());
    expect(() => buildSummarizer(llmConfig(local), redis)).toThrow(
      /no price for model "llama3\.1:8b" in config\/prices\.json \(PRECIS_PRICES_FILE\).*PRECIS_PRICE_DEFAULT_INPUT_USD and PRECIS_PRICE_DEFAULT_OUTPUT_USD/,
    );
    expect(() =>
      buildSummarizer(llmConfig({ ...local, PRECIS_PRICE_DEFAULT_INPUT_USD: '0.1' }), redis),
    ).toThrow(/must be set together/);
  });

  it('counts an unlisted model at the configured default price', async () => {
    const config = llmConfig({
      PRECIS_LLM_MODEL: 'llama3.1:8b',
      PRECIS_LLM_FALLBACK_MODEL: 'none',
      PRECIS_PRICE_DEFAULT_INPUT_USD: '1',
      PRECIS_PRICE_DEFAULT_OUTPUT_USD: '2',
    });
    const result = resultOf(
      await buildSummarizer(config, redisFor(config)).summarize(enriched(1000), lastAttempt()),
    );
    expect(result.model).toBe('llama3.1:8b');
    expect(result.usage.costUsd).toBeCloseTo(
      (result.usage.promptTokens * 1 + result.usage.completionTokens * 2) / 1e6,
      8,
    );
  });
});

describe('the reply cache key', () => {
  it('misses when the prompt file was edited or the endpoint changed', async () => {
    const config = llmConfig();
    expect(
      resultOf(await buildSummarizer(config, redisFor(config)).summarize(enriched(1000), lastAttempt())),
    ).toMatchObject({ cacheOutcome: 'miss' });
    expect(
      resultOf(await buildSummarizer(config, redisFor(config)).summarize(enriched(1000), lastAttempt())),
    ).toMatchObject({ cacheOutcome: 'hit' });

    const edited = mkdtempSync(join(tmpdir(), 'precis-prompts-'));
    const original = readFileSync(join('prompts', `${PROMPT_VERSION}.md`), 'utf8');
    writeFileSync(join(edited, `${PROMPT_VERSION}.md`), `${original}\nNever mention weekends.\n`);
    const withEdit = { ...config, llm: { ...config.llm, promptsDir: edited } };
    expect(
      resultOf(await buildSummarizer(withEdit, redisFor(config)).summarize(enriched(1000), lastAttempt())),
    ).toMatchObject({ cacheOutcome: 'miss' });
    expect(server.requests).toHaveLength(2);

    const other = await startOpenAiServer();
    try {
      const elsewhere = { ...config, llm: { ...config.llm, baseUrl: other.baseURL } };
      expect(
        resultOf(await buildSummarizer(elsewhere, redisFor(config)).summarize(enriched(1000), lastAttempt())),
      ).toMatchObject({ cacheOutcome: 'miss' });
      expect(other.requests).toHaveLength(1);
    } finally {
      await other.close();
    }
  });
});
