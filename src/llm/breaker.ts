import { randomUUID } from 'node:crypto';
import type { ClientContext, Redis, Result } from 'ioredis';
import { LUA_NOW_MS } from './lua-clock';

/**
 * A circuit breaker shared by every worker that calls the same model endpoint: when the provider is failing,
 * all workers stop calling it together, and exactly one of them probes whether it has recovered.
 *
 * States (kept in one Redis hash; "closed" is the hash's absence, so a healthy scope stores nothing but the window):
 *  - closed: calls flow; outcomes feed a sliding window; once it holds ≥ minimumRequests calls and the failure
 *    rate is ≥ failureRateThreshold, the circuit opens for cooldownMs × (1 ± jitterRatio).
 *  - open: every call is refused with the time left of the cooldown.
 *  - half_open: the first acquire() after the cooldown becomes the one probe (across all workers); everyone else
 *    is refused until it reports. Success closes the circuit (and clears the window); failure re-opens it with a
 *    fresh jittered cooldown; a probe that never reports frees the slot after probeTimeoutMs.
 *  - quota_exhausted: set by markQuotaExhausted() (e.g. `insufficient_quota`); refuses every call for quotaHoldMs,
 *    then lets one probe through like half_open (a quota may have been raised or a billing period begun; a probe
 *    that meets the exhausted quota again marks it anew); clearQuotaExhausted() (the operator CLI) ends it at once.
 *
 * What counts as a failure is the caller's decision, and only failures that say something about the provider's
 * health should be recorded as such: 5xx, timeouts, connection errors — yes; 400/401/404 (our request was wrong) or
 * 429 (the provider is healthy and asking us to slow down, which the limiter handles) — no: record nothing for
 * those or, if the call completed, a success.
 *
 * Window representation: per-bucket counters in one hash (field `<bucket>:s` / `<bucket>:f`, 20 buckets per
 * window). Constant memory whatever the call rate, and the rate needs only counts, never individual calls; the
 * price is a resolution of windowMs / 20 at the window's old edge.
 *
 * Time source: Redis's server time (`TIME`) unless `now` is injected, for the same reason as the limiter: one
 * clock for all workers, so a cooldown ends at the same moment for everyone.
 */

const BUCKETS_PER_WINDOW = 20;
/** An open or half-open circuit nobody asks about any more is forgotten (becomes closed) after this. */
const IDLE_STATE_TTL_MS = 24 * 3600 * 1000;

const PRELUDE = `${LUA_NOW_MS}
-- Sums the buckets still inside the window (KEYS[2]) and deletes older ones. Returns requests, failures.
local function totals(now, window, bucket_ms)
  local oldest = math.floor(now / bucket_ms) - math.ceil(window / bucket_ms) + 1
  local flat = redis.call('HGETALL', KEYS[2])
  local requests, failures = 0, 0
  local stale = {}
  for i = 1, #flat, 2 do
    local field = flat[i]
    local sep = string.find(field, ':', 1, true)
    local bucket = tonumber(string.sub(field, 1, sep - 1))
    if bucket < oldest then
      stale[#stale + 1] = field
    else
      local n = tonumber(flat[i + 1])
      requests = requests + n
      if string.sub(field, sep + 1) == 'f' then failures = failures + n end
    end
  end
  if #stale > 0 then redis.call('HDEL', KEYS[2], unpack(stale)) end
  return requests, failures
end
`;

/**
 * KEYS: state, window. ARGV: injected now ('' = server time), token, probe timeout ms, idle ttl ms, quota hold ms.
 * Returns {allowed, probe, retryAfterMs (-1 = unknown), state, reason}.
 */
