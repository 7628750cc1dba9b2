import { STATUS_CODES } from 'node:http';
import cors from '@fastify/cors';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { ApiContext, AppDeps } from './context';
import { withHook } from './hooks';
import { ApiMetrics } from './metrics';
import { apiOperations } from './operations';
import { DEPENDENCY_RETRY_AFTER_S, HttpProblem, sendProblem } from './problem';
import { RateLimiter } from './rate-limit';
import { Readiness } from './readiness';
import { RefreshPublisher } from './refresh-publisher';
import { LazyChildLogger } from './request-logger';
import { registerDashboardRoutes } from './routes/dashboards';
import { registerOperationRoutes } from './routes/operations';
import { registerStreamRoutes } from './routes/stream';
import { registerWorkflowRoutes } from './routes/workflows';
import { assertAuthConfigured, registerSecurity } from './security';
import { SummaryStreams } from './streams';
import { SummaryFeed } from './summary-feed';
import { boundedReads } from './summary-reads';
import { logUnreadableOnce, renderSettings } from './summary-render';
import { SummaryViews } from './summary-views';
import { DependencyTimeoutError, withTimeout } from './timeout';
import { boundedTemporalCall } from './workflow-status';

export type { AppDeps } from './context';

/** Redis (or another engine) unreachable: the client's error names, not our bugs. */
function isDependencyError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error instanceof DependencyTimeoutError ||
    error.name === 'MaxRetriesPerRequestError' ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|Connection is closed|Stream isn't writeable/.test(error.message)
  );
}

function toProblem(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  // Fastify's own client errors (bad JSON, body too large, bad content type) carry a 4xx statusCode and a
  // message written for clients; anything else is ours and stays in the log.
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpProblem(status, STATUS_CODES[status] ?? 'Bad request', (error as Error).message);
  }
  if (isDependencyError(error)) {
    return new HttpProblem(503, 'Service unavailable', 'a dependency is not reachable; try again shortly', {
      retryAfterSeconds: DEPENDENCY_RETRY_AFTER_S,
    });
  }
  return new HttpProblem(500, 'Internal error', 'the request could not be completed');
}

/**
 * Builds the API without listening, so tests drive it with `inject` and api/server.ts owns the socket. Throws
 * when auth is enabled without keys (see assertAuthConfigured).
 */
export function buildApp(deps: AppDeps): FastifyInstance {
  const { config } = deps;
  assertAuthConfigured(config);
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger | undefined,
    // Per-request log lines would cost more than serving a cached summary; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // Without a logger Fastify skips per-request children altogether; with one, they are made when used.
    ...(deps.logger === undefined
      ? {}
      : {
          childLoggerFactory: (logger, bindings, options) => new LazyChildLogger(logger, bindings, options),
        }),
    bodyLimit: config.api.bodyLimitBytes,
    // Dashboard ids may be 128 characters and workflow ids add a prefix; Fastify's default cap is 100.
    routerOptions: { maxParamLength: 600 },
    // Only the documented routes: an implicit HEAD of the stream route would open a stream without a body.
    exposeHeadRoutes: false,
    // A malformed URL (bad percent-encoding) is the client's mistake: a 400 problem, like any other.
    frameworkErrors: (error, request, reply) => {
      sendProblem(reply, new HttpProblem(400, 'Bad request', error.message), request.url);
    },
  });

  const metrics = new ApiMetrics();
  const render = { ...renderSettings(config), onUnreadable: logUnreadableOnce(deps.logger) };
  const timeoutMs = config.api.dependencyTimeoutMs;
  const reads = boundedReads(deps.store, timeoutMs);
  const views = new SummaryViews(reads, render, config.api.summaryCacheMs);
  const streams = new SummaryStreams(
    reads,
    views,
    render,
    {
      heartbeatMs: config.api.sseHeartbeatMs,
      maxClients: config.api.sseMaxClients,
      historyLength: config.redis.summaryHistory,
    },
    metrics,
    deps.logger,
  );
  const feed = new SummaryFeed(deps.subscriber, deps.store, deps.registry, deps.logger);
  feed.add({ summary: (dashboardId) => views.evict(dashboardId), resync: () => views.clear() });
  feed.add(streams);
  const context: ApiContext = {
    deps,
    operations: new Map(
      apiOperations({ metricsScope: config.api.metricsAuth === 'key' ? 'metrics' : undefined }).map(
        (operation) => [operation.operationId, operation],
      ),
    ),
    render,
    reads,
    views,
    streams,
    publisher: new RefreshPublisher(deps.producer, config.kafka.eventsTopic, timeoutMs),
    readiness: new Readiness(
      {
        redis: () => deps.redis.ping(),
        temporal: () =>
          boundedTemporalCall(deps.temporal, timeoutMs, () =>
            deps.temporal.workflowService.getSystemInfo({}),
          ),
        kafka: async () => {
          await deps.kafkaAdmin.connect();
          return deps.kafkaAdmin.describeCluster();
        },
      },
      timeoutMs,
    ),
    metrics,
  };

  app.setErrorHandler((error, request, reply) => {
    const problem = toProblem(error);
    if (problem.status >= 500 && !(error instanceof HttpProblem))
      request.log.error({ err: error }, 'request failed');
    sendProblem(reply, problem, request.url);
  });
  const unmatched = metrics.route('unmatched');
  app.setNotFoundHandler((request, reply) => {
    sendProblem(
      reply,
      new HttpProblem(404, 'Not found', `no route ${request.method} ${request.url}`),
      request.url,
    );
    // The not-found handler takes no onResponse hook; the reply has been written by now.
    unmatched(request.method, reply.statusCode, reply.elapsedTime / 1000);
  });
  // Each route observes its own series (see withHook), including the routes plugins add (CORS preflight).
  app.addHook('onRoute', (options) => {
    const observe = metrics.route(options.url);
    options.onResponse = withHook(options.onResponse, (request, reply, done) => {
      observe(request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  });
  // Bounded: with Redis down at start-up the API still listens (/healthz, /readyz say so); the subscription
  // completes when Redis is back, and the feed then resynchronises the cache and the streams.
  app.addHook('onReady', async () => {
    const started = feed.start();
    started.catch((error: unknown) => deps.logger?.error({ err: error }, 'summary feed failed to start'));
    await withTimeout(started, timeoutMs, 'Redis').catch(() =>
      deps.logger?.warn('summary feed not subscribed yet; summaries are cached for their TTL only'),
    );
  });
  // Streams never end by themselves: end them first, or closing would wait for every client to leave.
  app.addHook('preClose', (done) => {
    streams.closeAll();
    done();
  });
  app.addHook('onClose', () => feed.stop());

  if (config.api.corsOrigins.length > 0) {
    app.register(cors, {
      origin: config.api.corsOrigins,
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'x-api-key', 'content-type', 'if-none-match', 'last-event-id'],
      exposedHeaders: ['etag', 'location', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining'],
      maxAge: 600,
    });
  }
  // Registered after CORS, so that CORS headers are set even on the 401/403/429 these hooks answer.
  app.register(async (api) => {
    registerSecurity(
      api,
      config,
      new RateLimiter(deps.redis, config.redis.keyPrefix, config.api.rateLimitPerMinute),
      metrics,
    );
    registerDashboardRoutes(api, context);
    registerStreamRoutes(api, context);
    registerWorkflowRoutes(api, context);
    registerOperationRoutes(api, context);
  });
  return app;
}
