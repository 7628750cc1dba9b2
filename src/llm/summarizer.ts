import type { Redis } from 'ioredis';
import type OpenAI from 'openai';
import type { Config } from '../config';
import type { Summary } from '../domain/summary';
import { type ModelMetrics, type ModelOutcome, NO_MODEL } from '../metrics/model';
import { canonicalJson } from '../pipeline/canonical';
import { estimateTokens } from '../pipeline/enrich';
import type { EnrichedDashboard } from '../pipeline/types';
import { LOCAL_MODEL, summarizeLocally } from '../summarize/local';
import type { SummaryContent } from '../summarize/types';
import type { AllowedPermit, CircuitBreaker } from './breaker';
import { cacheKey, ReplyCache } from './cache';
import { type CostLedger, costUsd, type PriceTable, type TokenUsage } from './cost';
import { certainlyNotSent, classifyModelError } from './errors';
import { LimiterError, type TokenLimiter } from './limiter';
import { callModel, type ModelReply } from './model-client';
import { OUTPUT_SCHEMA_VERSION } from './output';
import { type CallStep, PaidReplies, type PaidReply } from './paid';
import { FLIGHT_LOCK_MS, modelTimeouts } from './plan';
import { buildMessages, type Prompt } from './prompt';

/** What the pipeline stores: the content plus where it came from and what it cost. */
export interface SummarizeResult {
  content: SummaryContent;
  model: string;
  degraded: boolean;
  degradedReason: string | null;
  usage: Summary['usage'];
  cacheOutcome: Summary['cacheOutcome'];
}

/** `skip`: no model call was needed; the existing summary stays and its freshness is extended. */
export type SummarizeOutcome =
  | { kind: 'skip'; cause: 'unchanged' | 'immaterial'; version: number }
  | { kind: 'summary'; result: SummarizeResult };

export interface AttemptInfo {
  /** Temporal's attempt number of this activity, from 1. */
  attempt: number;
  /** When the first attempt was scheduled: the total retry time is measured from here. */
  firstScheduledMs: number;
  signal: AbortSignal;
  /** Told where on the ladder the attempt is (the activity heartbeats it, so it shows in the Temporal UI). */
  progress?: (position: LadderPosition) => void;
}

/** Where an attempt is: which rung, which call of it, and why the rungs above were left. */
export interface LadderPosition {
  model: string;
  step: CallStep | 'cache' | 'shared' | 'local';
  reasons: string[];
}

/** Thrown when the primary model should be tried again later: the activity turns it into a Temporal retry. */
export class RetryLater extends Error {
  override readonly name = 'RetryLater';
  constructor(
    message: string,
    readonly delayMs: number | null,
  ) {
    super(message);
  }
}

export interface Guards {
  limiter: TokenLimiter;
  breaker: CircuitBreaker;
}

export interface SummarizerDeps {
  llm: Config['llm'];
  /** The endpoint's base URL: part of the cache key (the same model name elsewhere is another model). */
  endpoint: string;
  /** null: no model is configured, the local summarizer is the default (not a degradation). */
  client: OpenAI | null;
  prompt: Prompt;
  prices: PriceTable;
  ledger: CostLedger;
  redis: Redis;
  keyPrefix: string;
  /** The limiter and breaker shared by every worker for one (endpoint, model). */
  guards: (model: string) => Guards;
  /** The latest stored summary of a dashboard, for the unchanged-input check. */
  latest: (dashboardId: string) => Promise<Summary | null>;
  /** This process's Prometheus metrics of model use (absent in tests that do not look at them). */
  metrics?: ModelMetrics;
}

interface CachedReply {
  content: SummaryContent;
  model: string;
  usage: TokenUsage;
}

type RungResult = { ok: true; reply: CachedReply; shared: boolean } | { ok: false; reason: string };

type CallResult = { reply: ModelReply } | { reason: string };

/** One call of a rung: what is asked, of which model, under which attempt. */
interface CallRequest {
  /** The request's content address (cache key): paid replies are kept under it. */
  key: string;
  step: CallStep;
  model: string;
  primary: boolean;
  enriched: EnrichedDashboard;
  stricter: string | null;
  attempt: AttemptInfo;
}

/** Bookkeeping after a paid call is retried in place a few times: the reply is bought, only the books may fail. */
const BOOKKEEPING_DELAYS_MS = [50, 200, 800];

