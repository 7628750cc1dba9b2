import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { canonicalJson, sha256Hex } from '../pipeline/canonical';
import { releaseLease } from '../store/lease';

export interface CacheKeyParts {
  inputHash: string;
  promptVersion: string;
  /** The prompt file's content hash: an edited prompt must not be answered by replies to the old one. */
  promptHash: string;
  /** The endpoint's base URL: the same model name on another endpoint (vLLM, Azure…) is another model. */
  endpoint: string;
  outputSchemaVersion: string;
  model: string;
  temperature: number;
  maxOutputTokens: number;
}

/** Content address of a model reply: everything that can change the output, and nothing that cannot. */
export function cacheKey(parts: CacheKeyParts): string {
  return sha256Hex(canonicalJson(parts));
}

const RENEW_IF_OWNER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/**
 * Model replies stored by content address, plus single-flight: of many workers asking for the same key at once,
 * one calls the model (it holds a short lock) and the others wait for its reply in the cache. A leader that fails
 * releases the lock and one waiter takes over; a leader that dies leaves a lock that expires. A live leader renews
 * its lock every third of its lifetime, so however long its calls take, no second worker pays for the same reply.
 */
export class ReplyCache<T> {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly ttlSeconds: number,
  ) {}

  private entryKey(key: string): string {
    return `${this.keyPrefix}llm:cache:${key}`;
  }

  async get(key: string): Promise<T | null> {
    const raw = await this.redis.get(this.entryKey(key));
    return raw === null ? null : (JSON.parse(raw) as T);
  }

  async set(key: string, value: T): Promise<void> {
    await this.redis.set(this.entryKey(key), JSON.stringify(value), 'EX', this.ttlSeconds);
  }

  /**
   * Returns the cached value, or runs `produce` as the only caller for this key across all workers.
   * `shared` says whether the value came from another caller's work (cache hit or a wait on the leader).
   */
  async singleFlight(
    key: string,
    produce: () => Promise<{ value: T; cacheable: boolean }>,
    options: { lockMs: number; pollMs?: number; signal?: AbortSignal },
  ): Promise<{ value: T; shared: boolean }> {
    const lockKey = `${this.keyPrefix}llm:flight:${key}`;
    const pollMs = options.pollMs ?? 50;
    for (;;) {
      const cached = await this.get(key);
      if (cached !== null) return { value: cached, shared: true };
      const token = randomUUID();
      const acquired = await this.redis.set(lockKey, token, 'PX', options.lockMs, 'NX');
      if (acquired === 'OK') {
        const renewal = setInterval(
          () => {
            // A failed renewal is not fatal: the next one may succeed, and the lock outlives two missed ones.
            this.redis.eval(RENEW_IF_OWNER, 1, lockKey, token, options.lockMs).catch(() => undefined);
          },
          Math.max(10, Math.floor(options.lockMs / 3)),
        );
        try {
          const { value, cacheable } = await produce();
          if (cacheable) await this.set(key, value);
          return { value, shared: false };
        } finally {
          clearInterval(renewal);
          await releaseLease(this.redis, lockKey, token);
        }
      }
      // Someone else is producing it: wait for the reply or for the lock to go away.
      while ((await this.redis.exists(lockKey)) === 1) {
        if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    }
  }
}
