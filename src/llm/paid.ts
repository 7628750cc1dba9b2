import type { Redis } from 'ioredis';
import type { BudgetHold } from './cost';
import type { GrantedReservation } from './limiter';
import type { ModelReply } from './model-client';

/** Which call of a rung a reply answers: the first one, or the repair call with a stricter prompt. */
export type CallStep = 'first' | 'repair';

/**
 * A reply that was paid for, kept the moment it arrived, with the bookkeeping it still owes. `booked` turns true
 * once the limiter, breaker and ledger have all been told; until then a retry finishes that bookkeeping (every part
 * of it is safe to repeat) instead of buying the reply again.
 */
export interface PaidReply {
  reply: ModelReply;
  /** The limiter reservation and the budget hold the call was made under; null when the call had none. */
  reservation: GrantedReservation | null;
  hold: BudgetHold | null;
  booked: boolean;
}

/**
 * Paid replies by request content address and step, in Redis, so that an attempt that timed out, crashed or lost
 * its bookkeeping to a Redis error resumes where it was on any worker: no provider call is ever bought twice for
 * the same request while its activity can still be retried (entries live that long).
 */
export class PaidReplies {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly ttlMs: number,
  ) {}

  private key(requestKey: string, step: CallStep): string {
    return `${this.keyPrefix}llm:paid:${requestKey}:${step}`;
  }

  async get(requestKey: string, step: CallStep): Promise<PaidReply | null> {
    const raw = await this.redis.get(this.key(requestKey, step));
    return raw === null ? null : (JSON.parse(raw) as PaidReply);
  }

  async put(requestKey: string, step: CallStep, paid: PaidReply): Promise<void> {
    await this.redis.set(this.key(requestKey, step), JSON.stringify(paid), 'PX', this.ttlMs);
  }
}
