/**
 * One precis under chaos: its four processes (pipeline worker, LLM worker, ingest, API) started as children by the
 * benchmark's PrecisStack against the suite's private engines, with the project's OpenAI-compatible test server as
 * the model and a controllable HTTP server as a data source; plus the clients the scenarios judge it with.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import {
  type BenchKafka,
  committedOffsets,
  connectKafka,
  deleteTopics,
  endOffsets,
  sum,
} from '../../../bench/kafka';
import { MemorySampler } from '../../../bench/memory';
import { type BenchModel, startModel } from '../../../bench/model-server';
import { awaitReady } from '../../../bench/processes';
import { PrecisStack, type Role } from '../../../bench/stack';
import { sleep } from '../../../bench/stats';
import { deleteKeysWithPrefix } from '../../support/redis';
import { CHAOS_ENGINES } from './engines';
import type { JudgeContext } from './invariants';
import { Recorder } from './recorder';
import { type SourceServer, startSourceServer } from './source-server';
import { writeDashboards } from './workload';

/** The model answers after this delay unless a scenario says otherwise: long enough to be caught mid-call. */
export const MODEL_DELAY_MS = 300;

const ROLES: readonly Role[] = ['pipeline', 'llm', 'ingest', 'api'];

export interface HarnessOptions {
  runId: string;
  /** Dashboard definitions, given the source server (for `http` widgets). */
  dashboards: (source: SourceServer) => Record<string, unknown>[];
  /** Settings of the precis processes on top of the engines, names and model. */
  env?: Record<string, string>;
}

export class ChaosHarness {
  private constructor(
    readonly stack: PrecisStack,
    readonly model: BenchModel,
    readonly source: SourceServer,
    readonly kafka: BenchKafka,
    readonly redis: Redis,
    readonly temporal: Client,
    private readonly connection: Connection,
    readonly recorder: Recorder,
  ) {}

  static async start(options: HarnessOptions): Promise<ChaosHarness> {
    const logDir = join(process.env.CHAOS_LOG_DIR ?? join(tmpdir(), 'precis-chaos'), options.runId);
    const dashboardsDir = join(logDir, 'dashboards');
    mkdirSync(logDir, { recursive: true });
    const source = await startSourceServer();
    writeDashboards(dashboardsDir, options.dashboards(source));
    const model = await startModel(MODEL_DELAY_MS);
    const connection = await Connection.connect({ address: CHAOS_ENGINES.temporal });
    const temporal = new Client({ connection, namespace: 'default' });
    const redis = new Redis(CHAOS_ENGINES.redis, { maxRetriesPerRequest: 3 });
    const kafka = await connectKafka([CHAOS_ENGINES.kafka]);
    const stack = await PrecisStack.create({
      runId: options.runId,
      group: 'chaos',
      mode: 'source',
      dashboardsDir,
      logDir,
      temporal,
      admin: kafka.admin,
      memory: new MemorySampler(),
      partitions: 3,
      env: {
        TEMPORAL_ADDRESS: CHAOS_ENGINES.temporal,
        PRECIS_KAFKA_BROKERS: CHAOS_ENGINES.kafka,
        PRECIS_REDIS_URL: CHAOS_ENGINES.redis,
        OPENAI_API_KEY: 'test',
        PRECIS_LLM_BASE_URL: model.server.baseURL,
        PRECIS_HTTP_ALLOWED_HOSTS: '127.0.0.1',
        PRECIS_HTTP_ALLOWED_NETWORKS: '127.0.0.0/8',
        PRECIS_LOG_LEVEL: 'info',
        ...options.env,
      },
    });
    const topics = {
      events: stack.config.kafka.eventsTopic,
      deadLetters: stack.config.kafka.deadLetterTopic,
      summaries: stack.config.kafka.summariesTopic,
    };
    const recorder = new Recorder(kafka.kafka, kafka.producer, topics, `${options.runId}-chaos`);
    const harness = new ChaosHarness(stack, model, source, kafka, redis, temporal, connection, recorder);
    try {
      await stack.start();
      await recorder.start();
    } catch (error) {
      await harness.close();
      throw error;
    }
    return harness;
  }

