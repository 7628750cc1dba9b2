/**
 * What every scenario shares within one benchmark run: the options, clients of the engines, the memory sampler,
 * the generated dashboards, and the processes started on demand (the local-summarizer precis and the bare
 * Temporal worker), each started once and stopped by `close`, on failure too.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config';
import { deleteKeysWithPrefix } from '../test/support/redis';
import { type BenchKafka, connectKafka, createTopic, deleteTopics } from './kafka';
import { MemorySampler } from './memory';
import { type BenchModel, startModel } from './model-server';
import { type BenchOptions, benchTemporalEnv } from './options';
import { awaitReady, type ChildHandle, childEnv, entryCommand, hasPollers, startChild } from './processes';
import type { Chart, ScenarioId } from './report/types';
import { PrecisStack } from './stack';
import { writeDashboards } from './workload';

export interface BareWorker {
  taskQueue: string;
  handle: ChildHandle;
}

export class BenchContext {
  readonly runId = `b${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  readonly tmpDir = mkdtempSync(join(tmpdir(), 'precis-bench-'));
  readonly dashboardsDir = join(this.tmpDir, 'dashboards');
  readonly logDir = this.tmpDir;
  readonly memory = new MemorySampler();
  /** Names the report files: `<resultsDir>/<stamp>.json|md`, charts in `<resultsDir>/<stamp>/`. */
  readonly stamp = new Date().toISOString().replace(/[:.]/g, '-');
  /** Engine addresses: precis's defaults (the local stack) or BENCH_TEMPORAL_*, read like precis reads them. */
  readonly engines = loadConfig(benchTemporalEnv());
  private readonly stacks: PrecisStack[] = [];
  private readonly topics: string[] = [];
  private local: Promise<PrecisStack> | null = null;
  private bare: Promise<BareWorker> | null = null;
  private modelServer: Promise<BenchModel> | null = null;
  private withModel: Promise<PrecisStack> | null = null;

  private constructor(
    readonly options: BenchOptions,
    readonly temporal: Client,
    private readonly connection: Connection,
    readonly redis: Redis,
    readonly kafka: BenchKafka,
    readonly log: (line: string) => void,
  ) {
    writeDashboards(this.dashboardsDir, options.dashboards);
    this.memory.start();
  }

  static async create(options: BenchOptions, log: (line: string) => void): Promise<BenchContext> {
    const engines = loadConfig(benchTemporalEnv());
    const connection = await Connection.connect({ address: engines.temporal.address });
    const temporal = new Client({ connection, namespace: engines.temporal.namespace });
    const redis = new Redis(engines.redis.url, { maxRetriesPerRequest: 3 });
    const kafka = await connectKafka(engines.kafka.brokers);
    return new BenchContext(options, temporal, connection, redis, kafka, log);
  }

  /** A name unique to this run, for topics, groups, queues and workflow ids of the bare baselines. */
  name(part: string): string {
    return `${this.runId}-${part}`;
  }

  get chartDir(): string {
    return join(this.options.resultsDir, this.stamp);
  }

  /** Writes an SVG chart next to the report and returns its entry for the scenario's result. */
  writeChart(file: string, title: string, svg: string): Chart {
    mkdirSync(this.chartDir, { recursive: true });
    writeFileSync(join(this.chartDir, file), svg);
    return { title, file: `${this.stamp}/${file}` };
  }

  /** Creates a topic for a bare baseline; deleted by `close`. */
  async createTopic(part: string, partitions = 6): Promise<string> {
    const topic = this.name(part);
    this.topics.push(topic);
    await createTopic(this.kafka.admin, topic, partitions);
    return topic;
  }

  /** Starts a precis stack (see PrecisStack); it is stopped and cleaned up by `close` if the caller does not. */
  async startStack(group: string, env: Record<string, string> = {}): Promise<PrecisStack> {
    this.log(`  starting precis (${group}): pipeline worker, LLM worker, ingest, API`);
    const started = Date.now();
    const stack = await PrecisStack.create({
      runId: this.runId,
      group,
      mode: this.options.mode,
      dashboardsDir: this.dashboardsDir,
      logDir: this.logDir,
      temporal: this.temporal,
      admin: this.kafka.admin,
      memory: this.memory,
      env,
    });
    // Tracked before it starts: a stack that fails half-way still has topics and workflows to clean up.
    this.stacks.push(stack);
    await stack.start();
    this.log(`  precis (${group}) ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return stack;
  }

  /** The precis with the local summarizer (no model), shared by throughput, freshness, absorption and reads. */
  localStack(): Promise<PrecisStack> {
    this.local ??= this.startStack('local');
    return this.local;
  }

  /**
   * Starts, all at once, the processes the selected scenarios will need (the machine is otherwise idle then), so
   * their start-ups overlap. A start that fails is reported by the first scenario that needs it.
   */
  async prestart(scenarios: readonly ScenarioId[]): Promise<void> {
    const needs = (...ids: ScenarioId[]) => ids.some((id) => scenarios.includes(id));
    const starts: Promise<unknown>[] = [];
    if (needs('throughput', 'freshness', 'memory')) starts.push(this.bareWorker());
    if (needs('throughput', 'freshness', 'absorption', 'reads')) starts.push(this.localStack());
    if (needs('freshness', 'model-calls')) starts.push(this.modelStack());
    await Promise.allSettled(starts);
  }

  /** The test model server (precis's OpenAI-compatible test server), answering after a settable delay. */
  model(): Promise<BenchModel> {
    this.modelServer ??= startModel(0);
    return this.modelServer;
  }

  /**
   * The precis with a model (the test model server): shared by the freshness scenario's model variant and the
   * model-calls scenario, which set the model's delay they need. Materiality stays at its default (1 %).
   */
  modelStack(): Promise<PrecisStack> {
    this.withModel ??= this.model().then((model) =>
      this.startStack('model', { OPENAI_API_KEY: 'test', PRECIS_LLM_BASE_URL: model.server.baseURL }),
    );
    return this.withModel;
  }

  /** The bare Temporal worker (one-activity workflow, own task queue, own process). */
  bareWorker(): Promise<BareWorker> {
    this.bare ??= (async () => {
      const taskQueue = this.name('bare');
      const { command, args } = entryCommand(this.options.mode, 'bench/bare/temporal-worker');
      const handle = startChild({
        name: 'bare/temporal-worker',
        command,
        args,
        env: childEnv({ ...benchTemporalEnv(), BARE_TASK_QUEUE: taskQueue }),
        logDir: this.logDir,
        memory: { sampler: this.memory, precis: false },
      });
      await awaitReady(handle, 'pollers on the bare queue', async () => {
        const [workflow, activity] = await Promise.all([
          hasPollers(this.temporal, taskQueue, 'workflow'),
          hasPollers(this.temporal, taskQueue, 'activity'),
        ]);
        return workflow && activity;
      });
      return { taskQueue, handle };
    })();
    return this.bare;
  }

  /** Stops every process, terminates workflows left open, deletes topics and Redis keys. Never throws. */
  async close(): Promise<void> {
    this.memory.stop();
    const timed = async (what: string, step: () => Promise<unknown>) => {
      const started = Date.now();
      await step().catch(() => undefined);
      this.log(`  ${what} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    };
    // Everything in parallel: each process drains on its own.
    await timed('processes stopped', async () => {
      const bare = await this.bare?.catch(() => null);
      await Promise.all([bare?.handle.stop(), ...this.stacks.map((stack) => stack.stop())]);
    });
    await timed('open workflows ended', () =>
      Promise.all(this.stacks.map((stack) => this.terminateOpenWorkflows(stack.config.temporal.taskQueue))),
    );
    await timed('topics and keys deleted', async () => {
      // The producer first: one still connected keeps asking for the metadata of the topics being deleted.
      await this.kafka.producer.disconnect().catch(() => undefined);
      const topics = [...this.topics, ...this.stacks.flatMap((stack) => stack.topics)];
      await Promise.all([
        deleteTopics(this.kafka.admin, topics).catch(() => undefined),
        deleteKeysWithPrefix(this.redis, `precis-bench:${this.runId}-`).catch(() => undefined),
      ]);
    });
    const model = await this.modelServer?.catch(() => null);
    await model?.close().catch(() => undefined);
    await this.kafka.close();
    this.redis.disconnect();
    await this.connection.close().catch(() => undefined);
  }

  /**
   * Workflows still open on a stopped stack's queue (a degraded summary waiting to be upgraded, for instance)
   * would wait forever for a worker: end them.
   */
  private async terminateOpenWorkflows(taskQueue: string): Promise<void> {
    try {
      const open = this.temporal.workflow.list({
        query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`,
      });
      for await (const execution of open) {
        await this.temporal.workflow
          .getHandle(execution.workflowId, execution.runId)
          .terminate('benchmark finished')
          .catch(() => undefined);
      }
    } catch {
      // Best effort: a visibility query that fails must not hide the benchmark's results.
    }
  }
}
