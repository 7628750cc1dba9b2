import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientContext, Redis, Result } from 'ioredis';
import { LUA_NOW_MS } from './lua-clock';

/**
 * A token-aware rate limiter shared by every worker that calls the same model endpoint.
 *
 * Window representation: a sliding window kept as one sorted set of reservations (member = reservation id,
 * score = time in ms) plus a hash id → tokens and a running token total. Chosen over per-second buckets because
 * (1) settle() and release() must find and change ONE reservation — a bucket cannot tell whose tokens it holds;
 * (2) the exact time each reservation leaves the window is known, so a refusal can say precisely how long until
 * enough capacity frees up (walk the oldest reservations until their tokens cover the shortfall);
 * (3) the set never holds more than requestsPerMinute members, so memory and the walk stay bounded.
 *
 * Time source: by default the scripts read Redis's own clock (`TIME`). Workers run on different machines whose
 * clocks disagree by tens or hundreds of ms; if each stamped reservations with its own clock, one worker's
 * "60 s ago" would be another's "59.7 s ago" and the window would leak or over-refuse. One clock (the server's)
 * makes the window the same for all. `now` can be injected for tests; then every worker must share it.
 *
 * All keys live under `${keyPrefix}llm:limit:${scope}:` and carry expiries (window + slack, or the provider's
 * reset time), so an idle scope leaves nothing behind.
 */

/** Lua shared by the scripts: the clock and the trimming of reservations that left the window. */
const PRELUDE = `${LUA_NOW_MS}
-- Deletes the three window keys once no reservation is left, so the running total cannot drift.
local function tidy()
  if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) end
end

-- Drops reservations older than the window and subtracts their tokens from the running total.
local function trim(now, window)
  local cutoff = now - window
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)
  if #expired > 0 then
    local freed = 0
    for i = 1, #expired, 256 do
      local chunk = {}
      for j = i, math.min(i + 255, #expired) do chunk[#chunk + 1] = expired[j] end
      local counts = redis.call('HMGET', KEYS[2], unpack(chunk))
      for _, c in ipairs(counts) do if c then freed = freed + tonumber(c) end end
      redis.call('HDEL', KEYS[2], unpack(chunk))
    end
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
    redis.call('DECRBY', KEYS[3], freed)
  end
  tidy()
end

local function refresh(ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
`;

/**
 * KEYS: reservations (zset), tokens (hash), total, provider request cap, provider token cap.
 * ARGV: injected now ('' = server time), window ms, requests per window, tokens per window, id, tokens, ttl ms.
 * Returns {1, now, ''} when granted, {0, retryAfterMs, 'requests' | 'tokens'} when refused.
 */