async function withBookkeepingRetries<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const delay = BOOKKEEPING_DELAYS_MS[attempt];
      if (delay === undefined) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

const STRICTER = (problem: string) =>
  `Your previous reply was rejected (${problem}). Use only numbers copied exactly from the data, refer only to widget ids that appear in the data, and write plain sentences without links or markup.`;

/** A compact digest of what a summary says something about, to tell a material change from noise. */
type Digest = {
  series: Record<string, { mean: number; pct: number | null }>;
  missing: string[];
  anomalies: string[];
};

function digestOf(enriched: EnrichedDashboard): Digest {
  const series: Digest['series'] = {};
  for (const widget of enriched.widgets) {
    for (const s of widget.series)
      series[`${widget.widgetId}/${s.key}`] = { mean: s.currentMean, pct: s.changePct };
  }
  return {
    series,
    missing: enriched.missing.map((m) => m.widgetId).sort(),
    anomalies: enriched.widgets
      .flatMap((w) => w.anomalies.map((a) => `${w.widgetId}/${a.seriesKey}@${a.t}`))
      .sort(),
  };
}

/** True when nothing moved by `thresholdPct` or more and no widget, gap or anomaly appeared or went away. */
export function isImmaterial(previous: Digest, current: Digest, thresholdPct: number): boolean {
  if (thresholdPct <= 0) return false;
  if (canonicalJson(previous.missing) !== canonicalJson(current.missing)) return false;
  if (canonicalJson(previous.anomalies) !== canonicalJson(current.anomalies)) return false;
  const keys = Object.keys(current.series);
  if (keys.length !== Object.keys(previous.series).length) return false;
  return keys.every((key) => {
    const now = current.series[key];
    const before = previous.series[key];
    if (!now || !before) return false;
    const meanMove =
      before.mean === 0
        ? now.mean === 0
          ? 0
          : 100
        : (Math.abs(now.mean - before.mean) / Math.abs(before.mean)) * 100;
    const pctMove =
      now.pct === null || before.pct === null
        ? now.pct === before.pct
          ? 0
          : 100
        : Math.abs(now.pct - before.pct);
    return meanMove < thresholdPct && pctMove < thresholdPct;
  });
}

/**
 * The summarize stage: spend only when it matters, then walk the degradation ladder.
 *   unchanged input → no call · immaterial change → no call · cached reply → no call · identical request in
 *   flight elsewhere → wait for it · primary model (retried by Temporal) → fallback model → local summarizer.
 * Every rung below the primary is labelled in the result (model, degraded, reason).
 */
export class Summarizer {
  private readonly cache: ReplyCache<CachedReply | { failed: string }>;
  private readonly paid: PaidReplies;
  /** How long a budget hold lives when nobody settles it (its worker died): one attempt's worst case. */
  private readonly holdMs: number;

  constructor(private readonly deps: SummarizerDeps) {
    this.cache = new ReplyCache<CachedReply | { failed: string }>(
      deps.redis,
      deps.keyPrefix,
      deps.llm.cacheTtlSeconds,
    );
    const timeouts = modelTimeouts(deps.llm);
    this.holdMs = timeouts.startToCloseMs;
    // A paid reply must outlive every retry of its activity, which may resume from it.
    this.paid = new PaidReplies(deps.redis, deps.keyPrefix, timeouts.scheduleToCloseMs + 60_000);
  }

  private digestKey(dashboardId: string): string {
    return `${this.deps.keyPrefix}llm:digest:${dashboardId}`;
  }

