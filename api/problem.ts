import type { FastifyReply } from 'fastify';

/** RFC 9457 problem details: the one error shape every API response uses. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** Readiness only: which dependency is up or down. */
  checks?: Record<string, 'up' | 'down'>;
}

export interface ProblemOptions {
  /** Seconds a client should wait before trying again (429, 503). */
  retryAfterSeconds?: number;
  /** Extra response headers, e.g. WWW-Authenticate on a 401. */
  headers?: Record<string, string>;
  checks?: Record<string, 'up' | 'down'>;
}

/** How long to wait after a 503 caused by a dependency: long enough for a restart, short enough to feel live. */
export const DEPENDENCY_RETRY_AFTER_S = 5;

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly options: ProblemOptions = {},
  ) {
    super(detail ?? title);
  }

  toProblem(instance: string): Problem {
    return {
      type: 'about:blank',
      title: this.title,
      status: this.status,
      ...(this.detail ? { detail: this.detail } : {}),
      instance,
      ...(this.options.checks ? { checks: this.options.checks } : {}),
    };
  }
}

/** A dependency (Redis, Temporal, Kafka) could not answer in time; never says which host or why. */
export function dependencyProblem(what: string): HttpProblem {
  return new HttpProblem(503, 'Service unavailable', `${what} is not reachable; try again shortly`, {
    retryAfterSeconds: DEPENDENCY_RETRY_AFTER_S,
  });
}

export function sendProblem(reply: FastifyReply, problem: HttpProblem, instance: string): FastifyReply {
  if (problem.options.retryAfterSeconds !== undefined)
    reply.header('retry-after', String(problem.options.retryAfterSeconds));
  if (problem.options.headers) reply.headers(problem.options.headers);
  return reply.status(problem.status).type('application/problem+json').send(problem.toProblem(instance));
}
