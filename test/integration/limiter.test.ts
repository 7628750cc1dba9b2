import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/clients';
import { type GrantedReservation, LimiterError, type Reservation, TokenLimiter } from '../../src/llm/limiter';
import { isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';

const config = isolatedConfig();
const prefix = config.redis.keyPrefix;
// Two workers: two connections, two limiter instances, one scope.
let redisA: Redis;
let redisB: Redis;

beforeAll(() => {
  redisA = createRedis(config);
  redisB = createRedis(config);
});

afterAll(async () => {
  await deleteKeysWithPrefix(redisA, prefix);
  redisA.disconnect();
  redisB.disconnect();
});

/** A shared, manually advanced clock: both workers see the same time, as they do with Redis's TIME. */
function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function workers(options: {
  requestsPerMinute: number;
  tokensPerMinute: number;
  windowMs?: number;
  now?: () => number;
}): { a: TokenLimiter; b: TokenLimiter; scope: string } {
  const scope = `openai|gpt-test|${randomBytes(4).toString('hex')}`;
  return {
    a: new TokenLimiter(redisA, { keyPrefix: prefix, scope, ...options }),
    b: new TokenLimiter(redisB, { keyPrefix: prefix, scope, ...options }),
    scope,
  };
}

function granted(reservation: Reservation): GrantedReservation {
  if (!reservation.granted) throw new Error(`expected a grant, got ${JSON.stringify(reservation)}`);
  return reservation;
}

describe('TokenLimiter shared by two workers (real Redis)', () => {
  it('refuses the reservation that would exceed the token budget, whichever worker asks, and says when to retry', async () => {
    const clock = manualClock();
    const { a, b } = workers({ requestsPerMinute: 100, tokensPerMinute: 1000, now: clock.now });
    const first = granted(await a.reserve(300));
    clock.advance(1000);
    granted(await b.reserve(300));
    clock.advance(1000);
    granted(await a.reserve(300));
    clock.advance(1000);
    // 900 used: another 300 needs the first reservation (at t0) to leave the window at t0 + 60 s; now is t0 + 3 s.
    expect(await b.reserve(300)).toEqual({ granted: false, reason: 'tokens', retryAfterMs: 57_000 });
    expect(await a.reserve(300)).toEqual({ granted: false, reason: 'tokens', retryAfterMs: 57_000 });
    // The first call used only 100 tokens: settling refunds 200, so 300 fit again (100 + 300 + 300 + 300).
    await a.settle(first, 100);
    const fourth = granted(await b.reserve(300));
    expect(await a.reserve(1)).toEqual({ granted: false, reason: 'tokens', retryAfterMs: 57_000 });

    // A low estimate is charged extra: 100 → 250 makes 1150 in the window, so one more token needs the first
    // AND the second reservation (t0 + 1 s) gone: 58 s. Without the charge it would be 57 s.
    await b.settle(fourth, 200);
    const small = granted(await a.reserve(100));
    await a.settle(small, 250);
    await a.settle(small, 250); // settling again is idempotent, not a second charge
    expect(await b.reserve(1)).toEqual({ granted: false, reason: 'tokens', retryAfterMs: 58_000 });
    clock.advance(58_000);
    // 1150 − 100 − 300 = 750 left in the window: exactly 250 fit (a double charge would leave room for 100).
    expect(await a.reserve(251)).toMatchObject({ granted: false, reason: 'tokens' });
    granted(await a.reserve(250));

    // After the window has slid past every reservation, the whole budget is back.
    clock.advance(60_000);
    granted(await b.reserve(1000));
  });

  it('limits requests per window the same way, and release() gives a reservation back entirely', async () => {
    const clock = manualClock();
    const { a, b } = workers({ requestsPerMinute: 3, tokensPerMinute: 1_000_000, now: clock.now });
    granted(await a.reserve(10));
    clock.advance(500);
    const second = granted(await b.reserve(10));
    clock.advance(500);
    granted(await a.reserve(10));
    clock.advance(500);
    expect(await b.reserve(10)).toEqual({ granted: false, reason: 'requests', retryAfterMs: 58_500 });

    // The call behind `second` never reached the provider (e.g. the breaker refused): its slot comes back.
    await b.release(second);
    granted(await a.reserve(10));
    expect(await a.reserve(10)).toEqual({ granted: false, reason: 'requests', retryAfterMs: 58_500 });
    // Releasing twice changes nothing.
    await b.release(second);
    expect(await b.reserve(10)).toMatchObject({ granted: false, reason: 'requests' });
  });

  it('throws a LimiterError for a request larger than the whole token budget instead of queueing it forever', async () => {
    const { a } = workers({ requestsPerMinute: 10, tokensPerMinute: 1000 });
    await expect(a.reserve(1001)).rejects.toMatchObject({ name: 'LimiterError', code: 'exceeds_limit' });
    await expect(a.waitForCapacity(5000, { maxWaitMs: 10_000 })).rejects.toBeInstanceOf(LimiterError);
    await expect(a.reserve(-1)).rejects.toMatchObject({ code: 'invalid_argument' });
    granted(await a.reserve(1000));
  });

  it("honours the provider's tighter view recorded by another worker (syncFromHeaders)", async () => {
    const clock = manualClock();
    const { a, b } = workers({ requestsPerMinute: 100, tokensPerMinute: 10_000, now: clock.now });
    await a.syncFromHeaders({ remainingTokens: 0, resetTokensMs: 2000 });
    expect(await b.reserve(100)).toEqual({ granted: false, reason: 'tokens', retryAfterMs: 2000 });
    clock.advance(1500);
    expect(await b.reserve(100)).toEqual({ granted: false, reason: 'tokens', retryAfterMs: 500 });
    // A looser report while the tighter cap holds does not lift it.
    await a.syncFromHeaders({ remainingTokens: 5000, resetTokensMs: 10_000 });
    expect(await b.reserve(100)).toMatchObject({ granted: false, reason: 'tokens' });
    clock.advance(500);
    granted(await b.reserve(100));

    // Remaining requests: the cap is consumed by reservations of both workers.
    await b.syncFromHeaders({ remainingRequests: 2, resetRequestsMs: 3000 });
    granted(await a.reserve(1));
    granted(await b.reserve(1));
    expect(await a.reserve(1)).toEqual({ granted: false, reason: 'requests', retryAfterMs: 3000 });
    clock.advance(3000);
    granted(await a.reserve(1));
  });

  it('makes the other worker wait ~2 s in real time after remainingTokens 0 / reset 2 s (server clock)', async () => {
    const { a, b } = workers({ requestsPerMinute: 100, tokensPerMinute: 10_000 });
    await a.syncFromHeaders({ remainingTokens: 0, resetTokensMs: 2000 });
    const refused = await b.reserve(100);
    expect(refused).toMatchObject({ granted: false, reason: 'tokens' });
    if (refused.granted) throw new Error('unreachable');
    expect(refused.retryAfterMs).toBeGreaterThan(1800);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(2000);

    const started = Date.now();
    const waits: number[] = [];
    const reservation = await b.waitForCapacity(100, {
      maxWaitMs: 5000,
      onWait: ({ retryAfterMs }) => waits.push(retryAfterMs),
    });
    const waited = Date.now() - started;
    expect(reservation.granted).toBe(true);
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(waited).toBeGreaterThanOrEqual(1700);
    expect(waited).toBeLessThan(3500);
  });

  it('waitForCapacity returns once the window frees capacity, and gives up with retryAfterMs past maxWaitMs', async () => {
    // A short window keeps the test fast; server time, real sleeps.
    const { a, b } = workers({ requestsPerMinute: 100, tokensPerMinute: 1000, windowMs: 400 });
    granted(await a.reserve(1000));

    await expect(b.waitForCapacity(500, { maxWaitMs: 100 })).rejects.toMatchObject({
      name: 'LimiterError',
      code: 'wait_exceeded',
      reason: 'tokens',
      retryAfterMs: expect.any(Number),
    });

    const started = Date.now();
    const reservation = await b.waitForCapacity(500, { maxWaitMs: 2000 });
    expect(reservation).toMatchObject({ granted: true, tokens: 500 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(Date.now() - started).toBeLessThan(1500);
    // The granted reservation really counts: 500 more fit, 501 do not.
    granted(await a.reserve(500));
    expect(await a.reserve(1)).toMatchObject({ granted: false });
  });

  it('waitForCapacity stops when its signal aborts', async () => {
    const { a, b } = workers({ requestsPerMinute: 1, tokensPerMinute: 1000, windowMs: 10_000 });
    granted(await a.reserve(1));
    const controller = new AbortController();
    const waiting = b.waitForCapacity(1, { maxWaitMs: 20_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('activity cancelled')), 100);
    await expect(waiting).rejects.toThrow('activity cancelled');
  });

  it('never grants more than the limits in total under 50 concurrent reservations from both workers', async () => {
    const tokens = workers({ requestsPerMinute: 1000, tokensPerMinute: 1000 });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? tokens.a : tokens.b).reserve(100)),
    );
    expect(results.filter((r) => r.granted)).toHaveLength(10);
    expect(results.filter((r) => !r.granted).every((r) => !r.granted && r.reason === 'tokens')).toBe(true);

    const requests = workers({ requestsPerMinute: 7, tokensPerMinute: 1_000_000 });
    const byRequests = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? requests.a : requests.b).reserve(10)),
    );
    expect(byRequests.filter((r) => r.granted)).toHaveLength(7);
    expect(await redisA.zcard(`${prefix}llm:limit:${requests.scope}:reservations`)).toBe(7);
    expect(await redisA.get(`${prefix}llm:limit:${requests.scope}:total`)).toBe('70');
  });

  it('keeps its keys under the scope and lets them expire', async () => {
    const { a, scope } = workers({ requestsPerMinute: 10, tokensPerMinute: 1000, windowMs: 5000 });
    granted(await a.reserve(10));
    await a.syncFromHeaders({ remainingRequests: 5, resetRequestsMs: 3000 });
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redisA.scan(cursor, 'MATCH', `${prefix}llm:limit:${scope}:*`, 'COUNT', 500);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    expect(keys.sort()).toEqual(
      ['cap:requests', 'reservations', 'tokens', 'total'].map(
        (part) => `${prefix}llm:limit:${scope}:${part}`,
      ),
    );
    for (const key of keys) {
      const ttl = await redisA.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(6000);
    }
  });
});