  async summarize(enriched: EnrichedDashboard, attempt: AttemptInfo): Promise<SummarizeOutcome> {
    if (!this.deps.client) {
      await this.count('local_default', LOCAL_MODEL);
      return { kind: 'summary', result: this.local(enriched, false, null) };
    }
    const skip = await this.reusable(enriched);
    if (skip) return skip;

    const reasons: string[] = [];
    const { model, fallbackModel } = this.deps.llm;
    const rungs = fallbackModel !== 'none' && fallbackModel !== model ? [model, fallbackModel] : [model];
    for (const [index, rungModel] of rungs.entries()) {
      attempt.progress?.({ model: rungModel, step: 'cache', reasons: [...reasons] });
      const outcome = await this.rung(rungModel, index === 0, enriched, attempt, reasons);
      if (!outcome.ok) {
        reasons.push(`${rungModel}: ${outcome.reason}`);
        continue;
      }
      const { reply, shared } = outcome;
      const degraded = index > 0;
      if (!degraded) {
        await this.deps.redis.set(
          this.digestKey(enriched.dashboardId),
          JSON.stringify(digestOf(enriched)),
          'EX',
          30 * 86_400,
        );
      }
      await this.count(shared ? 'cache_hit' : degraded ? 'fallback_model' : 'model_call', rungModel);
      return {
        kind: 'summary',
        result: {
          content: reply.content,
          model: reply.model,
          degraded,
          degradedReason: degraded ? reasons.join('; ') : null,
          usage: shared
            ? { promptTokens: 0, completionTokens: 0, costUsd: 0 }
            : {
                promptTokens: reply.usage.promptTokens,
                cachedTokens: reply.usage.cachedTokens,
                completionTokens: reply.usage.completionTokens,
                costUsd: costUsd(this.deps.prices, reply.model, reply.usage) ?? 0,
              },
          cacheOutcome: shared ? 'hit' : 'miss',
        },
      };
    }
    attempt.progress?.({ model: LOCAL_MODEL, step: 'local', reasons: [...reasons] });
    await this.count('local_fallback', LOCAL_MODEL);
    return { kind: 'summary', result: this.local(enriched, true, reasons.join('; ')) };
  }

  /**
   * Whether the latest summary still holds for this input (unchanged, or changed too little to matter): then no
   * model call is needed. Counted per cause. The pipeline asks before it schedules the model stage at all.
   */
  async reusable(enriched: EnrichedDashboard): Promise<(SummarizeOutcome & { kind: 'skip' }) | null> {
    if (!this.deps.client) return null;
    const latest = await this.deps.latest(enriched.dashboardId);
    if (!latest || latest.degraded) return null;
    if (latest.inputHash === enriched.inputHash) {
      await this.count('unchanged', NO_MODEL);
      return { kind: 'skip', cause: 'unchanged', version: latest.version };
    }
    const previous = await this.deps.redis.get(this.digestKey(enriched.dashboardId));
    if (
      previous &&
      isImmaterial(JSON.parse(previous) as Digest, digestOf(enriched), this.deps.llm.materialityPct)
    ) {
      await this.count('immaterial', NO_MODEL);
      return { kind: 'skip', cause: 'immaterial', version: latest.version };
    }
    return null;
  }

  /** Counts an outcome in the day's ledger (Redis, for the API and the CLI) and in this process's metrics. */
  private async count(outcome: ModelOutcome, model: string): Promise<void> {
    this.deps.metrics?.outcome(outcome, model);
    await this.deps.ledger.countOutcome(outcome);
  }

  private local(enriched: EnrichedDashboard, degraded: boolean, reason: string | null): SummarizeResult {
    return {
      content: summarizeLocally(enriched),
      model: LOCAL_MODEL,
      degraded,
      degradedReason: reason,
      usage: { promptTokens: 0, completionTokens: 0, costUsd: 0 },
      cacheOutcome: 'none',
    };
  }

  private async rung(
    model: string,
    primary: boolean,
    enriched: EnrichedDashboard,
    attempt: AttemptInfo,
    reasons: string[],
  ): Promise<RungResult> {
    const { llm, prompt } = this.deps;
    const key = cacheKey({
      inputHash: enriched.inputHash,
      promptVersion: prompt.version,
      promptHash: prompt.hash,
      endpoint: this.deps.endpoint,
      outputSchemaVersion: OUTPUT_SCHEMA_VERSION,
      model,
      temperature: llm.temperature,
      maxOutputTokens: llm.maxOutputTokens,
    });
    const cached = await this.cache.get(key);
    if (cached && 'content' in cached) return { ok: true, reply: cached, shared: true };

    attempt.progress?.({ model, step: 'shared', reasons: [...reasons] });
    const { value, shared } = await this.cache.singleFlight(
      key,
      async () => {
        const outcome = await this.callWithRepair(key, model, primary, enriched, attempt, reasons);
        // Only good replies are cached; a failure lets the next waiter try for itself.
        return { value: outcome, cacheable: 'content' in outcome };
      },
      { lockMs: FLIGHT_LOCK_MS, signal: attempt.signal },
    );
    return 'content' in value ? { ok: true, reply: value, shared } : { ok: false, reason: value.failed };
  }

