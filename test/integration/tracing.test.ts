/**
 * Tracing on the real engines: the ingest, pipeline and LLM workers run as processes of their own with
 * PRECIS_TRACING=otlp, exporting to a small OTLP/HTTP receiver; one event with a W3C traceparent goes to the real
 * Kafka, and its trace must run, unbroken, from the producer's span through the ingest, the signal-with-start, the
 * workflow, every activity and the model call (the OpenAI-compatible test server) to the store. Two events folded
 * into one summary: the summary joins the first one's trace and links the second's. With tracing off (the default)
 * nothing is exported, and Temporal carries no trace header.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import { Worker } from '@temporalio/worker';
import type { Kafka, Producer } from 'kafkajs';
import pino from 'pino';
import {
  awaitReady,
  type ChildHandle,
  childEnv,
  entryCommand,
  hasPollers,
  startChild,
  stopAll,
} from '../../bench/processes';
import { createKafka, createProducer, createRedis, ensureTopics } from '../../src/clients';
import { type Config, loadConfig } from '../../src/config';
import type { Service } from '../../src/process';
import { replayWorkerTracing } from '../../src/tracing/temporal';
import { buildIngestWorker } from '../../workers/ingest';
import { buildPipelineWorker } from '../../workers/pipeline';
import { deleteRunTopics, eventually, isolatedEnv } from '../support/config';
import { type OpenAiTestServer, startOpenAiServer } from '../support/openai-server';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../support/otlp-receiver';
import { deleteKeysWithPrefix } from '../support/redis';

/** Summarized alone: its trace is the one-event case. */
const SINGLE = 'sre-checkout';
/** Two events in two hand-overs within its 5 s quiet period: one summary folds both. */
const BATCHED = 'marketing-funnel';
const logger = pino({ level: 'error' });

/** A producer's span, as a traceparent header: the trace the event must stay in. */
function producerContext(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

async function produceEvent(
  config: Config,
  dashboardId: string,
  headers: Record<string, string>,
): Promise<string> {
  const kafka: Kafka = createKafka(config, 'tracing-test', logger);
  await ensureTopics(kafka, config);
  const producer: Producer = createProducer(kafka);
  await producer.connect();
  const eventId = randomUUID();
  try {
    await producer.send({
      topic: config.kafka.eventsTopic,
      messages: [
        {
          key: dashboardId,
          headers,
          value: JSON.stringify({
            schemaVersion: 1,
            eventId,
            type: 'dashboard.data_changed',
            dashboardId,
            occurredAt: new Date().toISOString(),
          }),
        },
      ],
    });
  } finally {
    await producer.disconnect();
  }
  return eventId;
}

async function temporalClient(config: Config): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: config.temporal.address });
  return { connection, client: new Client({ connection, namespace: config.temporal.namespace }) };
}

/** Removes what a test run left: its topics and Redis keys. */
async function cleanUp(config: Config): Promise<void> {
  await deleteRunTopics(config);
  const redis = createRedis(config);
  await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
  redis.disconnect();
}

function workflowOf(client: Client, config: Config, dashboardId: string) {
  return client.workflow.getHandle(`${config.temporal.workflowIdPrefix}${dashboardId}`);
}

/** The dashboard's workflow, once its run completed after one summary (PRECIS_WORKFLOW_IDLE_MS=0). */
async function summarized(client: Client, config: Config, dashboardId: string) {
  const handle = workflowOf(client, config, dashboardId);
  await eventually('the dashboard workflow', () => handle.describe());
  await expect(handle.result()).resolves.toMatchObject({ summariesMade: 1 });
  return handle;
}

/** The one span named `name` (exactly one, or the test fails saying how many). */
function only(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((span) => span.name === name);
  if (found.length !== 1)
    throw new Error(`expected one span "${name}", found ${found.length} among ${spans.map((s) => s.name)}`);
  return found[0] as ReceivedSpan;
}

