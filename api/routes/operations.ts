import type { FastifyInstance } from 'fastify';
import { type ApiContext, route } from '../context';
import { DOCS_CSP, DOCS_HTML } from '../docs-page';
import { openApiDocument } from '../openapi';
import { DEPENDENCY_RETRY_AFTER_S, HttpProblem } from '../problem';

/** The version of the API contract (the /v1 routes), not of the package. */
const API_VERSION = '1.0.0';

/**
 * Open on purpose: probes from orchestrators carry no keys and learn only up/down; the OpenAPI document and the
 * docs page describe the public contract, not data. /metrics is open by default for scrapers on a private
 * network; PRECIS_API_METRICS_AUTH=key puts it behind the `metrics` scope where the port is reachable by others.
 */
export function registerOperationRoutes(app: FastifyInstance, context: ApiContext): void {
  let openApiBody: string | undefined;

  route(app, context, 'health', async () => ({ status: 'ok' }));

  route(app, context, 'readiness', async () => {
    const checks = await context.readiness.run();
    const down = Object.keys(checks).filter((name) => checks[name] === 'down');
    if (down.length > 0) {
      throw new HttpProblem(503, 'Not ready', `not reachable: ${down.join(', ')}`, {
        retryAfterSeconds: DEPENDENCY_RETRY_AFTER_S,
        checks,
      });
    }
    return { status: 'ready', checks };
  });

  route(app, context, 'metrics', async (_request, reply) => {
    const { contentType, body } = await context.metrics.text();
    return reply.type(contentType).send(body);
  });

  route(app, context, 'openapi', async (_request, reply) => {
    openApiBody ??= JSON.stringify(openApiDocument([...context.operations.values()], API_VERSION));
    return reply.type('application/json; charset=utf-8').send(openApiBody);
  });

  route(app, context, 'docs', async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', DOCS_CSP)
      .header('x-content-type-options', 'nosniff')
      .send(DOCS_HTML),
  );
}