  /** A call, and when its reply is unusable, one repair call with a stricter prompt (a changed strategy, not a retry). */
  private async callWithRepair(
    key: string,
    model: string,
    primary: boolean,
    enriched: EnrichedDashboard,
    attempt: AttemptInfo,
    reasons: string[],
  ): Promise<CachedReply | { failed: string }> {
    attempt.progress?.({ model, step: 'first', reasons: [...reasons] });
    const request = { key, model, primary, enriched, attempt };
    const first = await this.paidCall({ ...request, step: 'first', stricter: null });
    if (!('reply' in first)) return { failed: first.reason };
    let reply = first.reply;
    let usage = reply.usage;
    if (reply.problem) {
      attempt.progress?.({ model, step: 'repair', reasons: [...reasons] });
      const stricter = STRICTER(reply.problem.detail);
      const repair = await this.paidCall({ ...request, step: 'repair', stricter });
      if (!('reply' in repair)) return { failed: repair.reason };
      usage = addUsage(usage, repair.reply.usage);
      reply = repair.reply;
      if (reply.problem)
        return { failed: `${reply.problem.kind} reply after repair: ${reply.problem.detail}` };
    }
    if (!reply.content) return { failed: 'empty reply' };
    return { content: reply.content, model: reply.model, usage };
  }

  /**
   * One step of a rung, resumable: a reply already paid for this request and step (by an attempt that then timed
   * out, crashed, or lost its bookkeeping) is taken as it is, its missing bookkeeping finished; otherwise a call.
   */
  private async paidCall(request: CallRequest): Promise<CallResult> {
    const earlier = await this.paid.get(request.key, request.step);
    if (earlier) {
      if (!earlier.booked) await this.book(request, earlier, null, true);
      return { reply: earlier.reply };
    }
    return this.guardedCall(request);
  }

  private estimatePrompt(enriched: EnrichedDashboard): number {
    return estimateTokens(
      buildMessages(this.deps.prompt, enriched, null)
        .map((m) => m.content)
        .join('\n'),
    );
  }

  /**
   * One call behind the budget, the shared limiter and the breaker. The call's worst-case cost is held against the
   * budgets first (atomically across workers), so concurrent calls cannot overspend together. Retryable failures of
   * the primary model become a Temporal retry (with the provider's delay) while attempts and the retry-time cap
   * allow; otherwise they end this rung. A reply is stored the moment it arrives, before any bookkeeping.
   */
  private async guardedCall(request: CallRequest): Promise<CallResult> {
    const { key, step, model, primary, enriched, stricter, attempt } = request;
    const { llm, client, ledger, prices } = this.deps;
    if (!client) return { reason: 'no model configured' };
    const { limiter, breaker } = this.deps.guards(model);
    const promptTokens = this.estimatePrompt(enriched);
    const estimateUsd =
      costUsd(prices, model, { promptTokens, cachedTokens: 0, completionTokens: llm.maxOutputTokens }) ?? 0;
    const budget = await ledger.reserve(
      enriched.dashboardId,
      estimateUsd,
      { dailyUsd: llm.dailyBudgetUsd, dashboardDailyUsd: llm.dashboardDailyBudgetUsd },
      this.holdMs,
    );
    if (!budget.granted) {
      return budget.exceeded === 'daily'
        ? { reason: `daily budget of ${llm.dailyBudgetUsd} USD reached` }
        : { reason: `daily budget of ${llm.dashboardDailyBudgetUsd} USD for this dashboard reached` };
    }
    const { hold } = budget;
    const waitStarted = performance.now();
    const reservation = await limiter
      .waitForCapacity(promptTokens + llm.maxOutputTokens, {
        signal: attempt.signal,
        maxWaitMs: llm.limiterMaxWaitMs,
      })
      .catch((error: unknown) => error as Error);
    this.deps.metrics?.limiterWaited(
      model,
      (performance.now() - waitStarted) / 1000,
      !(reservation instanceof Error),
    );
    if (reservation instanceof Error) {
      await ledger.release(hold);
      // Backpressure: hand the limiter's wait to Temporal rather than provoke the provider's 429.
      const delay = reservation instanceof LimiterError ? reservation.retryAfterMs : null;
      return this.retryOrGiveUp(primary, attempt, `shared rate limit: ${reservation.message}`, delay);
    }
    const permit = await breaker.acquire();
    if (!permit.allowed) {
      await limiter.release(reservation);
      await ledger.release(hold);
      return { reason: `circuit ${permit.state}: ${permit.reason}` };
    }
    let reply: ModelReply;
    try {
      // Aborted before sending: nothing reached the provider, everything is given back (below).
      attempt.signal.throwIfAborted();
      reply = await callModel(client, llm, this.deps.prompt, model, enriched, stricter, attempt.signal);
    } catch (error) {
      // No reply, nothing to pay; but a request that may have reached the provider counts against its rate limit.
      await ledger.release(hold);
      if (attempt.signal.aborted || certainlyNotSent(error)) await limiter.release(reservation);
      if (attempt.signal.aborted) throw error;
      const failure = classifyModelError(error);
      switch (failure.kind) {
        case 'retry':
          // A 429 says the provider is healthy and busy; only real failures count against the breaker.
          await breaker.record(permit, failure.countsAgainstBreaker ? 'failure' : 'success');
          return this.retryOrGiveUp(primary, attempt, failure.reason, failure.delayMs);
        case 'quota':
          await breaker.markQuotaExhausted(failure.reason);
          return { reason: `quota exhausted: ${failure.reason}` };
        case 'next-rung':
          await breaker.record(permit, 'success');
          return { reason: failure.reason };
      }
    }
    // Labelled by the configured model (a bounded set), not the provider's dated name of it.
    this.deps.metrics?.paid(model, reply.usage, costUsd(prices, reply.model, reply.usage) ?? 0);
    const paid: PaidReply = { reply, reservation, hold, booked: false };
    const kept = await withBookkeepingRetries(() => this.paid.put(key, step, paid)).then(
      () => true,
      () => false,
    );
    await this.book(request, paid, permit, kept);
    return { reply };
  }

