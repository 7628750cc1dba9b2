import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KafkaJSError } from 'kafkajs';
import { dashboardWorkflowId } from '../../src/ingest/starter';
import { type ApiContext, route } from '../context';
import { parseInput } from '../input';
import { dependencyProblem, HttpProblem } from '../problem';
import {
  type DashboardList,
  dashboardParamsSchema,
  historyQuerySchema,
  type RefreshAccepted,
} from '../schemas';
import { type RenderedSummary, renderHistoryItem, temporalRunLink } from '../summary-render';
import { DependencyTimeoutError } from '../timeout';

/**
 * A dashboard id from the path that names a known dashboard. Known ids were validated when the registry loaded,
 * so only unknown ones are parsed (400 for a malformed id, 404 for a well-formed unknown one).
 */
export function knownDashboard(context: ApiContext, request: FastifyRequest): string {
  const id = (request.params as { id?: string }).id ?? '';
  if (context.deps.registry.get(id) !== undefined) return id;
  parseInput(dashboardParamsSchema, request.params, 'path parameter');
  throw new HttpProblem(404, 'Unknown dashboard', `no dashboard "${id}"`);
}

/** Whether If-None-Match (a list, possibly weak, or `*`) matches the current ETag. */
function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch === etag) return true;
  return ifNoneMatch.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

export function registerDashboardRoutes(app: FastifyInstance, context: ApiContext): void {
  const { deps, views } = context;
  const dashboards = deps.registry.list();
  const dashboardIds = dashboards.map((dashboard) => dashboard.id);
  /**
   * private: the response is only for holders of a key, so shared caches must not keep it. A short max-age lets a
   * polling client skip a few requests; must-revalidate makes it come back with If-None-Match after that, which
   * costs a 304 without a body. The summary can change the moment data does, so longer would serve old news.
   */
  const cacheControl = `private, max-age=${deps.config.api.cacheMaxAgeSeconds}, must-revalidate`;

  route(app, context, 'listDashboards', async (): Promise<DashboardList> => {
    const rendered = await views.getMany(dashboardIds);
    return {
      dashboards: dashboards.map((dashboard, index) => {
        const view = rendered[index]?.view;
        const base = `/v1/dashboards/${dashboard.id}`;
        return {
          id: dashboard.id,
          title: dashboard.title,
          description: dashboard.description,
          summary: view
            ? {
                version: view.version,
                generatedAt: view.generatedAt,
                checkedAt: view.checkedAt,
                headline: view.headline,
                degraded: view.degraded,
                model: view.model,
                stale: view.stale,
              }
            : null,
          links: { summary: `${base}/summary`, history: `${base}/summaries`, stream: `${base}/stream` },
        };
      }),
    };
  });

  const sendSummary = (
    request: FastifyRequest,
    reply: FastifyReply,
    id: string,
    rendered: RenderedSummary | null,
  ): FastifyReply => {
    if (rendered === null)
      throw new HttpProblem(404, 'No summary yet', `dashboard "${id}" has no summary yet`);
    reply.header('etag', rendered.etag).header('cache-control', cacheControl);
    if (notModified(request.headers['if-none-match'], rendered.etag)) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(rendered.bytes);
  };

  // The hot path: synchronous when cached (no promise, no Redis, no parsing, the body already serialized).
  route(app, context, 'getSummary', (request, reply) => {
    const id = knownDashboard(context, request);
    const cached = views.peek(id);
    if (cached !== undefined) return sendSummary(request, reply, id, cached);
    return views.get(id).then((rendered) => sendSummary(request, reply, id, rendered));
  });

  route(app, context, 'listSummaries', async (request) => {
    const id = knownDashboard(context, request);
    const { limit, before } = parseInput(historyQuerySchema, request.query, 'query parameter');
    // One more than asked tells whether there is a next page without another round trip.
    const documents = await context.reads.historyDocuments(id, { limit: limit + 1, before });
    const summaries = documents
      .slice(0, limit)
      .map((document) => renderHistoryItem(document, context.render, id));
    const next = documents.length > limit ? (summaries.at(-1)?.version ?? null) : null;
    return {
      dashboardId: id,
      summaries,
      next,
      links: { next: next === null ? null : `/v1/dashboards/${id}/summaries?limit=${limit}&before=${next}` },
    };
  });

  route(app, context, 'refreshDashboard', async (request, reply) => {
    const id = knownDashboard(context, request);
    let eventId: string;
    try {
      eventId = (await context.publisher.publish(id)).eventId;
    } catch (error) {
      if (error instanceof DependencyTimeoutError || error instanceof KafkaJSError)
        throw dependencyProblem('Kafka');
      throw error;
    }
    const workflowId = dashboardWorkflowId(deps.config, id);
    const workflow = `/v1/workflows/${encodeURIComponent(workflowId)}`;
    const body: RefreshAccepted = {
      eventId,
      type: 'dashboard.refresh_requested',
      workflowId,
      links: {
        summary: `/v1/dashboards/${id}/summary`,
        stream: `/v1/dashboards/${id}/stream`,
        workflow,
        temporalRun: temporalRunLink(context.render, workflowId),
      },
    };
    return reply.code(202).header('location', workflow).send(body);
  });
}
