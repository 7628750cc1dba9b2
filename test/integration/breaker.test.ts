import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/clients';
import { type AllowedPermit, type BreakerOptions, CircuitBreaker, type Permit } from '../../src/llm/breaker';
import { isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';

const config = isolatedConfig();
const prefix = config.redis.keyPrefix;
// Two workers: two connections, two breaker instances, one scope.
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

type Options = Omit<BreakerOptions, 'keyPrefix' | 'scope'>;

function workers(options: Options): { a: CircuitBreaker; b: CircuitBreaker; scope: string } {
  const scope = `openai|gpt-test|${randomBytes(4).toString('hex')}`;
  return {
    a: new CircuitBreaker(redisA, { keyPrefix: prefix, scope, ...options }),
    b: new CircuitBreaker(redisB, { keyPrefix: prefix, scope, ...options }),
    scope,
  };
}

function allowed(permit: Permit): AllowedPermit {
  if (!permit.allowed) throw new Error(`expected a permit, got ${JSON.stringify(permit)}`);
  return permit;
}

/** One call through the breaker of worker `breaker` that ends with `outcome`. */
async function call(breaker: CircuitBreaker, outcome: 'success' | 'failure') {
  const permit = allowed(await breaker.acquire());
  expect(permit.probe).toBe(false);
  return breaker.record(permit, outcome);
}

/** Opens the circuit with 10 failures from alternating workers (defaults: minimumRequests 10, threshold 0.5). */
async function open(a: CircuitBreaker, b: CircuitBreaker): Promise<void> {
  for (let i = 0; i < 10; i++) await call(i % 2 === 0 ? a : b, 'failure');
  expect((await a.state()).state).toBe('open');
}

const base: Options = {
  windowMs: 10_000,
  cooldownMs: 1000,
  jitterRatio: 0.2,
  probeTimeoutMs: 5000,
  random: () => 0.5,
};

describe('CircuitBreaker shared by two workers (real Redis)', () => {
  it('opens on the failures of both workers together, but not before minimumRequests', async () => {
    const clock = manualClock();
    const { a, b } = workers({ ...base, now: clock.now });
    for (let i = 0; i < 9; i++) expect(await call(i % 2 === 0 ? a : b, 'failure')).toBe('closed');
    // 9 of 9 failed, but 9 < minimumRequests: still closed, calls still flow.
    expect(await a.state()).toEqual({ state: 'closed', failureRate: 1, requests: 9 });
    expect(await call(b, 'failure')).toBe('open');
    expect(await b.state()).toMatchObject({
      state: 'open',
      openedAt: clock.now(),
      retryAfterMs: 1000,
      failureRate: 1,
      requests: 10,
    });
  });

  it('stays closed below the failure-rate threshold and opens at it', async () => {
    const clock = manualClock();
    const { a, b } = workers({ ...base, now: clock.now });
    for (let i = 0; i < 6; i++) await call(i % 2 === 0 ? a : b, 'success');
    for (let i = 0; i < 4; i++) await call(i % 2 === 0 ? b : a, 'failure');
    expect(await a.state()).toEqual({ state: 'closed', failureRate: 0.4, requests: 10 });
    expect(await call(a, 'failure')).toBe('closed'); // 5 / 11
    expect(await call(b, 'failure')).toBe('open'); // 6 / 12 = 0.5
  });

  it('forgets failures that slid out of the window', async () => {
    const clock = manualClock();
    const { a, b } = workers({ ...base, now: clock.now });
    for (let i = 0; i < 9; i++) await call(i % 2 === 0 ? a : b, 'failure');
    clock.advance(10_000);
    expect(await call(a, 'failure')).toBe('closed');
    expect(await b.state()).toEqual({ state: 'closed', failureRate: 1, requests: 1 });
  });

  it('refuses calls on both workers while open, with the time left of the cooldown', async () => {
    const clock = manualClock();
    const { a, b } = workers({ ...base, now: clock.now });
    await open(a, b);
    clock.advance(400);
    for (const breaker of [a, b]) {
      expect(await breaker.acquire()).toEqual({
        allowed: false,
        state: 'open',
        retryAfterMs: 600,
        reason: '10 of the last 10 calls failed',
      });
    }
  });

  it('admits exactly ONE probe among 10 concurrent callers after the cooldown; its success closes the circuit', async () => {
    const clock = manualClock();
    const { a, b } = workers({ ...base, now: clock.now });
    await open(a, b);
    clock.advance(1000);
    const permits = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).acquire()));
    const probes = permits.filter((p) => p.allowed);
    expect(probes).toHaveLength(1);
    expect(probes[0]).toMatchObject({ allowed: true, probe: true });
    for (const refused of permits.filter((p) => !p.allowed)) {
      expect(refused).toMatchObject({ allowed: false, state: 'half_open', retryAfterMs: null });
    }
    expect((await b.state()).state).toBe('half_open');

    for (const probe of probes) expect(await a.record(allowed(probe), 'success')).toBe('closed');
    expect(await a.state()).toEqual({ state: 'closed', failureRate: 0, requests: 0 });
    expect(await b.acquire()).toMatchObject({ allowed: true, probe: false });
  });

  it('re-opens with a fresh jittered cooldown when the probe fails', async () => {
    const clock = manualClock();
    let draw = 0.5;
    const { a, b } = workers({ ...base, random: () => draw, now: clock.now });
    await open(a, b); // draw 0.5 → factor 1 → 1000 ms
    clock.advance(1000);
    const probe = allowed(await b.acquire());
    expect(probe.probe).toBe(true);
    clock.advance(50);
    draw = 0; // the fresh cooldown is 1000 × (1 − 0.2)
    expect(await b.record(probe, 'failure')).toBe('open');
    expect(await a.state()).toMatchObject({ state: 'open', openedAt: clock.now(), retryAfterMs: 800 });
    expect(await a.acquire()).toEqual({
      allowed: false,
      state: 'open',
      retryAfterMs: 800,
      reason: 'the probe call failed',
    });
    clock.advance(800);
    expect(await a.acquire()).toMatchObject({ allowed: true, probe: true });
  });

  it('draws the jitter from `random`: cooldown × (1 − ratio) at 0, × (1 + ratio) near 1', async () => {
    for (const [draw, cooldown] of [
      [0, 800],
      [0.999_999, 1200],
    ] as const) {
      const clock = manualClock();
      const { a, b } = workers({ ...base, random: () => draw, now: clock.now });
      await open(a, b);
      expect((await b.state()).retryAfterMs).toBe(cooldown);
      clock.advance(cooldown);
      const probe = allowed(await a.acquire());
      expect(probe.probe).toBe(true);
      expect(await a.record(probe, 'failure')).toBe('open');
      expect((await b.acquire()).allowed).toBe(false);
      expect(await b.state()).toMatchObject({ state: 'open', retryAfterMs: cooldown });
    }
  });

  it('frees the probe slot when the probe never reports, and ignores the late report of the replaced probe', async () => {
    const clock = manualClock();
    const { a, b } = workers({ ...base, now: clock.now });
    await open(a, b);
    clock.advance(1000);
    const lost = allowed(await a.acquire());
    expect(lost.probe).toBe(true);
    clock.advance(4999);
    expect(await b.acquire()).toMatchObject({ allowed: false, state: 'half_open' });
    clock.advance(1);
    const second = allowed(await b.acquire());
    expect(second).toMatchObject({ probe: true });
    expect(second.token).not.toBe(lost.token);
    // The first probe finally reports: it no longer speaks for the circuit.
    expect(await a.record(lost, 'success')).toBe('half_open');
    expect(await a.acquire()).toMatchObject({ allowed: false, state: 'half_open' });
    expect(await b.record(second, 'success')).toBe('closed');
  });

  it('ignores late outcomes of calls admitted before the circuit opened', async () => {
    const clock = manualClock();
    const { a, b } = workers({ ...base, now: clock.now });
    const inFlight = allowed(await a.acquire());
    await open(a, b);
    expect(await a.record(inFlight, 'success')).toBe('open');
    expect(await b.state()).toMatchObject({ state: 'open', requests: 10, failureRate: 1 });
  });

  it('quota_exhausted refuses every call for its hold, then lets exactly one probe test the quota', async () => {
    const clock = manualClock();
    const { a, b } = workers({ ...base, quotaHoldMs: 60_000, now: clock.now });
    await a.markQuotaExhausted('HTTP 429 insufficient_quota: You exceeded your current quota');
    for (const breaker of [a, b]) {
      expect(await breaker.acquire()).toEqual({
        allowed: false,
        state: 'quota_exhausted',
        retryAfterMs: 60_000,
        reason: 'HTTP 429 insufficient_quota: You exceeded your current quota',
      });
    }
    clock.advance(59_000);
    expect(await b.acquire()).toMatchObject({ allowed: false, state: 'quota_exhausted', retryAfterMs: 1000 });
    expect(await b.state()).toMatchObject({
      state: 'quota_exhausted',
      retryAfterMs: 1000,
      quotaReason: 'HTTP 429 insufficient_quota: You exceeded your current quota',
    });
    clock.advance(1000);
    // The hold is over: one probe across both workers, the others wait for its answer.
    const permits = await Promise.all([a.acquire(), b.acquire(), a.acquire()]);
    const probes = permits.filter((p): p is AllowedPermit => p.allowed);
    expect(probes).toHaveLength(1);
    expect(probes[0]?.probe).toBe(true);
    // The quota is still exhausted: marked anew, with a fresh hold.
    await b.markQuotaExhausted('insufficient_quota again');
    expect(await a.record(allowed(probes[0] as Permit), 'failure')).toBe('quota_exhausted');
    expect(await a.acquire()).toMatchObject({
      allowed: false,
      state: 'quota_exhausted',
      retryAfterMs: 60_000,
    });
    clock.advance(60_000);
    const probe = allowed(await b.acquire());
    expect(probe.probe).toBe(true);
    expect(await b.record(probe, 'success')).toBe('closed');
    expect(await a.acquire()).toMatchObject({ allowed: true, probe: false });
  });

  it('an operator clears quota_exhausted at once', async () => {
    const clock = manualClock();
    const { a, b } = workers({ ...base, now: clock.now });
    await a.markQuotaExhausted('insufficient_quota');
    expect(await b.acquire()).toMatchObject({
      allowed: false,
      state: 'quota_exhausted',
      retryAfterMs: 900_000,
    });
    expect(await b.clearQuotaExhausted()).toBe(true);
    expect(await b.clearQuotaExhausted()).toBe(false);
    expect(await a.acquire()).toMatchObject({ allowed: true, probe: false });
    expect((await a.state()).state).toBe('closed');
  });

  it('quota_exhausted overrides an open circuit and its probe', async () => {
    const clock = manualClock();
    const { a, b } = workers({ ...base, now: clock.now });
    await open(a, b);
    clock.advance(1000);
    const probe = allowed(await a.acquire());
    await b.markQuotaExhausted('insufficient_quota');
    expect(await a.record(probe, 'success')).toBe('quota_exhausted');
    clock.advance(60_000);
    expect(await a.acquire()).toMatchObject({
      allowed: false,
      state: 'quota_exhausted',
      retryAfterMs: 840_000,
    });
  });

  it('works on Redis server time: open → cooldown elapses in real time → one probe → closed', async () => {
    const { a, b } = workers({ windowMs: 2000, minimumRequests: 4, cooldownMs: 200, jitterRatio: 0 });
    for (let i = 0; i < 4; i++) await call(i % 2 === 0 ? a : b, 'failure');
    const refused = await b.acquire();
    expect(refused).toMatchObject({ allowed: false, state: 'open' });
    if (refused.allowed) throw new Error('unreachable');
    expect(refused.retryAfterMs).toBeGreaterThan(100);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(200);
    await new Promise((resolve) => setTimeout(resolve, 250));
    const permits = await Promise.all([a.acquire(), b.acquire(), a.acquire(), b.acquire()]);
    const probes = permits.filter((p): p is AllowedPermit => p.allowed);
    expect(probes).toHaveLength(1);
    expect(probes.every((p) => p.probe)).toBe(true);
    for (const probe of probes) expect(await a.record(probe, 'success')).toBe('closed');
    expect(await b.acquire()).toMatchObject({ allowed: true, probe: false });
  });

  it('keeps its keys under the scope; a closed circuit stores no state key', async () => {
    const clock = manualClock();
    const { a, b, scope } = workers({ ...base, now: clock.now });
    await call(a, 'success');
    expect(await redisA.exists(`${prefix}llm:breaker:${scope}:state`)).toBe(0);
    expect(await redisA.pttl(`${prefix}llm:breaker:${scope}:window`)).toBeGreaterThan(0);
    clock.advance(10_000); // the success slides out of the window
    await open(a, b);
    expect(await redisB.exists(`${prefix}llm:breaker:${scope}:state`)).toBe(1);
    expect(await redisB.pttl(`${prefix}llm:breaker:${scope}:state`)).toBeGreaterThan(0);
  });

  it('rejects invalid options', () => {
    expect(() => workers({ failureRateThreshold: 1.5 })).toThrow(/failureRateThreshold/);
    expect(() => workers({ minimumRequests: 0 })).toThrow(/minimumRequests/);
    expect(() => workers({ jitterRatio: 1 })).toThrow(/jitterRatio/);
  });
});
