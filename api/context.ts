import type { Client } from '@temporalio/client';
import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import type { Redis } from 'ioredis';
import type { Admin, Producer } from 'kafkajs';
import type { Config } from '../src/config';
import type { DashboardRegistry } from '../src/domain/registry';
import type { Logger } from '../src/log';
import type { SummaryStore } from '../src/store/summaries';
import type { ApiScope } from './auth';
import type { ApiMetrics } from './metrics';
import { fastifyPath, type Operation } from './operations';
import type { Readiness } from './readiness';
import type { RefreshPublisher } from './refresh-publisher';
import type { SummaryStreams } from './streams';
import type { SummaryReads } from './summary-reads';
import type { RenderSettings } from './summary-render';
import type { SummaryViews } from './summary-views';

/** What the API needs from the outside; the caller creates (and closes) every client. */
export interface AppDeps {
  config: Config;
  registry: DashboardRegistry;
  store: SummaryStore;
  /** Commands: summaries, history, rate limits. */
  redis: Redis;
  /** A connection of its own for pub/sub: a subscribed connection cannot run other commands. */
  subscriber: Redis;
  temporal: Client;
  /** Refresh requests go out through it; connected on first use. */
  producer: Producer;
  /** Kafka's readiness probe (the producer has no ping); connected on first use. */
  kafkaAdmin: Admin;
  logger?: Logger;
}

/** What the routes share, built once per app. */
export interface ApiContext {
  deps: AppDeps;
  operations: ReadonlyMap<string, Operation>;
  render: RenderSettings;
  /** The store's reads, bounded by the dependency timeout (see boundedReads). */
  reads: SummaryReads;
  views: SummaryViews;
  streams: SummaryStreams;
  publisher: RefreshPublisher;
  readiness: Readiness;
  metrics: ApiMetrics;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope an API key needs for this route; absent = open. */
    scope?: ApiScope;
  }
}

/** Registers the handler of an operation at the operation's path, with its scope. */
export function route(
  app: FastifyInstance,
  context: ApiContext,
  operationId: string,
  handler: RouteHandlerMethod,
): void {
  const operation = context.operations.get(operationId);
  if (operation === undefined) throw new Error(`no operation ${operationId}`);
  app.route({
    method: operation.method,
    url: fastifyPath(operation.path),
    config: operation.scope === undefined ? {} : { scope: operation.scope },
    handler,
  });
}
