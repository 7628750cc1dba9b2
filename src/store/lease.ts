import type { Redis } from 'ioredis';

/**
 * A key held by whoever wrote its token (SET NX PX): the single-flight lock of model calls and the publish outbox's
 * drainer lease. Only the holder may release it, so a holder whose lease expired never frees someone else's.
 */
const RELEASE_IF_OWNER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export async function releaseLease(redis: Redis, key: string, token: string): Promise<void> {
  await redis.eval(RELEASE_IF_OWNER, 1, key, token);
}
