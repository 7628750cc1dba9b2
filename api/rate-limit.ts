import type { ClientContext, Redis, Result } from 'ioredis';

/**
 * Sliding-window rate limit per API key, shared by every API process through Redis: the count of the current
 * fixed window plus the previous window's count weighted by how much of it still overlaps the last minute. One
 * atomic script per request; the clock is Redis's, so processes with skewed clocks agree.
 * KEYS: the key's counter hash. ARGV: limit, window (ms).
 * Returns {1, remaining} when allowed (and counted), {0, retry-after ms} when refused (not counted).
 */
const SLIDING_WINDOW_SCRIPT = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local index = math.floor(now / window)
local into = now - index * window
local state = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
local w = tonumber(state[1])
local current = tonumber(state[2]) or 0
local previous = tonumber(state[3]) or 0
if w ~= index then
  if w == index - 1 then previous = current else previous = 0 end
  current = 0
end
local used = previous * (window - into) / window + current
if used + 1 > limit then
  local wait
  if current + 1 <= limit then
    wait = window - into - (limit - current - 1) * window / previous
  else
    local x = window - (limit - 1) * window / current
    if x < 0 then x = 0 end
    wait = window - into + x
  end
  return {0, math.ceil(wait)}
end
redis.call('HSET', KEYS[1], 'w', index, 'c', current + 1, 'p', previous)
redis.call('PEXPIRE', KEYS[1], window * 2)
return {1, math.floor(limit - used - 1)}
`;

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    precisApiRateLimit(key: string, limit: number, windowMs: number): Result<[number, number], Context>;
  }
}

export type RateDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterMs: number };

export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly limit: number,
    private readonly windowMs = 60_000,
  ) {
    if (typeof redis.precisApiRateLimit !== 'function') {
      redis.defineCommand('precisApiRateLimit', { numberOfKeys: 1, lua: SLIDING_WINDOW_SCRIPT });
    }
  }

  async take(principalId: string): Promise<RateDecision> {
    const [allowed, value] = await this.redis.precisApiRateLimit(
      `${this.keyPrefix}api:rate:${principalId}`,
      this.limit,
      this.windowMs,
    );
    return allowed === 1 ? { allowed: true, remaining: value } : { allowed: false, retryAfterMs: value };
  }
}
