import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ClientContext, Redis, Result } from 'ioredis';
import { z } from 'zod';
import { LUA_NOW_MS } from './lua-clock';

const priceSchema = z.object({
  input: z.number().min(0),
  cachedInput: z.number().min(0),
  output: z.number().min(0),
});

const priceTableSchema = z.object({
  version: z.string().min(1),
  models: z.record(z.string(), priceSchema),
});

export type Price = z.infer<typeof priceSchema>;

/** The versioned table, plus the price of models it does not list when the operator configured one. */
export type PriceTable = z.infer<typeof priceTableSchema> & { unlisted?: Price };

export interface TokenUsage {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
}

/** Reads the versioned price table (USD per million tokens); a bad file stops start-up naming the file and field. */
export function loadPriceTable(file: string): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: cannot read the price table: ${(error as Error).message}`);
  }
  const parsed = priceTableSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `${file}: ${i.path.join('.')}: ${i.message}`).join('\n'));
  }
  return parsed.data;
}

/** Longest known model name that prefixes the served one: "gpt-4o-2024-08-06" is priced as "gpt-4o". */
function priceFor(table: PriceTable, model: string): Price | undefined {
  const names = Object.keys(table.models).filter((name) => model === name || model.startsWith(`${name}-`));
  const best = names.sort((a, b) => b.length - a.length)[0];
  return best ? table.models[best] : table.unlisted;
}

/**
 * Adds the operator's price for unlisted models, and refuses a configured model that has no price at all: such a
 * model would cost 0 and no budget would ever stop it. `settings` names what to set, for the start-up error.
 */
export function completePriceTable(
  table: PriceTable,
  models: string[],
  unlisted: { input?: number | undefined; output?: number | undefined },
  settings: { file: string; input: string; output: string },
): PriceTable {
  if ((unlisted.input === undefined) !== (unlisted.output === undefined)) {
    throw new Error(`${settings.input} and ${settings.output} must be set together`);
  }
  const complete: PriceTable =
    unlisted.input !== undefined && unlisted.output !== undefined
      ? {
          ...table,
          unlisted: { input: unlisted.input, cachedInput: unlisted.input, output: unlisted.output },
        }
      : table;
  const missing = models.filter((model) => !priceFor(complete, model));
  if (missing.length > 0) {
    throw new Error(
      `no price for model ${missing.map((m) => `"${m}"`).join(', ')} in ${settings.file}: add it there, or set ` +
        `${settings.input} and ${settings.output} (USD per million tokens; 0 for a free local model), so that ` +
        'the spend budgets can count its calls',
    );
  }
  return complete;
}

/** USD for one call. Cached prompt tokens are billed at the cached rate; an unknown model costs null (reported). */
export function costUsd(table: PriceTable, model: string, usage: TokenUsage): number | null {
  const price = priceFor(table, model);
  if (!price) return null;
  const uncached = Math.max(0, usage.promptTokens - usage.cachedTokens);
  const usd =
    (uncached * price.input +
      usage.cachedTokens * price.cachedInput +
      usage.completionTokens * price.output) /
    1e6;
  return Math.round(usd * 1e8) / 1e8;
}

const day = (now: Date) => now.toISOString().slice(0, 10);

/** The daily budgets a reservation must fit, in USD. */
export interface BudgetLimits {
  dailyUsd: number;
  dashboardDailyUsd: number;
}

/** Money set aside for one call until it is settled (its real cost) or released (no call was made). */
export interface BudgetHold {
  id: string;
  /** The ledger day the hold was taken on: the call is booked there, even when it settles after midnight. */
  day: string;
  dashboardId: string;
  estimateUsd: number;
}

export type BudgetDecision =
  | { granted: true; hold: BudgetHold }
  | { granted: false; exceeded: 'daily' | 'dashboard' };

/**
 * KEYS: day hash, holds hash. ARGV: hold id, dashboard id, estimate, daily limit, dashboard limit, hold ms.
 * Spent plus every live hold plus this estimate must fit both budgets; holds of workers that died expire.
 * Returns {1, ''} with the hold recorded, or {0, 'daily' | 'dashboard'}.
 */
const RESERVE_SCRIPT = `${LUA_NOW_MS}
local now = now_ms('')
local estimate = tonumber(ARGV[3])
local held, held_dashboard = 0, 0
local flat = redis.call('HGETALL', KEYS[2])
for i = 1, #flat, 2 do
  local expires, dashboard, usd = string.match(flat[i + 1], '^(%d+)|(.*)|([^|]+)$')
  if tonumber(expires) <= now then
    redis.call('HDEL', KEYS[2], flat[i])
  else
    held = held + tonumber(usd)
    if dashboard == ARGV[2] then held_dashboard = held_dashboard + tonumber(usd) end
  end
