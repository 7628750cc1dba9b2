/**
 * PII in dashboard data never reaches the model, nor the logs. The whole pipeline runs on the real engines
 * (Temporal workers for the pipeline and the model, Redis), with an `http` source that serves series named after
 * people (e-mail addresses, card and phone numbers, also glued to labels and in full-width characters) and a
 * widget whose data carries PII where a number should be (a mapping error quoting it). The model is the
 * project's OpenAI-compatible test server, which records every request; the workers' pino output is captured.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { createKafka, createProducer, createRedis, ensureTopics } from '../../src/clients';
import type { Config } from '../../src/config';
import { DashboardRegistry } from '../../src/domain/registry';
import { IngestConsumer } from '../../src/ingest/consumer';
import { EventDeduper } from '../../src/ingest/dedupe';
import { dashboardWorkflowId, signalDashboard } from '../../src/ingest/starter';
import type { Service } from '../../src/process';
import { BlobStore } from '../../src/store/blobs';
import { SummaryStore } from '../../src/store/summaries';
import { buildLlmWorker } from '../../workers/llm';
import { buildPipelineWorker } from '../../workers/pipeline';
import { deleteRunTopics, eventually, isolatedConfig } from '../support/config';
import { type OpenAiTestServer, startOpenAiServer } from '../support/openai-server';
import { deleteKeysWithPrefix } from '../support/redis';

const HOUR = 3_600_000;
/** What must never leave precis towards the model or into a log line, in the forms they are planted in. */
const PII = {
  email: 'john.doe@example.com',
  email2: 'jane@example.org',
  card: '4111111111111111',
  phone: '4155550100',
  fullWidthEmail: 'ｍａｒｙ＠ｅｘａｍｐｌｅ．ｃｏｍ',
};
const PLANTED = [
  `buyer ${PII.email}`,
  'card 4111 1111 1111 1111',
  `cc_${PII.card}`,
  'call +1 415-555-0100',
  'tel415.555.0100x',
  PII.fullWidthEmail,
];

/** Every way a planted value could show up again: as written, digits only, or NFKC-normalized. */
function leaks(text: string): string[] {
  const digits = text.replace(/\D/g, '');
  const normalized = text.normalize('NFKC');
  const found: string[] = [];
  // The local part alone is enough to name someone (a cut-off "john.doe@e…" still does).
  for (const email of [PII.email, PII.email2, 'mary@example.com']) {
    if (normalized.includes(email.slice(0, email.indexOf('@') + 1))) found.push(email);
  }
  if (digits.includes(PII.card)) found.push('card');
  if (digits.includes(PII.phone)) found.push('phone');
  return found;
}

let openai: OpenAiTestServer;
let source: Server;
let dashboardsDir: string;
let config: Config;
let redis: Redis;
let connection: Connection;
const workers: Service[] = [];
const logLines: string[] = [];