const ACQUIRE_SCRIPT = `${PRELUDE}
local now = now_ms(ARGV[1])
local s = redis.call('HMGET', KEYS[1], 'state', 'openUntil', 'probeDeadline', 'reason', 'openedAt')
local state = s[1] or 'closed'
if state == 'closed' then return {1, 0, -1, 'closed', ''} end
if state == 'quota_exhausted' then
  local hold_until = tonumber(s[5] or 0) + tonumber(ARGV[5])
  if now < hold_until then return {0, 0, hold_until - now, state, s[4] or 'provider quota exhausted'} end
end
if state == 'open' then
  local open_until = tonumber(s[2] or 0)
  if now < open_until then return {0, 0, open_until - now, 'open', s[4] or 'circuit open'} end
end
if state == 'half_open' and now < tonumber(s[3] or 0) then
  return {0, 0, -1, 'half_open', 'another call is probing whether the provider has recovered'}
end
-- Cooldown or quota hold over, or the previous probe never reported: this caller becomes the one probe.
redis.call('HSET', KEYS[1], 'state', 'half_open', 'probeToken', ARGV[2], 'probeDeadline', now + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, 1, -1, 'half_open', ''}
`;

/**
 * KEYS: state, window. ARGV: injected now, token, probe ('1'/'0'), outcome ('success'/'failure'), window ms,
 * bucket ms, minimum requests, failure rate threshold, jittered cooldown ms, idle ttl ms.
 * Returns the state after recording.
 */
const RECORD_SCRIPT = `${PRELUDE}
local now = now_ms(ARGV[1])
local s = redis.call('HMGET', KEYS[1], 'state', 'probeToken')
local state = s[1] or 'closed'
local function open(reason)
  redis.call('HSET', KEYS[1], 'state', 'open', 'openedAt', now, 'openUntil', now + tonumber(ARGV[9]), 'reason', reason)
  redis.call('HDEL', KEYS[1], 'probeToken', 'probeDeadline')
  redis.call('PEXPIRE', KEYS[1], ARGV[10])
  return 'open'
end
if ARGV[3] == '1' then
  -- Only the current probe decides; a probe that timed out and was replaced reports into the void.
  if state ~= 'half_open' or s[2] ~= ARGV[2] then return state end
  if ARGV[4] == 'success' then
    redis.call('DEL', KEYS[1], KEYS[2])
    return 'closed'
  end
  return open('the probe call failed')
end
-- Outcomes of calls admitted before the circuit opened say nothing new; only a closed circuit counts them.
if state ~= 'closed' then return state end
local window = tonumber(ARGV[5])
local bucket_ms = tonumber(ARGV[6])
local kind = 's'
if ARGV[4] == 'failure' then kind = 'f' end
redis.call('HINCRBY', KEYS[2], math.floor(now / bucket_ms) .. ':' .. kind, 1)
redis.call('PEXPIRE', KEYS[2], window + bucket_ms)
if kind ~= 'f' then return 'closed' end
local requests, failures = totals(now, window, bucket_ms)
if requests >= tonumber(ARGV[7]) and failures / requests >= tonumber(ARGV[8]) then
  return open(failures .. ' of the last ' .. requests .. ' calls failed')
end
return 'closed'
`;