describe('with tracing on (PRECIS_TRACING=otlp), as separate processes', () => {
  const single = producerContext();
  const first = producerContext();
  const second = producerContext();
  let receiver: OtlpReceiver;
  let model: OpenAiTestServer;
  let config: Config;
  let temporal: { client: Client; connection: Connection };
  const children: ChildHandle[] = [];
  let eventId: string;
  let exits: string[];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    model = await startOpenAiServer();
    const { runId, env } = isolatedEnv({
      PRECIS_TRACING: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OPENAI_API_KEY: 'sk-test',
      PRECIS_LLM_BASE_URL: model.baseURL,
    });
    config = loadConfig(env);
    const logDir = mkdtempSync(join(tmpdir(), `precis-tracing-${runId}-`));
    temporal = await temporalClient(config);
    const { client } = temporal;
    for (const entry of ['workers/pipeline', 'workers/llm', 'workers/ingest']) {
      const { command, args } = entryCommand('source', entry);
      children.push(
        startChild({ name: entry.replace('workers/', ''), command, args, env: childEnv(env), logDir }),
      );
    }
    const [pipeline, llm] = children as [ChildHandle, ChildHandle, ChildHandle];
    await awaitReady(pipeline, 'workflow pollers', () =>
      hasPollers(client, config.temporal.taskQueue, 'workflow'),
    );
    await awaitReady(llm, 'model activity pollers', () =>
      hasPollers(client, config.llm.taskQueue, 'activity'),
    );

    eventId = await produceEvent(config, SINGLE, { traceparent: single.traceparent, tracestate: 'test=1' });
    await produceEvent(config, BATCHED, { traceparent: first.traceparent });
    // The second event comes once the first was handed over, in a hand-over of its own, well within the quiet period.
    await eventually('the batched dashboard workflow', () => workflowOf(client, config, BATCHED).describe());
    await produceEvent(config, BATCHED, { traceparent: second.traceparent });
    await summarized(client, config, SINGLE);
    await summarized(client, config, BATCHED);
    // SIGTERM: each process flushes what its span processor still holds before it exits.
    exits = await Promise.all(children.map((child) => child.stop()));
  });

  afterAll(async () => {
    await stopAll(children);
    await temporal?.connection.close();
    await model?.close();
    await receiver?.close();
    if (config) await cleanUp(config);
  });

  it('stops every process cleanly, after flushing its spans', () => {
    expect(exits).toEqual(['0', '0', '0']);
    expect(receiver.spans.length).toBeGreaterThan(0);
  });

  it('follows one event in one trace from the Kafka header to the stored summary, model call included', () => {
    const traced = receiver.spans.filter((span) => span.traceId === single.traceId);
    const ingest = only(traced, 'precis.ingest');
    expect(ingest).toMatchObject({
      service: 'precis-ingest',
      parentSpanId: single.spanId,
      attributes: expect.objectContaining({
        'precis.event.id': eventId,
        'precis.dashboard.id': SINGLE,
        'messaging.destination.name': config.kafka.eventsTopic,
        'messaging.destination.partition.id': expect.any(String),
        'messaging.kafka.offset': 0,
        'precis.ingest.outcome': 'handed-over',
      }),
    });
    const handover = only(traced, 'precis.handover');
    expect(handover.parentSpanId).toBe(ingest.spanId);
    const signalWithStart = only(traced, 'SignalWithStartWorkflow:dashboardWorkflow');
    expect(signalWithStart.parentSpanId).toBe(handover.spanId);
    const run = only(traced, 'RunWorkflow:dashboardWorkflow');
    expect(run).toMatchObject({ service: 'precis-pipeline', parentSpanId: signalWithStart.spanId });
    const signal = only(traced, 'HandleSignal:eventsHandedOver');
    expect(signal.parentSpanId).toBe(signalWithStart.spanId);
    // The summary continues the trace of the first hand-over it folds (here the only one).
    const summary = only(traced, 'precis.summary');
    expect(summary).toMatchObject({
      parentSpanId: signal.spanId,
      statusCode: 1,
      attributes: expect.objectContaining({ 'precis.dashboard.id': SINGLE, 'precis.summary.handovers': 1 }),
    });

    // Every activity of the summary: scheduled under the summary, run (on its worker) under its scheduling.
    // gather plans and collects every widget in one step (a widget it could not collect would add a collectWidget).
    expect(traced.filter((span) => span.name === 'RunActivity:gather')).toHaveLength(1);
    for (const activity of ['gather', 'prepare', 'summarizeWithModel', 'deliver']) {
      const scheduled = traced.filter((span) => span.name === `StartActivity:${activity}`);
      const ran = traced.filter((span) => span.name === `RunActivity:${activity}`);
      expect(scheduled.length).toBeGreaterThan(0);
      expect(ran).toHaveLength(scheduled.length);
      for (const span of scheduled) expect(span.parentSpanId).toBe(summary.spanId);
      for (const span of ran) expect(scheduled.map((s) => s.spanId)).toContain(span.parentSpanId);
    }
    expect(only(traced, 'RunActivity:summarizeWithModel').service).toBe('precis-llm');
    expect(only(traced, 'RunActivity:deliver').service).toBe('precis-pipeline');

    // The model call, with GenAI attributes and nothing of the prompt.
    const chat = only(traced, 'chat gpt-4o');
    expect(chat).toMatchObject({
      service: 'precis-llm',
      parentSpanId: only(traced, 'RunActivity:summarizeWithModel').spanId,
      attributes: expect.objectContaining({
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.response.finish_reasons': ['stop'],
      }),
    });
    expect(chat.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(chat.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    const prompts = model.requests.map((request) => JSON.stringify(request.body ?? {}));
    expect(prompts.length).toBeGreaterThan(0);
    for (const value of Object.values(chat.attributes))
      if (typeof value === 'string' && value.length > 20)
        for (const prompt of prompts) expect(prompt).not.toContain(value);

    // One trace, unbroken: every span's parent is in it, except the root's (the producer's own span).
    const ids = new Set(traced.map((span) => span.spanId));
    const orphans = traced.filter((span) => !ids.has(span.parentSpanId) && span !== ingest);
    expect(orphans.map((span) => span.name)).toEqual([]);
    expect(new Set(traced.map((span) => span.service))).toEqual(
      new Set(['precis-ingest', 'precis-pipeline', 'precis-llm']),
    );
  });

  it("makes one summary of two events: it joins the first event's trace and links the second's", () => {
    const summaries = receiver.spans.filter(
      (span) => span.name === 'precis.summary' && span.attributes['precis.dashboard.id'] === BATCHED,
    );
    expect(summaries).toHaveLength(1);
    const summary = summaries[0] as ReceivedSpan;
    expect(summary.attributes['precis.summary.handovers']).toBe(2);
    const inFirst = receiver.spans.filter((span) => span.traceId === first.traceId);
    const inSecond = receiver.spans.filter((span) => span.traceId === second.traceId);
    // The first event's trace holds the run and the summary, under its own hand-over signal.
    expect(summary.traceId).toBe(first.traceId);
    expect(summary.parentSpanId).toBe(only(inFirst, 'HandleSignal:eventsHandedOver').spanId);
    expect(only(inFirst, 'RunWorkflow:dashboardWorkflow')).toBeDefined();
    // The second event's trace ends at its hand-over signal, which the summary links.
    expect(only(inSecond, 'precis.ingest').parentSpanId).toBe(second.spanId);
    const secondSignal = only(inSecond, 'HandleSignal:eventsHandedOver');
    expect(summary.links.map((link) => `${link.traceId}/${link.spanId}`)).toEqual([
      `${second.traceId}/${secondSignal.spanId}`,
    ]);
    expect(inSecond.map((span) => span.name)).not.toContain('precis.summary');
  });

  it('replays a traced run on the same code with the interceptors (a worker that lost it from its cache)', async () => {
    for (const dashboardId of [SINGLE, BATCHED]) {
      const history = await workflowOf(temporal.client, config, dashboardId).fetchHistory();
      await expect(
        Worker.runReplayHistory(
          {
            workflowsPath: require.resolve('../../workflows'),
            ...replayWorkerTracing(),
            replayName: dashboardId,
          },
          history,
        ),
      ).resolves.toBeUndefined();
    }
  });

  it('replays a traced run on a worker with tracing off, whose workflow code has no interceptors', async () => {
    for (const dashboardId of [SINGLE, BATCHED]) {
      const history = await workflowOf(temporal.client, config, dashboardId).fetchHistory();
      await expect(
        Worker.runReplayHistory(
          { workflowsPath: require.resolve('../../workflows'), replayName: `${dashboardId}-untraced` },
          history,
        ),
      ).resolves.toBeUndefined();
    }
  });
});

