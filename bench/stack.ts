/**
 * One running precis under test: pipeline worker, LLM worker, ingest and API as child processes, configured
 * through the environment with every shared name (topics, consumer group, Redis prefix, task queues, workflow
 * ids) unique to this benchmark run and group, so runs never touch each other or a precis running beside them.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Admin } from 'kafkajs';
import { apiKeyDigest } from '../api/auth';
import { type Config, loadConfig } from '../src/config';
import { createTopic } from './kafka';
import type { MemorySampler } from './memory';
import { DeliveryObserver } from './observe';
import { benchTemporalEnv } from './options';
import {
  awaitReady,
  type ChildHandle,
  childEnv,
  entryCommand,
  freePort,
  hasPollers,
  httpOk,
  type LaunchMode,
  startChild,
  stopAll,
} from './processes';

export type Role = 'pipeline' | 'llm' | 'ingest' | 'api';

const ENTRIES: Record<Role, string> = {
  pipeline: 'workers/pipeline',
  llm: 'workers/llm',
  ingest: 'workers/ingest',
  api: 'api/server',
};

export interface StackOptions {
  runId: string;
  /** Short name of this stack within the run (`local`, `model-1s`, …). */
  group: string;
  mode: LaunchMode;
  dashboardsDir: string;
  logDir: string;
  temporal: Client;
  /** The benchmark's Kafka admin: the stack's topics are created before its processes start. */
  admin: Admin;
  memory: MemorySampler;
  /** Settings of this stack on top of the isolation (e.g. the model endpoint). */
  env?: Record<string, string>;
  /** Kafka partitions of the events topic (default 6, like production). */
  partitions?: number;
}

export class PrecisStack {
  readonly env: Record<string, string>;
  readonly config: Config;
  readonly observer: DeliveryObserver;
  /** Bearer key of the API (read scope), generated per run; only its hash is in the API's environment. */
  readonly apiKey = `pk_${randomBytes(24).toString('base64url')}`;
  private readonly handles = new Map<Role, ChildHandle>();
  private readonly stopped: ChildHandle[] = [];
  private restarts = 0;

  private constructor(
    private readonly options: StackOptions,
    apiPort: number,
    metricsPort: number,
  ) {
    const id = `${options.runId}-${options.group}`;
    this.env = {
      ...benchTemporalEnv(),
      PRECIS_TOPIC_EVENTS: `${id}.dashboard.events`,
      PRECIS_TOPIC_DLQ: `${id}.dashboard.events.dlq`,
      PRECIS_TOPIC_SUMMARIES: `${id}.dashboard.summaries`,
      PRECIS_TOPIC_PARTITIONS: String(options.partitions ?? 6),
      PRECIS_KAFKA_GROUP_ID: `${id}-ingest`,
      PRECIS_REDIS_PREFIX: `precis-bench:${id}:`,
      PRECIS_TASK_QUEUE: `${id}-pipeline`,
      PRECIS_LLM_TASK_QUEUE: `${id}-llm`,
      PRECIS_WORKFLOW_ID_PREFIX: `${id}-dashboard-`,
      PRECIS_API_PORT: String(apiPort),
      PRECIS_INGEST_METRICS_PORT: String(metricsPort),
      // Off: several stacks (and a running precis) share the machine, and the worker metrics ports are fixed ones.
      PRECIS_PIPELINE_METRICS_PORT: '0',
      PRECIS_LLM_WORKER_METRICS_PORT: '0',
      PRECIS_API_KEYS: JSON.stringify([
        { id: 'bench', sha256: apiKeyDigest(this.apiKey), scopes: ['read', 'refresh', 'metrics'] },
      ]),
      // Out of reach: the read benchmark measures serving, not the limiter's refusals.
      PRECIS_API_RATE_LIMIT_RPM: '1000000000',
      PRECIS_DASHBOARDS_DIR: options.dashboardsDir,
      PRECIS_QUIET_PERIOD_MS: '0',
      PRECIS_LOG_LEVEL: 'warn',
      ...options.env,
    };
    this.config = loadConfig(this.env);
    this.observer = new DeliveryObserver(this.config.redis.url, this.config.redis.keyPrefix);
  }

  /** A stack with its names and ports decided; nothing runs until `start`. */
  static async create(options: StackOptions): Promise<PrecisStack> {
    return new PrecisStack(options, await freePort(), await freePort());
  }

  /** Creates the stack's topics, then starts the roles one by one, each waited for; on failure stops them all. */
  async start(roles: Role[] = ['pipeline', 'llm', 'ingest', 'api']): Promise<void> {
    try {
      await this.observer.start();
      // Created here, once and waited for, rather than by several processes racing at start-up on a busy broker.
      for (const topic of this.topics) {
        await createTopic(this.options.admin, topic, this.config.kafka.topicPartitions);
      }
      // Workers first, so the ingest's first signals find someone polling.
      for (const role of roles) await this.startRole(role);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.config.api.port}`;
  }

  get metricsUrl(): string {
    return `http://127.0.0.1:${this.config.ingest.metricsPort}/metrics`;
  }

  handle(role: Role): ChildHandle | undefined {
    return this.handles.get(role);
  }

  /** Starts one role and waits until it serves: pollers on its task queue, or its port answering. */
  async startRole(role: Role): Promise<ChildHandle> {
    const { command, args } = entryCommand(this.options.mode, ENTRIES[role]);
    const suffix = this.restarts > 0 && role === 'ingest' ? `#${this.restarts + 1}` : '';
    const handle = startChild({
      name: `${this.options.group}/${role}${suffix}`,
      command,
      args,
      env: childEnv(this.env),
      logDir: this.options.logDir,
      memory: { sampler: this.options.memory, precis: true },
    });
    this.handles.set(role, handle);
    const { temporal } = this.options;
    const ready: Record<Role, [string, () => Promise<boolean>]> = {
      pipeline: [
        'pollers on the pipeline queue',
        () => hasPollers(temporal, this.config.temporal.taskQueue, 'workflow'),
      ],
      llm: ['pollers on the LLM queue', () => hasPollers(temporal, this.config.llm.taskQueue, 'activity')],
      ingest: ['metrics endpoint', () => httpOk(this.metricsUrl)],
      api: ['/healthz', () => httpOk(`${this.apiUrl}/healthz`)],
    };
    const [what, probe] = ready[role];
    await awaitReady(handle, what, probe);
    return handle;
  }

  /** Stops one role (SIGTERM, graceful drain) and returns how it ended. */
  async stopRole(role: Role): Promise<string> {
    const handle = this.handles.get(role);
    if (!handle) return 'not running';
    this.handles.delete(role);
    this.stopped.push(handle);
    if (role === 'ingest') this.restarts++;
    return handle.stop();
  }

  /** Processes that exited by themselves while they should have been running (a crash under load). */
  crashed(): string[] {
    return [...this.handles.values()].filter((h) => !h.alive()).map((h) => h.name);
  }

  /** Stops every process, then deletes this stack's Redis keys and Kafka topics. Never throws. */
  async stop(): Promise<void> {
    await stopAll(this.handles.values());
    this.handles.clear();
    await this.observer.close().catch(() => undefined);
  }

  /** The stack's topics (deleted at the end of the run with the run's other topics). */
  get topics(): string[] {
    const { kafka } = this.config;
    return [kafka.eventsTopic, kafka.deadLetterTopic, kafka.summariesTopic];
  }
}
