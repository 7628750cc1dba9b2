import type { FastifyInstance } from 'fastify';
import { type ApiContext, route } from '../context';
import { parseInput } from '../input';
import { HttpProblem } from '../problem';
import { lastEventIdSchema } from '../schemas';
import { knownDashboard } from './dashboards';

/** Seconds a client turned away because every stream slot is taken should wait: streams end rarely. */
const STREAMS_FULL_RETRY_S = 30;

export function registerStreamRoutes(app: FastifyInstance, context: ApiContext): void {
  route(app, context, 'streamSummaries', async (request, reply) => {
    const id = knownDashboard(context, request);
    const header = request.headers['last-event-id'];
    const lastEventId =
      header === undefined ? undefined : Number(parseInput(lastEventIdSchema, header, 'Last-Event-ID'));
    if (context.streams.full) {
      throw new HttpProblem(503, 'Too many streams', 'every stream slot of this server is taken', {
        retryAfterSeconds: STREAMS_FULL_RETRY_S,
      });
    }
    // Read before the stream answers 200: with Redis gone this is a 503 with Retry-After, not a stream that ends
    // at once (the catch-up then finds it cached).
    await context.views.get(id);
    // From here on the stream owns the socket; headers set so far (CORS, rate limit) go out with its head.
    reply.hijack();
    await context.streams.open(id, reply.raw, reply.getHeaders(), lastEventId);
    return reply;
  });
}
