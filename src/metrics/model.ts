import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BreakerState, BreakerStatus } from '../llm/breaker';
import type { TokenUsage } from '../llm/cost';

/**
 * Why a summary did or did not cost a model call; the same names the cost ledger counts per day in Redis.
 * `local_default`: no model configured; `cache_hit`: a cached reply or one shared with an identical request in flight.
 */
export type ModelOutcome =
  | 'unchanged'
  | 'immaterial'
  | 'cache_hit'
  | 'model_call'
  | 'fallback_model'
  | 'local_fallback'
  | 'local_default';

/** Model label of outcomes that involve no model: the summary was reused as it was. */
export const NO_MODEL = 'none';

const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half_open', 'quota_exhausted'];
/** Seconds waited for the shared limiter: 0 when there is capacity, up to PRECIS_LLM_LIMITER_MAX_WAIT_MS. */
const WAIT_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * What the summarizer reports about model use. Labels are the configured models (primary, fallback, local) and the
 * outcome: both bounded by configuration, never by traffic.
 */
export class ModelMetrics {
  private readonly outcomes: Counter<'model' | 'outcome'>;
  private readonly tokens: Counter<'model' | 'kind'>;
  private readonly usd: Counter<'model'>;
  private readonly limiterWait: Histogram<'model' | 'result'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.outcomes = new Counter({
      name: 'precis_model_outcomes_total',
      help: 'Summaries by why a model call was or was not made (unchanged, immaterial, cache_hit, model_call, fallback_model, local_fallback, local_default).',
      labelNames: ['model', 'outcome'],
      registers,
    });
    this.tokens = new Counter({
      name: 'precis_model_tokens_total',
      help: 'Tokens of paid model calls (kind: prompt, cached (part of prompt), completion).',
      labelNames: ['model', 'kind'],
      registers,
    });
    this.usd = new Counter({
      name: 'precis_model_cost_usd_total',
      help: 'USD of paid model calls, from the price table.',
      labelNames: ['model'],
      registers,
    });
    this.limiterWait = new Histogram({
      name: 'precis_model_limiter_wait_seconds',
      help: 'Time a call waited for the shared rate limiter (result: granted, or gave_up and handed the wait to Temporal).',
      labelNames: ['model', 'result'],
      buckets: WAIT_BUCKETS,
      registers,
    });
  }

  outcome(outcome: ModelOutcome, model: string): void {
    this.outcomes.inc({ model, outcome });
  }

  /** One paid reply, counted when it arrives (a resumed attempt that finds it kept does not count it again). */
  paid(model: string, usage: TokenUsage, usd: number): void {
    this.tokens.inc({ model, kind: 'prompt' }, usage.promptTokens);
    this.tokens.inc({ model, kind: 'cached' }, usage.cachedTokens);
    this.tokens.inc({ model, kind: 'completion' }, usage.completionTokens);
    this.usd.inc({ model }, usd);
  }

  limiterWaited(model: string, seconds: number, granted: boolean): void {
    this.limiterWait.observe({ model, result: granted ? 'granted' : 'gave_up' }, seconds);
  }
}

/** Read at scrape time from Redis: the shared circuit breakers and today's spend. */
export interface ModelStatusSources {
  /** The circuit breaker of each configured model, by model. */
  breakers: ReadonlyMap<string, { state(): Promise<BreakerStatus> }>;
  spentTodayUsd: () => Promise<number>;
  dailyBudgetUsd: number;
}

/**
 * Gauges of the state every LLM worker shares through Redis, read when scraped (so they are as fresh as the scrape
 * and cost nothing between scrapes). A Redis error leaves a breaker out of that scrape, and the spend at its last
 * value, instead of failing the scrape.
 */
export function registerModelStatus(registry: Registry, sources: ModelStatusSources): void {
  const registers = [registry];
  new Gauge({
    name: 'precis_model_breaker_state',
    help: 'Circuit breaker per model: 1 for its current state (closed, open, half_open, quota_exhausted), 0 for the others.',
    labelNames: ['model', 'state'],
    registers,
    async collect() {
      this.reset();
      await Promise.all(
        [...sources.breakers].map(async ([model, breaker]) => {
          const status = await breaker.state().catch(() => null);
          if (!status) return;
          for (const state of BREAKER_STATES) this.set({ model, state }, state === status.state ? 1 : 0);
        }),
      );
    },
  });
  new Gauge({
    name: 'precis_model_budget_spent_usd',
    help: 'USD spent on model calls today (UTC), every worker together, from the cost ledger.',
    registers,
    async collect() {
      // Not reset first: an unlabelled gauge would then read 0 (nothing spent) when Redis does not answer.
      const spent = await sources.spentTodayUsd().catch(() => null);
      if (spent !== null) this.set(spent);
    },
  });
  new Gauge({
    name: 'precis_model_budget_daily_usd',
    help: 'The daily model budget (PRECIS_BUDGET_DAILY_USD); at it, precis degrades to the local summarizer.',
    registers,
    collect() {
      this.set(sources.dailyBudgetUsd);
    },
  });
}