  /**
   * Tells the limiter (real tokens), the provider caps, the breaker and the ledger (real cost) about a paid reply.
   * Every part is safe to repeat, so a failure is retried here and, if Redis stays down, by the next attempt, which
   * finds the kept reply (`kept`) and finishes the books instead of buying the reply again. A reply that could not
   * even be kept is served all the same: throwing it away would only buy it again.
   */
  private async book(
    { key, step, model }: CallRequest,
    paid: PaidReply,
    permit: AllowedPermit | null,
    kept: boolean,
  ): Promise<void> {
    const { limiter, breaker } = this.deps.guards(model);
    const { reply, reservation, hold } = paid;
    const books = async () => {
      if (reservation)
        await limiter.settle(reservation, reply.usage.promptTokens + reply.usage.completionTokens);
      // Headers and breaker outcomes are news only when fresh: a resumed attempt does not repeat them.
      if (permit) {
        await limiter.syncFromHeaders(reply.rateLimits);
        await breaker.record(permit, 'success');
      }
      const usd = costUsd(this.deps.prices, reply.model, reply.usage) ?? 0;
      if (hold) await this.deps.ledger.settle(hold, reply.model, reply.usage, usd);
    };
    try {
      await withBookkeepingRetries(books);
    } catch (error) {
      if (kept) throw error;
      return;
    }
    // Unmarked, a retry would only repeat bookkeeping that is safe to repeat: not worth failing the attempt over.
    if (kept) await this.paid.put(key, step, { ...paid, booked: true }).catch(() => undefined);
  }

  private retryOrGiveUp(
    primary: boolean,
    attempt: AttemptInfo,
    reason: string,
    delayMs: number | null,
  ): { reason: string } {
    const { primaryAttempts, maxRetryMs } = this.deps.llm;
    const elapsed = Date.now() - attempt.firstScheduledMs;
    const nextDelay = delayMs ?? 0;
    if (primary && attempt.attempt < primaryAttempts && elapsed + nextDelay < maxRetryMs)
      throw new RetryLater(reason, delayMs);
    return { reason: primary ? `${reason} (gave up after ${attempt.attempt} attempts)` : reason };
  }
}

function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    cachedTokens: a.cachedTokens + b.cachedTokens,
    completionTokens: a.completionTokens + b.completionTokens,
  };
}