const RESERVE_SCRIPT = `${PRELUDE}
local now = now_ms(ARGV[1])
local window = tonumber(ARGV[2])
local rpm = tonumber(ARGV[3])
local tpm = tonumber(ARGV[4])
local tokens = tonumber(ARGV[6])
trim(now, window)

local count = redis.call('ZCARD', KEYS[1])
local used = tonumber(redis.call('GET', KEYS[3]) or '0')
local wait_requests = 0
local wait_tokens = 0

if count + 1 > rpm then
  -- The k oldest reservations must leave the window; the k-th leaves at its score + window.
  local k = count + 1 - rpm
  local entry = redis.call('ZRANGE', KEYS[1], k - 1, k - 1, 'WITHSCORES')
  wait_requests = tonumber(entry[2]) + window - now
end

if used + tokens > tpm then
  -- Walk from the oldest reservation until the tokens leaving the window cover the shortfall.
  local needed = used + tokens - tpm
  local freed = 0
  local offset = 0
  local found = false
  wait_tokens = window
  while not found do
    local batch = redis.call('ZRANGE', KEYS[1], offset, offset + 127, 'WITHSCORES')
    if #batch == 0 then break end
    local ids = {}
    for i = 1, #batch, 2 do ids[#ids + 1] = batch[i] end
    local counts = redis.call('HMGET', KEYS[2], unpack(ids))
    for i = 1, #ids do
      freed = freed + tonumber(counts[i] or 0)
      if freed >= needed then
        wait_tokens = tonumber(batch[2 * i]) + window - now
        found = true
        break
      end
    end
    offset = offset + 128
  end
end

-- The provider's own view ("no more than N until T"), recorded by syncFromHeaders.
local function active_cap(key)
  local cap = redis.call('HMGET', key, 'remaining', 'until')
  if cap[1] and tonumber(cap[2]) > now then return tonumber(cap[1]), tonumber(cap[2]) end
  return nil, nil
end
local requests_left, requests_until = active_cap(KEYS[4])
if requests_left and requests_left < 1 then
  wait_requests = math.max(wait_requests, requests_until - now)
end
local tokens_left, tokens_until = active_cap(KEYS[5])
if tokens_left and tokens_left < tokens then
  wait_tokens = math.max(wait_tokens, tokens_until - now)
end

if wait_requests > 0 or wait_tokens > 0 then
  if wait_tokens >= wait_requests then return {0, math.max(1, wait_tokens), 'tokens'} end
  return {0, math.max(1, wait_requests), 'requests'}
end

redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('HSET', KEYS[2], ARGV[5], tokens)
redis.call('INCRBY', KEYS[3], tokens)
refresh(tonumber(ARGV[7]))
if requests_left then redis.call('HINCRBY', KEYS[4], 'remaining', -1) end
if tokens_left then redis.call('HINCRBY', KEYS[5], 'remaining', -tokens) end
return {1, now, ''}
`;

/**
 * KEYS: reservations, tokens, total. ARGV: injected now, window ms, id, actual tokens, ttl ms.
 * Returns 1 when the reservation was adjusted, 0 when it had already left the window (or was released).
 */
const SETTLE_SCRIPT = `${PRELUDE}
local now = now_ms(ARGV[1])
trim(now, tonumber(ARGV[2]))
local current = redis.call('HGET', KEYS[2], ARGV[3])
if not current then return 0 end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('INCRBY', KEYS[3], tonumber(ARGV[4]) - tonumber(current))
refresh(tonumber(ARGV[5]))
return 1
`;

/**
 * KEYS: reservations, tokens, total, provider request cap, provider token cap. ARGV: injected now, window ms, id.
 * Removes the reservation; also gives back what it took from a provider cap recorded before it was made.
 */
const RELEASE_SCRIPT = `${PRELUDE}
local now = now_ms(ARGV[1])
trim(now, tonumber(ARGV[2]))
local current = redis.call('HGET', KEYS[2], ARGV[3])
if not current then return 0 end
local at = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[3]))
redis.call('ZREM', KEYS[1], ARGV[3])
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('DECRBY', KEYS[3], current)
local function refund(key, amount)
  local cap = redis.call('HMGET', key, 'until', 'setAt')
  if cap[1] and tonumber(cap[1]) > now and tonumber(cap[2]) <= at then
    redis.call('HINCRBY', key, 'remaining', amount)
  end
end
refund(KEYS[4], 1)
refund(KEYS[5], tonumber(current))
tidy()
return 1
`;

/**
 * KEYS: provider request cap, provider token cap.
 * ARGV: injected now, remaining requests, reset ms, remaining tokens, reset ms ('' = not reported).
 * A cap replaces the recorded one when that one has expired or the new one is tighter. Returns {requests, tokens}
 * with 1 where a cap was recorded.
 */
