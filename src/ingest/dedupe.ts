import type { ClientContext, Redis, Result } from 'ioredis';

/** SET with expiry for every key: one round trip and one command for a batch of thousands of events. */
const REMEMBER_SCRIPT = `
for _, key in ipairs(KEYS) do redis.call('SET', key, '1', 'EX', ARGV[1]) end
return #KEYS
`;

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    precisRememberEvents(numberOfKeys: number, ...keysAndTtl: (string | number)[]): Result<number, Context>;
  }
}

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
  ) {
    if (typeof redis.precisRememberEvents !== 'function')
      redis.defineCommand('precisRememberEvents', { lua: REMEMBER_SCRIPT });
  }

  private key(eventId: string): string {
    return `${this.keyPrefix}event:${eventId}`;
  }

  /** The ids among these that were already handed over. One command per batch, however large. */
  async seen(eventIds: string[]): Promise<Set<string>> {
    if (eventIds.length === 0) return new Set();
    const values = await this.redis.mget(eventIds.map((id) => this.key(id)));
    return new Set(eventIds.filter((_, i) => values[i] !== null));
  }

  async remember(eventIds: string[]): Promise<void> {
    if (eventIds.length === 0) return;
    await this.redis.precisRememberEvents(
      eventIds.length,
      ...eventIds.map((id) => this.key(id)),
      this.ttlSeconds,
    );
  }
}