beforeAll(async () => {
  openai = await startOpenAiServer();
  const now = Math.floor(Date.now() / HOUR) * HOUR;
  const rows = PLANTED.flatMap((who, i) =>
    Array.from({ length: 6 }, (_, h) => ({
      t: new Date(now - (5 - h) * HOUR).toISOString(),
      v: 10 * (i + 1) + h,
      who,
    })),
  );
  source = createServer((request, response) => {
    const body =
      request.url === '/poisoned' ? { rows: [{ t: new Date(now).toISOString(), v: PII.email2 }] } : { rows };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(source.address() as AddressInfo).port}`;
  dashboardsDir = mkdtempSync(join(tmpdir(), 'precis-pii-'));
  writeFileSync(
    join(dashboardsDir, 'customers.yaml'),
    `id: customers
title: Customers
widgets:
  - id: spend
    title: Spend by customer
    kind: breakdown
    comparisonWindow: 3h
    resolution: 1h
    source: { type: http, url: '${base}/spend', mapping: { items: rows, time: t, value: v, series: who } }
  - id: poisoned
    title: Poisoned
    comparisonWindow: 3h
    resolution: 1h
    source: { type: http, url: '${base}/poisoned', mapping: { items: rows, time: t, value: v } }
`,
  );
  config = isolatedConfig({
    PRECIS_DASHBOARDS_DIR: dashboardsDir,
    OPENAI_API_KEY: 'sk-test',
    PRECIS_LLM_BASE_URL: openai.baseURL,
    PRECIS_LLM_TIMEOUT_MS: '5000',
    PRECIS_HTTP_ALLOWED_HOSTS: '127.0.0.1',
    PRECIS_HTTP_ALLOWED_NETWORKS: '127.0.0.0/8',
    PRECIS_QUIET_PERIOD_MS: '0',
    PRECIS_LOG_LEVEL: 'debug',
  });
  // Every line the workers (and their activities) log, at debug level: nothing is too verbose to leak.
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logLines.push(chunk.toString());
      callback();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  workers.push(await buildPipelineWorker(config, logger), await buildLlmWorker(config, logger));
  redis = createRedis(config);
  connection = await Connection.connect({ address: config.temporal.address });
});

afterAll(async () => {
  for (const worker of workers) await worker.close();
  await connection?.close();
  await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
  redis.disconnect();
  await deleteRunTopics(config);
  await openai.close();
  await new Promise<void>((resolve) => source.close(() => resolve()));
  rmSync(dashboardsDir, { recursive: true, force: true });
});

describe('PII in dashboard data', () => {
  it('never reaches the model server nor the logs', async () => {
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const dashboard = DashboardRegistry.fromDirectory(dashboardsDir).get('customers');
    if (!dashboard) throw new Error('dashboard not loaded');
    await signalDashboard(client, config, dashboard, [
      { eventId: 'pii-1', occurredAt: new Date().toISOString() },
    ]);
    await client.workflow.getHandle(dashboardWorkflowId(config, 'customers')).result();
    const store = new SummaryStore(redis, config.redis.keyPrefix, 10);
    const summary = await eventually(
      'the summary',
      async () => (await store.latest('customers')) ?? undefined,
    );

    // The model was asked, and saw the customers' series, only redacted.
    const chat = openai.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(chat.length).toBeGreaterThan(0);
    expect(summary.model).toBe('gpt-4o');
    const sent = chat.map((r) => r.rawBody).join('\n');
    expect(sent).toMatch(/\[email\]/);
    expect(sent).toMatch(/\[card\]/);
    expect(leaks(sent)).toEqual([]);
    expect(leaks(logLines.join(''))).toEqual([]);
    expect(leaks(JSON.stringify(summary))).toEqual([]);
  });

  it('never reaches the ingest logs when a message with PII is dead-lettered', async () => {
    await ensureTopics(createKafka(config, 'pii-setup', pino({ level: 'silent' })), config);
    const ingestLines: string[] = [];
    const consumer = new IngestConsumer({
      kafka: createKafka(config, 'pii-ingest', pino({ level: 'silent' })),
      temporal: new Client({ connection, namespace: config.temporal.namespace }),
      registry: DashboardRegistry.fromDirectory(dashboardsDir),
      deduper: new EventDeduper(redis, config.redis.keyPrefix, 60),
      blobs: new BlobStore(redis, config.redis.keyPrefix, 60),
      config,
      logger: pino({ level: 'debug' }, { write: (line: string) => ingestLines.push(line) }),
    });
    const producer = createProducer(createKafka(config, 'pii-producer', pino({ level: 'silent' })));
    await producer.connect();
    try {
      await consumer.start();
      // Broken JSON (whose parse error quotes the text) and a key that names a person.
      await producer.send({
        topic: config.kafka.eventsTopic,
        messages: [
          { key: 'customers', value: `{"who": ${PII.email}, "card": "4111 1111 1111 1111"}` },
          {
            key: `+1 415-555-0100 ${PII.email2}`,
            value: JSON.stringify({
              schemaVersion: 1,
              eventId: 'pii-2',
              type: 'dashboard.data_changed',
              dashboardId: 'customers',
              occurredAt: new Date().toISOString(),
            }),
          },
        ],
      });
      await eventually('both dead-lettered', async () =>
        consumer.stats.deadLettered === 2 ? true : undefined,
      );
    } finally {
      await consumer.stop();
      await producer.disconnect();
    }
    expect(ingestLines.join('')).toMatch(/event dead-lettered/);
    expect(leaks(ingestLines.join(''))).toEqual([]);
  });
});
