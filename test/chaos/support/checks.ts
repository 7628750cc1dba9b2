/**
 * Invariants particular to some scenarios: the API during a Redis outage, the model outage's degradation ladder
 * and budget, and a failed source's events summarized from real data once it recovers.
 */
import type { Redis } from 'ioredis';
import { sleep } from '../../../bench/stats';
import type { Summary } from '../../../src/domain/summary';
import type { ChaosHarness } from './harness';
import { observe, type Verdict, type Verdicts } from './invariants';

export interface ApiProbe {
  stop(): Promise<Verdict>;
}

/**
 * Reads each dashboard's summary from the API every `intervalMs` until stopped. Every answer must be a 200 with a
 * summary of that dashboard, or a 503 with Retry-After; never another status, never another dashboard's data. How
 * long the slowest answer took is reported, not judged (no timed assertions).
 */
export function probeApi(harness: ChaosHarness, dashboardIds: readonly string[], intervalMs = 300): ApiProbe {
  const outcomes = { ok: 0, unavailable: 0, slowestMs: 0 };
  const wrong: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const id of dashboardIds) {
        const sentAt = Date.now();
        try {
          const response = await fetch(`${harness.stack.apiUrl}/v1/dashboards/${id}/summary`, {
            headers: { authorization: `Bearer ${harness.stack.apiKey}` },
            // Only so that a request that never ends cannot stall the scenario.
            signal: AbortSignal.timeout(60_000),
          });
          const text = await response.text();
          outcomes.slowestMs = Math.max(outcomes.slowestMs, Date.now() - sentAt);
          if (response.status === 200) {
            const body = JSON.parse(text) as { dashboardId?: string };
            if (body.dashboardId === id) outcomes.ok++;
            else wrong.push(`200 with dashboard ${String(body.dashboardId)} for ${id}`);
          } else if (response.status === 503 && response.headers.get('retry-after')) {
            outcomes.unavailable++;
          } else {
            wrong.push(
              `${response.status} (retry-after ${response.headers.get('retry-after')}) ${text.slice(0, 80)}`,
            );
          }
        } catch (error) {
          wrong.push(`no answer: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const detail =
        `${outcomes.ok} × 200, ${outcomes.unavailable} × 503+Retry-After, ${wrong.length} wrong; ` +
        `slowest answer ${(outcomes.slowestMs / 1000).toFixed(1)} s`;
      return {
        holds: wrong.length === 0 && outcomes.unavailable > 0,
        detail: wrong.length === 0 ? detail : `${detail}: ${[...new Set(wrong)].slice(0, 4).join('; ')}`,
      };
    },
  };
}

/** Every key matching `pattern` (a whole SCAN: one call with COUNT sees only part of a large keyspace). */
async function keysMatching(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** Polls every breaker state key of the stack and remembers whether any was seen open. */
/**
 * Forgets every breaker's window and state. The outage scenario follows others whose successful calls are still
 * inside the breaker's window (60 s); how many of them remain decides whether the outage's failures reach the
 * failure rate, which made "the breaker opened" depend on how long the previous scenario took. The scenario tests
 * that an outage opens the breaker, so it starts from a closed breaker with an empty window, as after a quiet minute.
 */
export async function resetBreakers(redis: Redis, keyPrefix: string): Promise<void> {
  const keys = await keysMatching(redis, `${keyPrefix}llm:breaker:*`);
  if (keys.length > 0) await redis.del(...keys);
}

export function watchBreaker(redis: Redis, keyPrefix: string): { stop(): Promise<Verdict> } {
  const seen = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        for (const key of await keysMatching(redis, `${keyPrefix}llm:breaker:*:state`)) {
          const state = await redis.hget(key, 'state');
          if (state) seen.add(state);
        }
      } catch {
        // Redis is not under test here; a missed poll only makes the verdict stricter.
      }
      await sleep(250);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { holds: seen.has('open'), detail: `breaker states seen: ${[...seen].join(', ') || 'none'}` };
    },
  };
}

function generatedWithin(summary: Summary, fromMs: number, toMs: number): boolean {
  const at = Date.parse(summary.generatedAt);
  return at >= fromMs && at <= toMs;
}

/**
 * During the outage: at least one degraded summary, each labelled (reason given, model not the primary); after it:
 * every dashboard's latest summary made by the primary model again (upgraded); spend within the budgets.
 */
export async function modelOutageChecks(
  harness: ChaosHarness,
  dashboardIds: readonly string[],
  outage: { startedAt: number; endedAt: number },
  watchedBreaker: Verdict,
): Promise<Verdicts> {
  const { llm, redis } = harness.stack.config;
  const observed = await observe(harness.judgeContext, dashboardIds);
  const during = [...observed.summaries.values()]
    .flat()
    .filter((summary) => generatedWithin(summary, outage.startedAt, outage.endedAt));
  const degraded = during.filter((summary) => summary.degraded);
  const unlabelled = during.filter(
    (summary) =>
      summary.degraded !== (summary.model !== llm.model) || (summary.degraded && !summary.degradedReason),
  );
  const latest = dashboardIds.map((id) => observed.summaries.get(id)?.[0]);
  const notUpgraded = dashboardIds.filter((_, i) => latest[i]?.model !== llm.model || latest[i]?.degraded);
  let spentTotal = 0;
  const overBudget: string[] = [];
  for (const id of dashboardIds) {
    const spent = (observed.summaries.get(id) ?? []).reduce((sum, summary) => sum + summary.usage.costUsd, 0);
    spentTotal += spent;
    if (spent > llm.dashboardDailyBudgetUsd) overBudget.push(`${id} $${spent.toFixed(4)}`);
  }
  const ledger = await ledgerUsd(harness.redis, redis.keyPrefix);
  // Calls an open (or probing) circuit refused, as the degraded summaries record them: the breaker's effect, seen
  // even when it opened and closed again between two polls of its state.
  const refusedByCircuit = degraded.filter((summary) =>
    /circuit (open|half_open)/.test(summary.degradedReason ?? ''),
  );
  return {
    breakerOpened: {
      holds: watchedBreaker.holds || refusedByCircuit.length > 0,
      detail: `${watchedBreaker.detail}; ${refusedByCircuit.length} degraded summaries name a call the circuit refused${
        degraded[0]?.degradedReason ? ` (e.g. "${degraded[0].degradedReason.slice(0, 160)}")` : ''
      }`,
    },
    degradedLabelled: {
      holds: degraded.length > 0 && unlabelled.length === 0,
      detail: `${during.length} summaries during the outage, ${degraded.length} degraded (${[
        ...new Set(degraded.map((s) => s.model)),
      ].join(', ')}), ${unlabelled.length} mislabelled`,
    },
    upgradedAfter: {
      holds: notUpgraded.length === 0,
      detail:
        notUpgraded.length === 0
          ? `every latest summary by ${llm.model}`
          : `not upgraded: ${notUpgraded.map((id, i) => `${id} (${latest[i]?.model ?? 'none'})`).join(', ')}`,
    },
    spendWithinBudget: {
      holds: overBudget.length === 0 && ledger <= llm.dailyBudgetUsd,
      detail: `summaries $${spentTotal.toFixed(4)}, ledger $${ledger.toFixed(4)} (budgets $${llm.dashboardDailyBudgetUsd}/dashboard, $${llm.dailyBudgetUsd}/day)${overBudget.length ? `; over: ${overBudget.join(', ')}` : ''}`,
    },
  };
}

/**
 * Total USD of the cost ledger's days (hashes `<prefix>cost:<day>`, field `usd`). Other keys under `cost:` (markers
 * of settled reservations, in later ledgers) are not days and are skipped.
 */
async function ledgerUsd(redis: Redis, keyPrefix: string): Promise<number> {
  let total = 0;
  for (const key of await keysMatching(redis, `${keyPrefix}cost:*`)) {
    if ((await redis.type(key)) !== 'hash') continue;
    total += Number((await redis.hget(key, 'usd')) ?? 0);
  }
  return total;
}

/** Every event of these dashboards named by a summary with no missing widget (made from the recovered source). */
export async function summarizedFromRealData(
  harness: ChaosHarness,
  dashboardIds: readonly string[],
): Promise<Verdicts> {
  const observed = await observe(harness.judgeContext, dashboardIds);
  const missing: string[] = [];
  for (const id of dashboardIds) {
    const complete = new Set(
      (observed.summaries.get(id) ?? [])
        .filter((s) => s.missingWidgets.length === 0)
        .flatMap((s) => s.eventIds),
    );
    for (const eventId of harness.recorder.produced.get(id) ?? [])
      if (!complete.has(eventId)) missing.push(eventId);
  }
  const partial = [...observed.summaries.values()].flat().filter((s) => s.missingWidgets.length > 0).length;
  return {
    summarizedAfterRecovery: {
      holds: missing.length === 0,
      detail: `${partial} summaries with missing widgets; events without a complete summary: ${missing.length}${
        missing.length ? ` (${missing.slice(0, 4).join(', ')})` : ''
      }; source answered ${harness.source.counts.failed} × 503, ${harness.source.counts.served} × 200`,
    },
  };
}
