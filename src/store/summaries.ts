import type { ClientContext, Redis, Result } from 'ioredis';
import { readSummary, type Summary, type SummaryDraft } from '../domain/summary';

/**
 * Writes a summary exactly once per idempotency key, however often the calling activity is retried:
 * assigns the next version, replaces `latest`, prepends to the bounded history and announces it on pub/sub.
 * KEYS: latest, history, version counter, applied marker, index. ARGV: draft JSON without its leading "{",
 * history length, marker TTL (s), dashboard id, generatedAt (ms), channel.
 * Returns {version, written} where written = 0 means the key had already been applied.
 */
const PUT_SCRIPT = `
local applied = redis.call('GET', KEYS[4])
if applied then return {tonumber(applied), 0} end
local version = redis.call('INCR', KEYS[3])
local doc = '{"version":' .. version .. ',' .. ARGV[1]
redis.call('SET', KEYS[1], doc)
redis.call('LPUSH', KEYS[2], doc)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
redis.call('SET', KEYS[4], version, 'EX', tonumber(ARGV[3]))
redis.call('ZADD', KEYS[5], tonumber(ARGV[5]), ARGV[4])
redis.call('PUBLISH', ARGV[6], doc)
return {version, 1}
`;

/**
 * A window of the history list, newest first, without reading the whole list. Every version `put` assigns is pushed
 * once, so the list holds consecutive versions and the position of version v is head - v. KEYS: history.
 * ARGV: before (only versions below it; 0 = no bound), after (only versions above it; 0 = none), limit.
 */
const HISTORY_WINDOW_SCRIPT = `
local head = redis.call('LINDEX', KEYS[1], 0)
if not head then return {} end
local headVersion = tonumber(string.match(head, '^{"version":(%d+),'))
local before, after, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local top = headVersion
if before > 0 and before - 1 < top then top = before - 1 end
local count = limit
if top - after < count then count = top - after end
if count <= 0 then return {} end
local start = headVersion - top
return redis.call('LRANGE', KEYS[1], start, start + count - 1)
`;

/** Every stored document starts with its version (see PUT_SCRIPT), so it can be read without parsing the rest. */
const VERSION_PREFIX = /^\{"version":(\d+),/;

/** The version of a stored summary document, or undefined if it is not one. */
export function documentVersion(document: string): number | undefined {
  const match = VERSION_PREFIX.exec(document);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** A stored document as a summary, never throwing: a schema change must not stop the reads of older summaries. */
function readDocument(document: string, dashboardId: string): Summary {
  let value: unknown;
  try {
    value = JSON.parse(document);
  } catch {
    value = undefined;
  }
  return readSummary(value, { dashboardId, version: documentVersion(document) ?? 0 }).summary;
}

/** A dashboard's latest stored summary and freshness record, as stored (JSON text), for callers that cache bytes. */
export interface LatestDocuments {
  summary: string | null;
  freshness: string | null;
}

/** How long a retried store call can still be recognised as a repeat. Far longer than any retry schedule. */
const APPLIED_MARKER_TTL_S = 7 * 24 * 3600;

export interface Freshness {
  version: number;
  checkedAt: string;
  dataAsOf: string;
  cause: 'unchanged' | 'immaterial';
  /** The newest events the check folded in (oldest first). */
  eventIds: string[];
  eventCount?: number;
}

export interface StoreResult {
  summary: Summary;
  /** False when this idempotency key had been stored before (a retried activity). */
  written: boolean;
}

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    precisPutSummary(
      latest: string,
      history: string,
      counter: string,
      marker: string,
      index: string,
      draftTail: string,
      historyLength: number,
      markerTtl: number,
      dashboardId: string,
      generatedAtMs: number,
      channel: string,
    ): Result<[number, number], Context>;
    precisHistoryWindow(
      history: string,
      before: number,
      after: number,
      limit: number,
    ): Result<string[], Context>;
  }
}

