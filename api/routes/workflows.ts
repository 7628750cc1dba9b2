import type { FastifyInstance } from 'fastify';
import { idSchema } from '../../src/domain/event';
import { type ApiContext, route } from '../context';
import { parseInput } from '../input';
import { HttpProblem } from '../problem';
import { workflowParamsSchema } from '../schemas';
import { describeWorkflow } from '../workflow-status';

export function registerWorkflowRoutes(app: FastifyInstance, context: ApiContext): void {
  const prefix = context.deps.config.temporal.workflowIdPrefix;
  route(app, context, 'getWorkflow', async (request) => {
    const { workflowId } = parseInput(workflowParamsSchema, request.params, 'path parameter');
    // Only precis's own workflows: a read key must not become a window on everything in the namespace.
    if (!workflowId.startsWith(prefix) || !idSchema.safeParse(workflowId.slice(prefix.length)).success) {
      throw new HttpProblem(400, 'Invalid path parameter', `workflowId: must be "${prefix}<dashboard id>"`);
    }
    return describeWorkflow(
      context.deps.temporal,
      workflowId,
      context.render,
      context.deps.config.api.dependencyTimeoutMs,
    );
  });
}