const SYNC_SCRIPT = `
local now
if ARGV[1] ~= '' then now = tonumber(ARGV[1]) else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function cap(key, remaining, reset)
  if remaining == '' or reset == '' then return 0 end
  local left = tonumber(remaining)
  local reset_ms = tonumber(reset)
  if reset_ms <= 0 then return 0 end
  local current = redis.call('HMGET', key, 'remaining', 'until')
  if current[1] and tonumber(current[2]) > now and tonumber(current[1]) <= left then return 0 end
  redis.call('HSET', key, 'remaining', left, 'until', now + reset_ms, 'setAt', now)
  redis.call('PEXPIRE', key, reset_ms + 1000)
  return 1
end
return {cap(KEYS[1], ARGV[2], ARGV[3]), cap(KEYS[2], ARGV[4], ARGV[5])}
`;

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    precisLimiterReserve(
      reservations: string,
      tokens: string,
      total: string,
      requestCap: string,
      tokenCap: string,
      now: string,
      windowMs: number,
      requestsPerWindow: number,
      tokensPerWindow: number,
      id: string,
      estimatedTokens: number,
      ttlMs: number,
    ): Result<[number, number, string], Context>;
    precisLimiterSettle(
      reservations: string,
      tokens: string,
      total: string,
      now: string,
      windowMs: number,
      id: string,
      actualTokens: number,
      ttlMs: number,
    ): Result<number, Context>;
    precisLimiterRelease(
      reservations: string,
      tokens: string,
      total: string,
      requestCap: string,
      tokenCap: string,
      now: string,
      windowMs: number,
      id: string,
    ): Result<number, Context>;
    precisLimiterSync(
      requestCap: string,
      tokenCap: string,
      now: string,
      remainingRequests: string,
      resetRequestsMs: string,
      remainingTokens: string,
      resetTokensMs: string,
    ): Result<[number, number], Context>;
  }
}

export interface LimiterOptions {
  /** Prefix of every Redis key (the deployment's prefix, e.g. `precis:`); keys go under `${keyPrefix}llm:limit:`. */
  keyPrefix: string;
  /**
   * What the limits belong to, e.g. `${endpoint}|${model}`. Every worker that uses the same scope shares the same
   * budget; use the granularity at which the provider enforces its limits.
   */
  scope: string;
  /** Most calls allowed to start within any sliding window (a minute by default). Positive integer. */
  requestsPerMinute: number;
  /**
   * Most tokens (prompt + completion, as the provider counts them) within any sliding window. Positive integer.
   * A single reservation larger than this can never be granted and is refused with a `LimiterError`.
   */
  tokensPerMinute: number;
  /**
   * Length of the sliding window in ms; default 60_000, the "minute" of requestsPerMinute/tokensPerMinute. Keep the
   * default in production; tests shorten it (the limits then apply per shortened window).
   */
  windowMs?: number;
  /**
   * Clock in ms since the epoch, for tests. When absent, Redis's server time is used, so workers whose clocks
   * disagree still share one window. When injected, all workers sharing the scope must use the same clock.
   * `waitForCapacity` always sleeps and measures its budget in real time.
   */
  now?: () => number;
}

export type Reservation =
  | { granted: true; id: string; tokens: number }
  | { granted: false; retryAfterMs: number; reason: 'requests' | 'tokens' };

export type GrantedReservation = Extract<Reservation, { granted: true }>;

/** What the provider reported in its `x-ratelimit-*` headers (reset times already converted to ms). */
export interface ProviderLimits {
  remainingRequests?: number;
  remainingTokens?: number;
  /** Until the request budget resets; when absent with remainingRequests, the limiter's window is assumed. */
  resetRequestsMs?: number;
  /** Until the token budget resets; when absent with remainingTokens, the limiter's window is assumed. */
  resetTokensMs?: number;
}

export interface WaitOptions {
  /** Aborts the wait (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
  /**
   * Longest this call may wait in total. When the limiter asks for a delay that would overrun it, the call gives
   * up at once with a `LimiterError` (code `wait_exceeded`) carrying that delay, rather than sleeping first.
   */
  maxWaitMs: number;
  /** Called before each sleep, e.g. to log or heartbeat. */
  onWait?: (info: {
    retryAfterMs: number;
    reason: 'requests' | 'tokens';
    attempt: number;
    waitedMs: number;
  }) => void;
}