describe('a process that dies of a fatal error', () => {
  it('sends its buffered spans before it exits non-zero', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const { env } = isolatedEnv({
        PRECIS_TRACING: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        // Far beyond the process's life: only the flush on the way out can send the span.
        OTEL_BSP_SCHEDULE_DELAY: '60000',
      });
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', require.resolve('../support/fatal-after-span.ts')],
        {
          env: childEnv(env),
          stdio: 'ignore',
        },
      );
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      expect(receiver.spans.map((span) => span.name)).toContain('precis.before-fatal');
    } finally {
      await receiver.close();
    }
  });
});

describe('with tracing off (the default)', () => {
  let receiver: OtlpReceiver;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });

  afterAll(async () => {
    await receiver.close();
  });

  it('exports nothing and adds no trace header to Temporal calls', async () => {
    // The collector's address is set, as it may be in a shared environment: PRECIS_TRACING alone decides.
    const { env } = isolatedEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    const config = loadConfig(env);
    expect(config.tracing.mode).toBe('off');
    const { client, connection } = await temporalClient(config);
    const services: Service[] = [];
    try {
      services.push(await buildPipelineWorker(config, logger), await buildIngestWorker(config, logger));
      await produceEvent(config, SINGLE, { traceparent: producerContext().traceparent });
      const handle = await summarized(client, config, SINGLE);
      for (const service of services.splice(0).reverse()) await service.close();

      expect(receiver.requests).toBe(0);
      const history = await handle.fetchHistory();
      const headers = history.events?.flatMap((event) => [
        event.workflowExecutionStartedEventAttributes?.header?.fields ?? {},
        event.workflowExecutionSignaledEventAttributes?.header?.fields ?? {},
      ]);
      expect(headers?.length).toBeGreaterThan(0);
      for (const fields of headers ?? []) expect(Object.keys(fields)).not.toContain(TRACE_HEADER);
    } finally {
      for (const service of services.reverse()) await service.close();
      await connection.close();
      await cleanUp(config);
    }
  });
});