  get judgeContext(): JudgeContext {
    return {
      redis: this.redis,
      keyPrefix: this.stack.config.redis.keyPrefix,
      temporal: this.temporal,
      pipelineTaskQueue: this.stack.config.temporal.taskQueue,
      workflowIdPrefix: this.stack.config.temporal.workflowIdPrefix,
      recorder: this.recorder,
      announced: () => this.stack.observer.records,
      modelRequests: () => this.model.server.requests,
    };
  }

  /** SIGKILL one precis process (no drain, no goodbye) and wait until it is gone. */
  async kill(role: Role): Promise<void> {
    const handle = this.stack.handle(role);
    if (!handle) throw new Error(`${role} is not running`);
    handle.child.kill('SIGKILL');
    await handle.exited;
  }

  /**
   * Starts a process of this role again and waits until it serves. For the workers, until the new process itself
   * polls: the server keeps listing a killed worker's pollers for a while, which would pass for readiness.
   */
  async restart(role: Role): Promise<void> {
    const handle = await this.stack.startRole(role);
    const queue = { pipeline: this.stack.config.temporal.taskQueue, llm: this.stack.config.llm.taskQueue };
    if (role !== 'pipeline' && role !== 'llm') return;
    await awaitReady(handle, 'its own pollers', async () => {
      const response = await this.temporal.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: queue[role] },
        taskQueueType: role === 'pipeline' ? 1 : 2,
      });
      return (response.pollers ?? []).some((poller) => poller.identity?.startsWith(`${handle.pid}@`));
    });
  }

  /** Starts again every process that is not running (one that died in an earlier scenario); returns their roles. */
  async reviveCrashed(): Promise<Role[]> {
    const dead = ROLES.filter((role) => !this.stack.handle(role)?.alive());
    for (const role of dead) await this.stack.startRole(role);
    return dead;
  }

  /** Waits until each dashboard has a stored summary (the state a scenario's fault should find). */
  async awaitSummaries(dashboardIds: readonly string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const prefix = this.stack.config.redis.keyPrefix;
    for (const id of dashboardIds) {
      while ((await this.redis.exists(`${prefix}summary:${id}:latest`)) === 0) {
        if (Date.now() > deadline) throw new Error(`no summary of ${id} within ${timeoutMs} ms`);
        await sleep(250);
      }
    }
  }

  /** True when a workflow of one of these dashboards exists (the ingest has handed their events over). */
  async anyWorkflow(dashboardIds: readonly string[]): Promise<boolean> {
    const prefix = this.stack.config.temporal.workflowIdPrefix;
    for (const id of dashboardIds) {
      const found = await this.temporal.workflow
        .getHandle(`${prefix}${id}`)
        .describe()
        .then(() => true)
        .catch(() => false);
      if (found) return true;
    }
    return false;
  }

  /** The ingest group's committed offsets against the events topic's end, as a note on where a kill landed. */
  async committedAtKill(): Promise<string> {
    const { kafka } = this.stack.config;
    const [committed, end] = await Promise.all([
      committedOffsets(this.kafka.admin, kafka.groupId, kafka.eventsTopic),
      endOffsets(this.kafka.admin, kafka.eventsTopic),
    ]);
    return `at the kill the ingest had committed ${sum(committed)} of ${sum(end)} offsets`;
  }

  /** Processes that died on their own (not killed by a scenario). */
  crashed(): string[] {
    return this.stack.crashed();
  }

  /** Stops the processes, ends the run's open workflows, deletes its topics and keys. Never throws. */
  async close(): Promise<void> {
    await this.stack.stop().catch(() => undefined);
    await this.recorder.close();
    try {
      const open = this.temporal.workflow.list({
        query: `TaskQueue = '${this.stack.config.temporal.taskQueue}' AND ExecutionStatus = 'Running'`,
      });
      for await (const execution of open)
        await this.temporal.workflow
          .getHandle(execution.workflowId, execution.runId)
          .terminate('chaos suite finished')
          .catch(() => undefined);
    } catch {
      // Best effort: the engines are private to the suite.
    }
    await this.kafka.producer.disconnect().catch(() => undefined);
    await deleteTopics(this.kafka.admin, this.stack.topics).catch(() => undefined);
    await deleteKeysWithPrefix(this.redis, this.stack.config.redis.keyPrefix).catch(() => undefined);
    await this.kafka.close();
    this.redis.disconnect();
    await this.connection.close().catch(() => undefined);
    await this.model.close().catch(() => undefined);
    await this.source.close().catch(() => undefined);
  }
}
