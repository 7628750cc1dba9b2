import type { Redis } from 'ioredis';
import { canonicalJson, sha256Hex } from '../pipeline/canonical';

/**
 * Content-addressed storage for data too large to travel through Temporal history: collected and cleaned widget
 * data go here and activities pass the reference. Equal content gets the same key, so a retried activity writes
 * nothing new; every write renews the expiry.
 */
export class BlobStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly ttlSeconds: number,
  ) {}

  async put(value: unknown): Promise<string> {
    const text = canonicalJson(value);
    const ref = `sha256:${sha256Hex(text)}`;
    await this.redis.set(this.key(ref), text, 'EX', this.ttlSeconds);
    return ref;
  }

  /** Throws BlobMissingError when the reference expired or never existed. */
  async get<T>(ref: string): Promise<T> {
    const text = await this.redis.get(this.key(ref));
    if (text === null) throw new BlobMissingError(ref);
    return JSON.parse(text) as T;
  }

  private key(ref: string): string {
    return `${this.keyPrefix}blob:${ref}`;
  }
}

export class BlobMissingError extends Error {
  override readonly name = 'BlobMissingError';
  constructor(readonly ref: string) {
    super(`stored data ${ref} is gone (expired or never written)`);
  }
}