export type LimiterErrorCode = 'exceeds_limit' | 'wait_exceeded' | 'invalid_argument';

/**
 * `exceeds_limit`: the request can never fit (more tokens than the whole window allows) — do not retry as is.
 * `wait_exceeded`: capacity would free up after `retryAfterMs`, later than the caller was willing to wait — hand
 * that delay to Temporal as the next retry interval. `invalid_argument`: a programming error.
 */
export class LimiterError extends Error {
  override readonly name = 'LimiterError';

  constructor(
    message: string,
    readonly code: LimiterErrorCode,
    readonly retryAfterMs: number | null = null,
    readonly reason: 'requests' | 'tokens' | null = null,
  ) {
    super(message);
  }
}

const DEFAULT_WINDOW_MS = 60_000;
/** Keys outlive their newest reservation by this much, so an expiry never races the window. */
const EXPIRY_SLACK_MS = 1_000;

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new LimiterError(`${name} must be a positive integer, got ${value}`, 'invalid_argument');
  }
}

function tokenCount(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new LimiterError(`${name} must be a non-negative number, got ${value}`, 'invalid_argument');
  }
  return Math.ceil(value);
}

export class TokenLimiter {
  private readonly windowMs: number;
  private readonly base: string;

  constructor(
    private readonly redis: Redis,
    private readonly options: LimiterOptions,
  ) {
    requirePositiveInteger('requestsPerMinute', options.requestsPerMinute);
    requirePositiveInteger('tokensPerMinute', options.tokensPerMinute);
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    requirePositiveInteger('windowMs', this.windowMs);
    if (options.scope === '') throw new LimiterError('scope must not be empty', 'invalid_argument');
    this.base = `${options.keyPrefix}llm:limit:${options.scope}:`;
    if (typeof redis.precisLimiterReserve !== 'function') {
      redis.defineCommand('precisLimiterReserve', { numberOfKeys: 5, lua: RESERVE_SCRIPT });
      redis.defineCommand('precisLimiterSettle', { numberOfKeys: 3, lua: SETTLE_SCRIPT });
      redis.defineCommand('precisLimiterRelease', { numberOfKeys: 5, lua: RELEASE_SCRIPT });
      redis.defineCommand('precisLimiterSync', { numberOfKeys: 2, lua: SYNC_SCRIPT });
    }
  }

  private key(part: string): string {
    return `${this.base}${part}`;
  }

  private nowArg(): string {
    return this.options.now ? String(Math.round(this.options.now())) : '';
  }

  /**
   * Atomically checks the sliding window (and any provider cap) and either records a reservation of
   * `estimatedTokens` or says how long until enough capacity frees up. Throws `LimiterError` (`exceeds_limit`)
   * when the estimate is larger than the whole token budget, which no amount of waiting would fix.
   */
  async reserve(estimatedTokens: number): Promise<Reservation> {
    const tokens = tokenCount('estimatedTokens', estimatedTokens);
    if (tokens > this.options.tokensPerMinute) {
      throw new LimiterError(
        `a request of ${tokens} tokens can never fit the limit of ${this.options.tokensPerMinute} tokens per window ` +
          `for ${this.options.scope}`,
        'exceeds_limit',
        null,
        'tokens',
      );
    }
    const id = randomUUID();
    const [granted, value, reason] = await this.redis.precisLimiterReserve(
      this.key('reservations'),
      this.key('tokens'),
      this.key('total'),
      this.key('cap:requests'),
      this.key('cap:tokens'),
      this.nowArg(),
      this.windowMs,
      this.options.requestsPerMinute,
      this.options.tokensPerMinute,
      id,
      tokens,
      this.windowMs + EXPIRY_SLACK_MS,
    );
    if (granted === 1) return { granted: true, id, tokens };
    return { granted: false, retryAfterMs: value, reason: reason === 'requests' ? 'requests' : 'tokens' };
  }

