import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { z } from 'zod';

const priceSchema = z.object({
  input: z.number().min(0),
  cachedInput: z.number().min(0),
  output: z.number().min(0),
});

const priceTableSchema = z.object({
  version: z.string().min(1),
  models: z.record(z.string(), priceSchema),
});

export type PriceTable = z.infer<typeof priceTableSchema>;

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
function priceFor(table: PriceTable, model: string): z.infer<typeof priceSchema> | undefined {
  const names = Object.keys(table.models).filter((name) => model === name || model.startsWith(`${name}-`));
  const best = names.sort((a, b) => b.length - a.length)[0];
  return best ? table.models[best] : undefined;
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

/** Spend per day, globally and per dashboard, in Redis: the budgets every worker checks before calling. */
export class CostLedger {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {}

  private key(now: Date): string {
    return `${this.keyPrefix}cost:${day(now)}`;
  }

  async record(
    dashboardId: string,
    model: string,
    usage: TokenUsage,
    usd: number,
    now = new Date(),
  ): Promise<void> {
    const key = this.key(now);
    await this.redis
      .multi()
      .hincrbyfloat(key, 'usd', usd)
      .hincrbyfloat(key, `usd:dashboard:${dashboardId}`, usd)
      .hincrby(key, `calls:model:${model}`, 1)
      .hincrby(key, 'tokens:prompt', usage.promptTokens)
      .hincrby(key, 'tokens:cached', usage.cachedTokens)
      .hincrby(key, 'tokens:completion', usage.completionTokens)
      .expire(key, 40 * 86_400)
      .exec();
  }

  async spent(dashboardId: string, now = new Date()): Promise<{ total: number; dashboard: number }> {
    const [total, dashboard] = await this.redis.hmget(this.key(now), 'usd', `usd:dashboard:${dashboardId}`);
    return { total: Number(total ?? 0), dashboard: Number(dashboard ?? 0) };
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