/** KEYS: state, window. ARGV: injected now, reason, idle ttl ms. */
const MARK_QUOTA_SCRIPT = `${PRELUDE}
local now = now_ms(ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'quota_exhausted', 'reason', ARGV[2], 'openedAt', now)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/** KEYS: state, window. Returns 1 when a quota_exhausted state was cleared. */
const CLEAR_QUOTA_SCRIPT = `
if redis.call('HGET', KEYS[1], 'state') ~= 'quota_exhausted' then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`;

/**
 * KEYS: state, window. ARGV: injected now, window ms, bucket ms, quota hold ms.
 * Returns {state, openedAt (-1 = none), retryAfterMs (-1 = none), requests, failures, reason}.
 */
const STATUS_SCRIPT = `${PRELUDE}
local now = now_ms(ARGV[1])
local s = redis.call('HMGET', KEYS[1], 'state', 'openedAt', 'openUntil', 'reason')
local state = s[1] or 'closed'
local requests, failures = totals(now, tonumber(ARGV[2]), tonumber(ARGV[3]))
local opened_at = tonumber(s[2] or -1)
local retry_after = -1
if state == 'open' then retry_after = math.max(0, tonumber(s[3] or 0) - now) end
if state == 'quota_exhausted' then retry_after = math.max(0, opened_at + tonumber(ARGV[4]) - now) end
return {state, opened_at, retry_after, requests, failures, s[4] or ''}
`;

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    precisBreakerAcquire(
      state: string,
      window: string,
      now: string,
      token: string,
      probeTimeoutMs: number,
      idleTtlMs: number,
      quotaHoldMs: number,
    ): Result<[number, number, number, string, string], Context>;
    precisBreakerRecord(
      state: string,
      window: string,
      now: string,
      token: string,
      probe: string,
      outcome: string,
      windowMs: number,
      bucketMs: number,
      minimumRequests: number,
      failureRateThreshold: number,
      cooldownMs: number,
      idleTtlMs: number,
    ): Result<string, Context>;
    precisBreakerMarkQuota(
      state: string,
      window: string,
      now: string,
      reason: string,
      idleTtlMs: number,
    ): Result<number, Context>;
    precisBreakerClearQuota(state: string, window: string): Result<number, Context>;
    precisBreakerStatus(
      state: string,
      window: string,
      now: string,
      windowMs: number,
      bucketMs: number,
      quotaHoldMs: number,
    ): Result<[string, number, number, number, number, string], Context>;
  }
}

export type BreakerState = 'closed' | 'open' | 'half_open' | 'quota_exhausted';

export interface BreakerOptions {
  /** Prefix of every Redis key (the deployment's prefix, e.g. `precis:`); keys go under `${keyPrefix}llm:breaker:`. */
  keyPrefix: string;
  /** What the circuit protects, e.g. `${endpoint}|${model}`; every worker using the same scope shares the circuit. */
  scope: string;
  /** Sliding window over which the failure rate is computed, in ms. Default 60_000. */
  windowMs?: number;
  /** Fewest calls in the window before the failure rate may open the circuit (a few failures prove nothing). Default 10. */
  minimumRequests?: number;
  /** Failure rate (0..1) at or above which the circuit opens. Default 0.5. */
  failureRateThreshold?: number;
  /** How long an opened circuit refuses calls before admitting a probe, in ms. Default 30_000. */
  cooldownMs?: number;
  /**
   * Each cooldown is cooldownMs × (1 ± jitterRatio), drawn afresh every time the circuit opens, so scopes that
   * failed together do not all probe in the same instant. 0 ≤ jitterRatio < 1. Default 0.2.
   */
  jitterRatio?: number;
  /** A probe that never reports back (crashed worker) frees the probe slot after this many ms. Default 60_000. */
  probeTimeoutMs?: number;
  /** How long quota_exhausted refuses every call before one probe may test the quota. Default 900_000 (15 min). */
  quotaHoldMs?: number;
  /** Uniform random number in [0, 1), for the jitter; injectable for tests. Default Math.random. */
  random?: () => number;
  /**
   * Clock in ms since the epoch, for tests. When absent, Redis's server time is used so all workers share one clock;
   * when injected, all workers sharing the scope must use the same clock.
   */
  now?: () => number;
}

export type Permit =
  | { allowed: true; probe: boolean; token: string }
  | {
      allowed: false;
      state: 'open' | 'half_open' | 'quota_exhausted';
      /** Time left of the cooldown when open, of the hold when quota_exhausted; null while a probe is out. */
      retryAfterMs: number | null;
      reason: string;
    };

export type AllowedPermit = Extract<Permit, { allowed: true }>;

export interface BreakerStatus {
  state: BreakerState;
  /** When the circuit last opened (also while half_open), or when the quota was marked exhausted. */
  openedAt?: number;
  /** When open or quota_exhausted: time left of the cooldown or hold (0 = the next acquire becomes the probe). */
  retryAfterMs?: number;
  /** Failures / requests in the current window (0 when empty). */
  failureRate: number;
  /** Calls recorded in the current window. */
  requests: number;
  quotaReason?: string;
}

export class BreakerError extends Error {
  override readonly name = 'BreakerError';
}

function check(name: string, value: number, valid: boolean): number {
  if (!Number.isFinite(value) || !valid) throw new BreakerError(`invalid ${name}: ${value}`);
  return value;
}

export class CircuitBreaker {
  private readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly minimumRequests: number;
  private readonly failureRateThreshold: number;
  private readonly cooldownMs: number;
  private readonly jitterRatio: number;
  private readonly probeTimeoutMs: number;
  private readonly quotaHoldMs: number;
  private readonly random: () => number;
  private readonly stateKey: string;
  private readonly windowKey: string;

  constructor(
    private readonly redis: Redis,
    private readonly options: BreakerOptions,
  ) {
    const windowMs = options.windowMs ?? 60_000;
    const minimumRequests = options.minimumRequests ?? 10;
    const threshold = options.failureRateThreshold ?? 0.5;
    const cooldownMs = options.cooldownMs ?? 30_000;
    const jitterRatio = options.jitterRatio ?? 0.2;
    const probeTimeoutMs = options.probeTimeoutMs ?? 60_000;
    const quotaHoldMs = options.quotaHoldMs ?? 900_000;
    this.windowMs = check('windowMs', windowMs, Number.isSafeInteger(windowMs) && windowMs > 0);
    this.minimumRequests = check(
      'minimumRequests',
      minimumRequests,
      Number.isSafeInteger(minimumRequests) && minimumRequests >= 1,
    );
    this.failureRateThreshold = check('failureRateThreshold', threshold, threshold >= 0 && threshold <= 1);
    this.cooldownMs = check('cooldownMs', cooldownMs, cooldownMs > 0);
    this.jitterRatio = check('jitterRatio', jitterRatio, jitterRatio >= 0 && jitterRatio < 1);
    this.probeTimeoutMs = check('probeTimeoutMs', probeTimeoutMs, probeTimeoutMs > 0);
    this.quotaHoldMs = check('quotaHoldMs', quotaHoldMs, quotaHoldMs > 0);
    if (options.scope === '') throw new BreakerError('scope must not be empty');
    this.bucketMs = Math.max(1, Math.ceil(this.windowMs / BUCKETS_PER_WINDOW));
    this.random = options.random ?? Math.random;
    this.stateKey = `${options.keyPrefix}llm:breaker:${options.scope}:state`;
    this.windowKey = `${options.keyPrefix}llm:breaker:${options.scope}:window`;
    if (typeof redis.precisBreakerAcquire !== 'function') {
      redis.defineCommand('precisBreakerAcquire', { numberOfKeys: 2, lua: ACQUIRE_SCRIPT });
      redis.defineCommand('precisBreakerRecord', { numberOfKeys: 2, lua: RECORD_SCRIPT });
      redis.defineCommand('precisBreakerMarkQuota', { numberOfKeys: 2, lua: MARK_QUOTA_SCRIPT });
      redis.defineCommand('precisBreakerClearQuota', { numberOfKeys: 2, lua: CLEAR_QUOTA_SCRIPT });
      redis.defineCommand('precisBreakerStatus', { numberOfKeys: 2, lua: STATUS_SCRIPT });
    }
  }

  private nowArg(): string {
    return this.options.now ? String(Math.round(this.options.now())) : '';
  }

  private idleTtlMs(): number {
    return Math.ceil(
      IDLE_STATE_TTL_MS +
        Math.max(this.cooldownMs * (1 + this.jitterRatio), this.quotaHoldMs) +
        this.probeTimeoutMs,
    );
  }

  /** cooldownMs × (1 ± jitterRatio), at least 1 ms. */
  private jitteredCooldownMs(): number {
    const factor = 1 + this.jitterRatio * (2 * this.random() - 1);
    return Math.max(1, Math.round(this.cooldownMs * factor));
  }

  /**
   * Asks to make one call. Atomic across workers: closed → allowed; open within its cooldown → refused with the
   * time left; open after its cooldown (or half-open whose probe timed out) → this caller is admitted as the one
   * probe; half-open with a live probe → refused; quota_exhausted → refused until its hold ends (then one probe)
   * or an operator clears it.
   */
  async acquire(): Promise<Permit> {
    const token = randomUUID();
    const [allowed, probe, retryAfterMs, state, reason] = await this.redis.precisBreakerAcquire(
      this.stateKey,
      this.windowKey,
      this.nowArg(),
      token,
      this.probeTimeoutMs,
      this.idleTtlMs(),
      this.quotaHoldMs,
    );
    if (allowed === 1) return { allowed: true, probe: probe === 1, token };
    const refusedState = state === 'open' || state === 'half_open' ? state : 'quota_exhausted';
    return {
      allowed: false,
      state: refusedState,
      retryAfterMs: retryAfterMs < 0 ? null : retryAfterMs,
      reason,
    };
  }

  /**
   * Reports how an admitted call went; returns the circuit's state afterwards. The caller decides what a failure
   * is — record 'failure' only for what reflects the provider's health (5xx, timeouts, connection errors), never
   * for our own bad requests (400) or rate limiting (429). In closed, outcomes enter the window and may open the
   * circuit; a probe's success closes it and clears the window, its failure re-opens it with a fresh jittered
   * cooldown. Reports from calls admitted before the circuit opened, and from replaced probes, are ignored.
   */
  async record(permit: AllowedPermit, outcome: 'success' | 'failure'): Promise<BreakerState> {
    const state = await this.redis.precisBreakerRecord(
      this.stateKey,
      this.windowKey,
      this.nowArg(),
      permit.token,
      permit.probe ? '1' : '0',
      outcome,
      this.windowMs,
      this.bucketMs,
      this.minimumRequests,
      this.failureRateThreshold,
      this.jitteredCooldownMs(),
      this.idleTtlMs(),
    );
    return parseState(state);
  }

  /**
   * Stops every call on this scope (e.g. the provider answered `insufficient_quota`) for quotaHoldMs, after which
   * one probe call may test the quota (its success closes the circuit), or until clearQuotaExhausted().
   */
  async markQuotaExhausted(reason: string): Promise<void> {
    await this.redis.precisBreakerMarkQuota(
      this.stateKey,
      this.windowKey,
      this.nowArg(),
      reason,
      this.idleTtlMs(),
    );
  }

  /** Closes a quota_exhausted circuit (after the quota was raised). Returns false when it was not in that state. */
  async clearQuotaExhausted(): Promise<boolean> {
    return (await this.redis.precisBreakerClearQuota(this.stateKey, this.windowKey)) === 1;
  }

  /** The circuit as seen now, for metrics and the API. */
  async state(): Promise<BreakerStatus> {
    const [rawState, openedAt, retryAfterMs, requests, failures, reason] =
      await this.redis.precisBreakerStatus(
        this.stateKey,
        this.windowKey,
        this.nowArg(),
        this.windowMs,
        this.bucketMs,
        this.quotaHoldMs,
      );
    const state = parseState(rawState);
    return {
      state,
      ...(openedAt >= 0 ? { openedAt } : {}),
      ...(retryAfterMs >= 0 ? { retryAfterMs } : {}),
      failureRate: requests > 0 ? failures / requests : 0,
      requests,
      ...(state === 'quota_exhausted' ? { quotaReason: reason } : {}),
    };
  }
}

function parseState(value: string): BreakerState {
  if (value === 'closed' || value === 'open' || value === 'half_open' || value === 'quota_exhausted')
    return value;
  throw new BreakerError(`unknown breaker state in Redis: ${value}`);
}