  /**
   * Replaces the reservation's estimate with what the call really used (`usage.total_tokens`): refunds the
   * difference, or charges more when the estimate was low. Repeating it is harmless. A reservation that has already
   * left the window is not charged again. Provider caps are not adjusted; the next `syncFromHeaders` corrects them.
   */
  async settle(reservation: GrantedReservation, actualTokens: number): Promise<void> {
    await this.redis.precisLimiterSettle(
      this.key('reservations'),
      this.key('tokens'),
      this.key('total'),
      this.nowArg(),
      this.windowMs,
      reservation.id,
      tokenCount('actualTokens', actualTokens),
      this.windowMs + EXPIRY_SLACK_MS,
    );
  }

  /** Refunds the reservation entirely (request and tokens): the call never reached the provider. */
  async release(reservation: GrantedReservation): Promise<void> {
    await this.redis.precisLimiterRelease(
      this.key('reservations'),
      this.key('tokens'),
      this.key('total'),
      this.key('cap:requests'),
      this.key('cap:tokens'),
      this.nowArg(),
      this.windowMs,
      reservation.id,
    );
  }

  /**
   * Records the provider's view from `x-ratelimit-remaining-*` / `x-ratelimit-reset-*` as "no more than N until T"
   * caps that every worker's `reserve` honours next to its own window. A cap replaces a recorded one only when that
   * one has expired or the new one is tighter (responses of concurrent calls arrive out of order). Approximate by
   * nature: calls already in flight are not yet counted by the provider.
   */
  async syncFromHeaders(headers: ProviderLimits): Promise<void> {
    const count = (value: number | undefined): string =>
      value === undefined || !Number.isFinite(value) ? '' : String(Math.max(0, Math.floor(value)));
    const reset = (resetMs: number | undefined): string =>
      String(Math.max(0, Math.ceil(resetMs ?? this.windowMs)));
    const requests = count(headers.remainingRequests);
    const tokens = count(headers.remainingTokens);
    if (requests === '' && tokens === '') return;
    await this.redis.precisLimiterSync(
      this.key('cap:requests'),
      this.key('cap:tokens'),
      this.nowArg(),
      requests,
      requests === '' ? '' : reset(headers.resetRequestsMs),
      tokens,
      tokens === '' ? '' : reset(headers.resetTokensMs),
    );
  }

  /**
   * Backpressure: reserve → sleep(retryAfterMs) → reserve … until granted. Gives up with a `LimiterError`
   * (`wait_exceeded`, with `retryAfterMs`) as soon as the next delay would overrun `maxWaitMs`, so the caller can hand
   * the delay to Temporal instead of holding an activity slot. Rejects when `signal` aborts.
   */
  async waitForCapacity(estimatedTokens: number, options: WaitOptions): Promise<GrantedReservation> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      options.signal?.throwIfAborted();
      const reservation = await this.reserve(estimatedTokens);
      if (reservation.granted) return reservation;
      const waitedMs = Date.now() - started;
      const { retryAfterMs, reason } = reservation;
      if (waitedMs + retryAfterMs > options.maxWaitMs) {
        throw new LimiterError(
          `no capacity for ${estimatedTokens} tokens on ${this.options.scope} (limited by ${reason}) within ` +
            `${options.maxWaitMs} ms; retry after ${retryAfterMs} ms`,
          'wait_exceeded',
          retryAfterMs,
          reason,
        );
      }
      options.onWait?.({ retryAfterMs, reason, attempt, waitedMs });
      // A little jitter so waiters released by the same expiry do not all come back in the same millisecond.
      const jitter = Math.floor(Math.random() * Math.min(25, retryAfterMs * 0.1));
      try {
        await sleep(retryAfterMs + jitter, undefined, { signal: options.signal });
      } catch (error) {
        // Surface the caller's own abort reason rather than Node's generic AbortError.
        if (options.signal?.aborted) throw options.signal.reason;
        throw error;
      }
    }
  }
}
