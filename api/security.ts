import type { FastifyInstance, FastifyReply, onRequestHookHandler } from 'fastify';
import type { Config } from '../src/config';
import { ApiKeys, type ApiScope, presentedKey } from './auth';
import { withHook } from './hooks';
import type { ApiMetrics } from './metrics';
import { HttpProblem } from './problem';
import type { RateDecision, RateLimiter } from './rate-limit';
import { withTimeout } from './timeout';

export class ApiAuthConfigError extends Error {
  override readonly name = 'ApiAuthConfigError';
}

const CHALLENGE = 'Bearer realm="precis"';

/**
 * Refuses an API that would be open by accident: with auth enabled (the default) there must be at least one key.
 * PRECIS_API_AUTH=disabled is the explicit way to run without keys (behind a gateway that authenticates).
 */
export function assertAuthConfigured(config: Config): void {
  if (config.api.auth === 'enabled' && config.api.keys.length === 0) {
    throw new ApiAuthConfigError(
      'no API keys: set PRECIS_API_KEYS (JSON [{"id","sha256","scopes"}]) or PRECIS_API_AUTH=disabled',
    );
  }
}

/**
 * Authentication, scope check and per-key rate limit of every route that names a scope, before anything else
 * runs. Routes without a scope are open. With auth disabled there is no key to limit by, so no limit either.
 * Applies to the routes registered on `app` after this call.
 */
export function registerSecurity(
  app: FastifyInstance,
  config: Config,
  limiter: RateLimiter,
  metrics: ApiMetrics,
): void {
  if (config.api.auth === 'disabled') return;
  const keys = new ApiKeys(config.api.keys);
  const limit = String(config.api.rateLimitPerMinute);
  /** Adds the rate-limit headers to an admitted request; a refusal becomes the 429 problem. */
  const admit = (reply: FastifyReply, decision: RateDecision): HttpProblem | undefined => {
    if (decision.allowed) {
      reply.header('ratelimit-limit', limit).header('ratelimit-remaining', String(decision.remaining));
      return undefined;
    }
    metrics.rateLimited.inc();
    return new HttpProblem(429, 'Too many requests', `rate limit of ${limit} requests per minute reached`, {
      retryAfterSeconds: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)),
    });
  };
  /** The check of routes that need `scope`: key, scope, then the key's rate limit. */
  const guard =
    (scope: ApiScope): onRequestHookHandler =>
    (request, reply, done) => {
      const presented = presentedKey(request.headers);
      const principal = presented === undefined ? undefined : keys.verify(presented);
      if (principal === undefined) {
        return done(
          new HttpProblem(401, 'Unauthorized', 'a valid API key is required (Authorization: Bearer <key>)', {
            headers: {
              'www-authenticate': presented === undefined ? CHALLENGE : `${CHALLENGE}, error="invalid_token"`,
            },
          }),
        );
      }
      if (!principal.scopes.has(scope)) {
        return done(new HttpProblem(403, 'Forbidden', `this API key lacks the "${scope}" scope`));
      }
      const decision = limiter.take(principal.id);
      if (decision instanceof Promise)
        withTimeout(decision, config.api.dependencyTimeoutMs, 'Redis').then(
          (settled) => done(admit(reply, settled)),
          done,
        );
      else done(admit(reply, decision));
    };
  // Attached to each route that names a scope when it is registered, so requests do not look their route up.
  app.addHook('onRoute', (options) => {
    const scope = options.config?.scope;
    if (scope !== undefined) options.onRequest = withHook(options.onRequest, guard(scope));
  });
}
