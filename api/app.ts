import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../src/config';
import { idSchema } from '../src/domain/event';
import type { DashboardRegistry } from '../src/domain/registry';
import type { Logger } from '../src/log';
import type { SummaryStore } from '../src/store/summaries';
import { HttpProblem } from './problem';

export interface AppDeps {
  config: Config;
  registry: DashboardRegistry;
  store: SummaryStore;
  redis: Redis;
  logger?: Logger;
}

function dashboardIdParam(params: unknown): string {
  const id = (params as { id?: unknown }).id;
  const parsed = idSchema.safeParse(id);
  if (!parsed.success)
    throw new HttpProblem(400, 'Invalid dashboard id', `id: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** Redis (or another engine) unreachable: the client's error names, not our bugs. */
function isDependencyError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|Connection is closed|Stream isn't writeable/.test(error.message)
  );
}

/** Builds the read API without listening, so tests drive it with `inject` and api/server.ts owns the socket. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger | undefined,
    // Per-request log lines would cost more than serving a cached summary; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  });

  app.setErrorHandler((error, request, reply) => {
    // Fastify's own client errors (bad JSON, body too large) carry a 4xx statusCode; anything else is ours.
    const clientStatus =
      error instanceof HttpProblem ? undefined : (error as { statusCode?: number }).statusCode;
    const problem =
      error instanceof HttpProblem
        ? error
        : clientStatus !== undefined && clientStatus >= 400 && clientStatus < 500
          ? new HttpProblem(clientStatus, 'Bad request', (error as Error).message)
          : isDependencyError(error)
            ? new HttpProblem(503, 'Service unavailable', 'a dependency is not reachable; try again shortly')
            : new HttpProblem(500, 'Internal error', 'the request could not be completed');
    if (problem.status >= 500) {
      request.log.error({ err: error }, 'request failed');
      reply.header('retry-after', '5');
    }
    reply.status(problem.status).type('application/problem+json').send(problem.toProblem(request.url));
  });
  app.setNotFoundHandler((request, reply) => {
    reply
      .status(404)
      .type('application/problem+json')
      .send(
        new HttpProblem(404, 'Not found', `no route ${request.method} ${request.url}`).toProblem(request.url),
      );
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async () => {
    try {
      await deps.redis.ping();
      return { status: 'ready' };
    } catch {
      throw new HttpProblem(503, 'Not ready', 'Redis is not reachable');
    }
  });

  app.get('/v1/dashboards', async () => {
    const dashboards = await Promise.all(
      deps.registry.list().map(async (dashboard) => {
        const latest = await deps.store.latest(dashboard.id);
        return {
          id: dashboard.id,
          title: dashboard.title,
          summary: latest && {
            version: latest.version,
            generatedAt: latest.generatedAt,
            headline: latest.headline,
          },
        };
      }),
    );
    return { dashboards };
  });

  app.get('/v1/dashboards/:id/summary', async (request) => {
    const id = dashboardIdParam(request.params);
    if (!deps.registry.get(id)) throw new HttpProblem(404, 'Unknown dashboard', `no dashboard "${id}"`);
    const summary = await deps.store.latest(id);
    if (!summary) throw new HttpProblem(404, 'No summary yet', `dashboard "${id}" has no summary yet`);
    const runUrl = new URL(
      `/namespaces/${encodeURIComponent(deps.config.temporal.namespace)}/workflows/${encodeURIComponent(summary.workflowId)}/${encodeURIComponent(summary.runId)}/history`,
      deps.config.temporal.uiUrl,
    ).toString();
    const freshness = await deps.store.freshness(id, summary.version);
    // A summary that still holds for newer data (unchanged or immaterial input) is as fresh as the last check.
    const dataAsOf =
      freshness && freshness.dataAsOf > summary.dataAsOf ? freshness.dataAsOf : summary.dataAsOf;
    return {
      ...summary,
      dataAsOf,
      checkedAt: freshness?.checkedAt ?? summary.generatedAt,
      ...(freshness ? { reusedBecause: freshness.cause } : {}),
      links: { temporalRun: runUrl },
    };
  });

  return app;
}