end
local spent = redis.call('HMGET', KEYS[1], 'usd', 'usd:dashboard:' .. ARGV[2])
if tonumber(spent[1] or '0') + held + estimate > tonumber(ARGV[4]) then return {0, 'daily'} end
if tonumber(spent[2] or '0') + held_dashboard + estimate > tonumber(ARGV[5]) then return {0, 'dashboard'} end
redis.call('HSET', KEYS[2], ARGV[1], (now + tonumber(ARGV[6])) .. '|' .. ARGV[2] .. '|' .. ARGV[3])
redis.call('PEXPIRE', KEYS[2], 40 * 86400000)
return {1, ''}
`;

/**
 * KEYS: day hash, holds hash, settled marker. ARGV: hold id, dashboard id, usd, model, prompt, cached, completion
 * tokens. Books the call once (the marker makes a repeated settle harmless) and drops its hold. Returns 1 or 0.
 */
const SETTLE_SCRIPT = `
redis.call('HDEL', KEYS[2], ARGV[1])
if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', 2 * 86400000) then return 0 end
redis.call('HINCRBYFLOAT', KEYS[1], 'usd', ARGV[3])
redis.call('HINCRBYFLOAT', KEYS[1], 'usd:dashboard:' .. ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[1], 'calls:model:' .. ARGV[4], 1)
redis.call('HINCRBY', KEYS[1], 'tokens:prompt', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'tokens:cached', ARGV[6])
redis.call('HINCRBY', KEYS[1], 'tokens:completion', ARGV[7])
redis.call('EXPIRE', KEYS[1], 40 * 86400)
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    precisBudgetReserve(
      day: string,
      holds: string,
      id: string,
      dashboardId: string,
      estimateUsd: string,
      dailyUsd: string,
      dashboardDailyUsd: string,
      holdMs: number,
    ): Result<[number, string], Context>;
    precisBudgetSettle(
      day: string,
      holds: string,
      settled: string,
      id: string,
      dashboardId: string,
      usd: string,
      model: string,
      promptTokens: number,
      cachedTokens: number,
      completionTokens: number,
    ): Result<number, Context>;
  }
}

/**
 * Spend per day, globally and per dashboard, in Redis. Budgets are reserve-then-settle, atomic across workers: a
 * call first holds its worst-case cost against both budgets (refused when spent + holds + estimate would pass
 * either), then settles to its real cost, or releases the hold when no call was made.
 */
export class CostLedger {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {
    if (typeof redis.precisBudgetReserve !== 'function') {
      redis.defineCommand('precisBudgetReserve', { numberOfKeys: 2, lua: RESERVE_SCRIPT });
      redis.defineCommand('precisBudgetSettle', { numberOfKeys: 3, lua: SETTLE_SCRIPT });
    }
  }

  private dayKey(dayText: string): string {
    return `${this.keyPrefix}cost:${dayText}`;
  }

  private key(now: Date): string {
    return this.dayKey(day(now));
  }

  /** Holds `estimateUsd` for one call if it fits both budgets. `holdMs`: when a hold nobody settled lapses. */
  async reserve(
    dashboardId: string,
    estimateUsd: number,
    limits: BudgetLimits,
    holdMs: number,
    now = new Date(),
  ): Promise<BudgetDecision> {
    const hold: BudgetHold = { id: randomUUID(), day: day(now), dashboardId, estimateUsd };
    const [granted, exceeded] = await this.redis.precisBudgetReserve(
      this.dayKey(hold.day),
      `${this.dayKey(hold.day)}:holds`,
      hold.id,
      dashboardId,
      String(estimateUsd),
      String(limits.dailyUsd),
      String(limits.dashboardDailyUsd),
      Math.max(1, Math.ceil(holdMs)),
    );
    if (granted === 1) return { granted: true, hold };
    return { granted: false, exceeded: exceeded === 'daily' ? 'daily' : 'dashboard' };
  }

  /** Books the call's real cost on the hold's day and drops the hold. Repeating it books nothing more. */
  async settle(hold: BudgetHold, model: string, usage: TokenUsage, usd: number): Promise<void> {
    await this.redis.precisBudgetSettle(
      this.dayKey(hold.day),
      `${this.dayKey(hold.day)}:holds`,
      `${this.keyPrefix}cost:settled:${hold.id}`,
      hold.id,
      hold.dashboardId,
      String(usd),
      model,
      usage.promptTokens,
      usage.cachedTokens,
      usage.completionTokens,
    );
  }

  /** Gives the hold back: the call never happened. */
  async release(hold: BudgetHold): Promise<void> {
    await this.redis.hdel(`${this.dayKey(hold.day)}:holds`, hold.id);
  }

  async spent(dashboardId: string, now = new Date()): Promise<{ total: number; dashboard: number }> {
    const [total, dashboard] = await this.redis.hmget(this.key(now), 'usd', `usd:dashboard:${dashboardId}`);
    return { total: Number(total ?? 0), dashboard: Number(dashboard ?? 0) };
  }

  /** Today's spend of every dashboard together (USD, UTC day), for the budget gauge. */
  async spentToday(now = new Date()): Promise<number> {
    return Number((await this.redis.hget(this.key(now), 'usd')) ?? 0);
  }

  /** Counts why a model call was or was not made (unchanged, immaterial, cache hit, shared, called, degraded). */
  async countOutcome(outcome: string, now = new Date()): Promise<void> {
    const key = `${this.key(now)}:outcomes`;
    await this.redis
      .multi()
      .hincrby(key, outcome, 1)
      .expire(key, 40 * 86_400)
      .exec();
  }

  async outcomes(now = new Date()): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(`${this.key(now)}:outcomes`);
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }
}
