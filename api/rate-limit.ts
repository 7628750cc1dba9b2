import type { ClientContext, Redis, Result } from 'ioredis';

/**
 * Sliding-window rate limit per API key, counted in Redis and shared by every API process: the current fixed
 * window's count plus the previous window's count weighted by how much of it still overlaps the last minute. The
 * script grants up to ARGV[3] requests at once (a lease, see RateLimiter); the clock is Redis's, so processes
 * with skewed clocks agree. KEYS: the key's counter hash. ARGV: limit, window (ms), wanted.
 * Returns {granted, remaining after the grant} or, when nothing can be granted, {0, retry-after ms}.
 */
const SLIDING_WINDOW_SCRIPT = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
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
local granted = math.min(wanted, math.floor(limit - used))
if granted < 1 then
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
redis.call('HSET', KEYS[1], 'w', index, 'c', current + granted, 'p', previous)
redis.call('PEXPIRE', KEYS[1], window * 2)
return {granted, math.floor(limit - used - granted)}
`;

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    precisApiRateLimit(
      key: string,
      limit: number,
      windowMs: number,
      wanted: number,
    ): Result<[number, number], Context>;
  }
}

export type RateDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterMs: number };

/** How long leased requests stay usable: what a process holds unused is given up this soon. */
const LEASE_TTL_MS = 500;
/**
 * A lease of at least this size is topped up in the background once it is down to a quarter, so that requests
 * of a busy key do not wait for Redis (every in-flight request of the key would, once per lease). Smaller leases
 * (keys limited to fewer than 400 requests per minute) are renewed when they run out: they are counted closely.
 */
const TOP_UP_MIN_SIZE = 4;

interface Lease {
  /** Requests granted by Redis and not used yet. */
  tokens: number;
  expiresAt: number;
  /** What the lease is renewed to: doubles while leases run out before expiring, halves when they expire unused. */
  size: number;
  /** Remaining in the window after the last grant, as Redis counted it. */
  remaining: number;
  /** Redis refused: once the tokens held are used, no request passes before this instant. */
  refusedUntil: number;
  pending: Promise<void> | undefined;
}

/**
 * Every request is counted in Redis before it is served, so the limit holds across processes; but instead of a
 * round trip per request, a busy key leases a few requests at a time (at most 1% of its limit, so a key limited
 * to fewer than 200 requests per minute is counted one by one, and at most 1000). A busy lease is topped up back
 * to its size before it runs out (see TOP_UP_MIN_SIZE); the tokens left join the new lease. The cost of leasing:
 * a process may hold up to one lease it does not use, which the key loses for the current window (never gains).
 * A refusal is remembered until the moment Redis said a slot frees up, so a client hammering past its limit
 * costs nothing.
 */
export class RateLimiter {
  private readonly leases = new Map<string, Lease>();
  private readonly maxLease: number;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly limit: number,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    if (typeof redis.precisApiRateLimit !== 'function') {
      redis.defineCommand('precisApiRateLimit', { numberOfKeys: 1, lua: SLIDING_WINDOW_SCRIPT });
    }
    this.maxLease = Math.max(1, Math.min(1000, Math.floor(limit / 100)));
  }

  /** Synchronous while the key's lease lasts, so the hot path allocates no promise. */
  take(principalId: string): RateDecision | Promise<RateDecision> {
    const lease = this.leases.get(principalId);
    if (lease !== undefined) {
      const decision = this.fromLease(lease);
      if (decision !== undefined) {
        if (
          decision.allowed &&
          lease.pending === undefined &&
          lease.size >= TOP_UP_MIN_SIZE &&
          lease.tokens * 4 <= lease.size
        ) {
          this.renewInBackground(principalId, lease);
        }
        return decision;
      }
    }
    return this.takeSlow(principalId);
  }

  private fromLease(lease: Lease): RateDecision | undefined {
    const now = this.now();
    if (lease.tokens > 0 && now < lease.expiresAt) {
      lease.tokens--;
      return { allowed: true, remaining: lease.remaining + lease.tokens };
    }
    if (now < lease.refusedUntil) return { allowed: false, retryAfterMs: lease.refusedUntil - now };
    return undefined;
  }

  private async takeSlow(principalId: string): Promise<RateDecision> {
    let lease = this.leases.get(principalId);
    if (lease === undefined) {
      lease = { tokens: 0, expiresAt: 0, size: 1, remaining: 0, refusedUntil: 0, pending: undefined };
      this.leases.set(principalId, lease);
    }
    for (;;) {
      const decision = this.fromLease(lease);
      if (decision !== undefined) return decision;
      this.renewInBackground(principalId, lease);
      await lease.pending;
    }
  }

  /** Starts a renewal unless one is under way; its failure reaches whoever awaits `pending`. */
  private renewInBackground(principalId: string, lease: Lease): void {
    if (lease.pending !== undefined) return;
    const pending = this.renew(principalId, lease).finally(() => {
      lease.pending = undefined;
    });
    // A top-up nobody awaits must not become an unhandled rejection; the next renewal reports Redis's state.
    pending.catch(() => undefined);
    lease.pending = pending;
  }

  private async renew(principalId: string, lease: Lease): Promise<void> {
    const now = this.now();
    const held = now < lease.expiresAt ? lease.tokens : 0;
    if (lease.expiresAt > 0) {
      const expiredUnused = held === 0 && lease.tokens > 0;
      lease.size = expiredUnused
        ? Math.max(1, Math.floor(lease.size / 2))
        : Math.min(this.maxLease, lease.size * 2);
    }
    const [granted, value] = await this.redis.precisApiRateLimit(
      `${this.keyPrefix}api:rate:${principalId}`,
      this.limit,
      this.windowMs,
      Math.max(1, Math.min(lease.size, this.maxLease) - held),
    );
    // Tokens used while Redis answered are gone from `tokens`; those left are still good unless they expired.
    const left = this.now() < lease.expiresAt ? lease.tokens : 0;
    if (granted > 0) {
      lease.tokens = left + granted;
      lease.remaining = value;
      lease.expiresAt = this.now() + LEASE_TTL_MS;
    } else {
      lease.tokens = left;
      if (left === 0) lease.expiresAt = 0;
      lease.refusedUntil = now + Math.max(1, value);
    }
  }
}