export class SummaryStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly historyLength: number,
  ) {
    if (typeof redis.precisPutSummary !== 'function') {
      redis.defineCommand('precisPutSummary', { numberOfKeys: 5, lua: PUT_SCRIPT });
    }
    if (typeof redis.precisHistoryWindow !== 'function') {
      redis.defineCommand('precisHistoryWindow', { numberOfKeys: 1, lua: HISTORY_WINDOW_SCRIPT });
    }
  }

  private key(dashboardId: string, part: string): string {
    return `${this.keyPrefix}summary:${dashboardId}:${part}`;
  }

  /** The pub/sub channel on which every newly stored summary of a dashboard is announced. */
  channel(dashboardId: string): string {
    return `${this.keyPrefix}summaries:${dashboardId}`;
  }

  async put(draft: SummaryDraft, idempotencyKey: string): Promise<StoreResult> {
    const draftTail = JSON.stringify(draft).slice(1);
    const [version, written] = await this.redis.precisPutSummary(
      this.key(draft.dashboardId, 'latest'),
      this.key(draft.dashboardId, 'history'),
      this.key(draft.dashboardId, 'version'),
      this.key(draft.dashboardId, `applied:${idempotencyKey}`),
      `${this.keyPrefix}dashboards`,
      draftTail,
      this.historyLength,
      APPLIED_MARKER_TTL_S,
      draft.dashboardId,
      Date.parse(draft.generatedAt),
      this.channel(draft.dashboardId),
    );
    if (written === 1) return { summary: { ...draft, version }, written: true };
    // A repeat: return what the first call stored, so the caller sees one consistent version.
    const stored = await this.history(draft.dashboardId, 50);
    const original = stored.find((summary) => summary.version === version);
    return { summary: original ?? { ...draft, version }, written: false };
  }

  /**
   * Records that the latest summary still holds for newer data (the input was unchanged, or changed too little to
   * matter), without writing a new version.
   */
  async touch(dashboardId: string, freshness: Freshness): Promise<void> {
    const record = JSON.stringify(freshness);
    // Announced like a new version (on its own channel, so summary subscribers see only summaries): whoever waits
    // for "the summary covers my event" learns it at once.
    await this.redis
      .multi()
      .set(this.key(dashboardId, 'freshness'), record)
      .publish(this.freshnessChannel(dashboardId), record)
      .exec();
  }

  /** The pub/sub channel on which every freshness record of a dashboard is announced. */
  freshnessChannel(dashboardId: string): string {
    return `${this.keyPrefix}freshness:${dashboardId}`;
  }

  /** The latest freshness record, if it is about the given version. */
  async freshness(dashboardId: string, version: number): Promise<Freshness | null> {
    const raw = await this.redis.get(this.key(dashboardId, 'freshness'));
    if (raw === null) return null;
    const freshness = JSON.parse(raw) as Freshness;
    return freshness.version === version ? freshness : null;
  }

  /** The latest summary; one stored by an older precis is read as well as it can be (see readSummary). */
  async latest(dashboardId: string): Promise<Summary | null> {
    const raw = await this.redis.get(this.key(dashboardId, 'latest'));
    return raw === null ? null : readDocument(raw, dashboardId);
  }

  /** Newest first. */
  async history(dashboardId: string, limit: number): Promise<Summary[]> {
    const raws = await this.redis.lrange(this.key(dashboardId, 'history'), 0, limit - 1);
    return raws.map((raw) => readDocument(raw, dashboardId));
  }

  /** Latest summary and freshness of each dashboard, in order, in one round trip (MGET). */
  async latestDocuments(dashboardIds: readonly string[]): Promise<LatestDocuments[]> {
    if (dashboardIds.length === 0) return [];
    const keys = dashboardIds.flatMap((id) => [this.key(id, 'latest'), this.key(id, 'freshness')]);
    const values = await this.redis.mget(keys);
    return dashboardIds.map((_, index) => ({
      summary: values[2 * index] ?? null,
      freshness: values[2 * index + 1] ?? null,
    }));
  }

  /**
   * Stored summary documents, newest first: at most `limit`, only versions below `before` and above `after` when
   * given. One atomic script that reads only the requested window of the history list.
   */
  async historyDocuments(
    dashboardId: string,
    window: { limit: number; before?: number; after?: number },
  ): Promise<string[]> {
    const before = window.before ?? 0;
    const after = window.after ?? 0;
    const documents = await this.redis.precisHistoryWindow(
      this.key(dashboardId, 'history'),
      before,
      after,
      window.limit,
    );
    // The script relies on consecutive versions; the filter keeps the bounds exact even if that ever broke.
    return documents.filter((document) => {
      const version = documentVersion(document);
      return version !== undefined && (before === 0 || version < before) && version > after;
    });
  }
}
