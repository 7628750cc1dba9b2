import type { Redis } from 'ioredis';

/**
 * Remembers which event ids were handed to Temporal, so that a redelivered event (producer retry, replay, a
 * consumer that crashed before committing) changes nothing even after its workflow run has completed. Ids are
 * remembered only after Temporal accepted them: remembering first would lose an event whose hand-over failed.
 */
export class EventDeduper {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly ttlSeconds: number,
  ) {}

  private key(eventId: string): string {
    return `${this.keyPrefix}event:${eventId}`;
  }

  /** The ids among these that were already handed over. */
  async seen(eventIds: string[]): Promise<Set<string>> {
    if (eventIds.length === 0) return new Set();
    const pipeline = this.redis.pipeline();
    for (const id of eventIds) pipeline.exists(this.key(id));
    const results = (await pipeline.exec()) ?? [];
    return new Set(eventIds.filter((_, i) => results[i]?.[1] === 1));
  }

  async remember(eventIds: string[]): Promise<void> {
    if (eventIds.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const id of eventIds) pipeline.set(this.key(id), '1', 'EX', this.ttlSeconds);
    await pipeline.exec();
  }
}
