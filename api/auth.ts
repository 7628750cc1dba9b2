import { createHash, hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { API_SCOPES, Config } from '../src/config';

export type ApiScope = (typeof API_SCOPES)[number];

export interface ApiPrincipal {
  /** The key's id from PRECIS_API_KEYS: what rate limits and logs are keyed by, never the key itself. */
  id: string;
  scopes: ReadonlySet<ApiScope>;
}

interface ConfiguredKey extends ApiPrincipal {
  digest: Buffer;
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The one-shot `crypto.hash` (Node ≥ 20.12) allocates no Hash object per request; older Nodes fall back. */
const sha256: (text: string) => Buffer =
  typeof hash === 'function'
    ? (text) => hash('sha256', text, 'buffer')
    : (text) => createHash('sha256').update(text).digest();

/** The key a request presents, as `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization !== undefined) return BEARER.exec(authorization)?.[1];
  const header = headers['x-api-key'];
  return typeof header === 'string' && header.length > 0 ? header : undefined;
}

/**
 * The configured API keys. Only their SHA-256 digests are known; a presented key is hashed and compared with
 * every digest in constant time, so neither the comparison nor the number of matching bytes leaks anything.
 * A key that matched is remembered, so a busy key is hashed once per process instead of on every request (the
 * hash cost more than the rest of a cached read). Only matching keys are kept, at most one per configured digest,
 * so the memory cannot be filled by clients sending made-up keys; a lookup compares a presented key with a
 * remembered one only when their string hashes collide, which a client cannot aim for without knowing the key.
 */
export class ApiKeys {
  private readonly keys: ConfiguredKey[];
  private readonly verified = new Map<string, ConfiguredKey>();

  constructor(keys: Config['api']['keys']) {
    this.keys = keys.map((key) => ({
      id: key.id,
      scopes: new Set(key.scopes),
      digest: Buffer.from(key.sha256, 'hex'),
    }));
  }

  get size(): number {
    return this.keys.length;
  }

  verify(presented: string): ApiPrincipal | undefined {
    const known = this.verified.get(presented);
    if (known !== undefined) return known;
    const digest = sha256(presented);
    let match: ConfiguredKey | undefined;
    for (const key of this.keys) {
      if (timingSafeEqual(digest, key.digest) && match === undefined) match = key;
    }
    // A preimage per digest: the map holds at most as many entries as there are keys.
    if (match !== undefined) this.verified.set(presented, match);
    return match;
  }
}

/** The hex SHA-256 digest to put in PRECIS_API_KEYS for a key. */
export function apiKeyDigest(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
