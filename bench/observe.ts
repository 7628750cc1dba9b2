/**
 * Watches what the pipeline delivers: every new summary version (`<prefix>summaries:<id>`) and every freshness
 * record (`<prefix>freshness:<id>`, for runs whose input did not need a new version), and matches them with the
 * events the benchmark produced. The arrival of the announcement is taken as "readable in the API": the pipeline
 * publishes it right after the write the API reads.
 *
 * Freshness records are also polled from their key (`<prefix>summary:<id>:freshness`) for pipelines that only
 * write them; a record is counted once, whichever way it is seen first.
 */
import { Redis } from 'ioredis';
import { parseEventId } from './workload';

export interface DeliveredRecord {
  kind: 'summary' | 'freshness';
  dashboardId: string;
  arrivedAtMs: number;
  eventIds: string[];
  /** Events the run folded in, when the pipeline says (else the number of ids). */
  eventCount: number;
  /** Summaries only. */
  model?: string;
  cacheOutcome?: string;
  degraded?: boolean;
}

interface Pending {
  seq: number;
  producedAtMs: number;
}

/** One covered event: which dashboard, when it was produced, and how long until a record covered it. */
export interface CoveredEvent {
  index: number;
  producedAtMs: number;
  latencyMs: number;
}

export interface Coverage {
  /** Event → first record covering it, in ms, for every covered event. */
  latenciesMs: number[];
  events: CoveredEvent[];
  covered: number;
  uncovered: number;
}

interface RecordJson {
  dashboardId?: unknown;
  eventIds?: unknown;
  eventCount?: unknown;
  model?: unknown;
  cacheOutcome?: unknown;
  degraded?: unknown;
  checkedAt?: unknown;
  version?: unknown;
}

export class DeliveryObserver {
  private readonly subscriber: Redis;
  private readonly reader: Redis;
  readonly records: DeliveredRecord[] = [];
  private readonly pending = new Map<string, Pending[]>();
  /** Highest seq covered so far per tag+dashboard index. */
  private readonly coveredUpTo = new Map<string, number>();
  private readonly latencies = new Map<string, CoveredEvent[]>();
  private readonly seenFreshness = new Map<string, string>();
  private pollTimer: NodeJS.Timeout | null = null;
  private pollDashboards: string[] = [];

  constructor(
    redisUrl: string,
    private readonly prefix: string,
  ) {
    this.subscriber = new Redis(redisUrl, { lazyConnect: true });
    this.reader = new Redis(redisUrl, { lazyConnect: true });
  }

  async start(): Promise<void> {
    await Promise.all([this.subscriber.connect(), this.reader.connect()]);
    this.subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
      this.onMessage(channel, message, Date.now());
    });
    await this.subscriber.psubscribe(`${this.prefix}summaries:*`, `${this.prefix}freshness:*`);
  }

  /**
   * Polls the freshness keys of these dashboards every `intervalMs` (0 stops), for pipelines that write freshness
   * records without announcing them; the poll interval then bounds the error of their arrival time.
   */
  pollFreshness(dashboardIds: string[], intervalMs: number): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    this.pollDashboards = dashboardIds;
    if (intervalMs <= 0 || dashboardIds.length === 0) return;
    let busy = false;
    this.pollTimer = setInterval(() => {
      if (busy) return;
      busy = true;
      const keys = this.pollDashboards.map((id) => `${this.prefix}summary:${id}:freshness`);
      this.reader
        .mget(keys)
        .then((values) => {
          const now = Date.now();
          values.forEach((value, i) => {
            const id = this.pollDashboards[i];
            if (value && id) this.onFreshness(id, value, now);
          });
        })
        .catch(() => undefined)
        .finally(() => {
          busy = false;
        });
    }, intervalMs);
  }

  /** Registers an event about to be produced; call before sending it. */
  expect(tag: string, index: number, seq: number, producedAtMs: number): void {
    const key = `${tag}~${index}`;
    const list = this.pending.get(key);
    if (list) list.push({ seq, producedAtMs });
    else this.pending.set(key, [{ seq, producedAtMs }]);
  }

  /** Covered and still uncovered events of a tag; latencies in production order per dashboard. */
  coverage(tag: string): Coverage {
    let uncovered = 0;
    for (const [key, list] of this.pending) if (key.startsWith(`${tag}~`)) uncovered += list.length;
    const events = this.latencies.get(tag) ?? [];
    return { latenciesMs: events.map((e) => e.latencyMs), events, covered: events.length, uncovered };
  }

  /** Events of every tag not yet covered: work a previous scenario left behind. */
  uncoveredTotal(): number {
    let total = 0;
    for (const list of this.pending.values()) total += list.length;
    return total;
  }

  /** Events of a tag not yet covered by any record. */
  uncovered(tag: string): number {
    return this.coverage(tag).uncovered;
  }

  /** Highest covered sequence number of one dashboard in a tag (0 = none). */
  coveredSeq(tag: string, index: number): number {
    return this.coveredUpTo.get(`${tag}~${index}`) ?? 0;
  }

  /** Records that arrived in [fromMs, toMs). */
  recordsBetween(fromMs: number, toMs: number): DeliveredRecord[] {
    return this.records.filter((r) => r.arrivedAtMs >= fromMs && r.arrivedAtMs < toMs);
  }

  /** Records naming at least one event of the tag. */
  recordsOf(tag: string): DeliveredRecord[] {
    return this.records.filter((r) => r.eventIds.some((id) => parseEventId(id)?.tag === tag));
  }

  async close(): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.subscriber.disconnect();
    this.reader.disconnect();
  }

  private onMessage(channel: string, message: string, now: number): void {
    const rest = channel.slice(this.prefix.length);
    if (rest.startsWith('summaries:')) {
      this.onRecord('summary', rest.slice('summaries:'.length), message, now);
    } else if (rest.startsWith('freshness:')) {
      this.onFreshness(rest.slice('freshness:'.length), message, now);
    }
  }

  private onFreshness(dashboardId: string, message: string, now: number): void {
    let parsed: RecordJson;
    try {
      parsed = JSON.parse(message) as RecordJson;
    } catch {
      return;
    }
    // One record, seen through pub/sub and the poll alike: counted once.
    const identity = `${String(parsed.version)}|${String(parsed.checkedAt)}`;
    if (this.seenFreshness.get(dashboardId) === identity) return;
    this.seenFreshness.set(dashboardId, identity);
    this.onRecord('freshness', dashboardId, parsed, now);
  }

  private onRecord(
    kind: DeliveredRecord['kind'],
    dashboardId: string,
    message: string | RecordJson,
    now: number,
  ): void {
    let parsed: RecordJson;
    try {
      parsed = typeof message === 'string' ? (JSON.parse(message) as RecordJson) : message;
    } catch {
      return;
    }
    const eventIds = Array.isArray(parsed.eventIds)
      ? parsed.eventIds.filter((id): id is string => typeof id === 'string')
      : [];
    const record: DeliveredRecord = {
      kind,
      dashboardId,
      arrivedAtMs: now,
      eventIds,
      eventCount: typeof parsed.eventCount === 'number' ? parsed.eventCount : eventIds.length,
    };
    if (kind === 'summary') {
      if (typeof parsed.model === 'string') record.model = parsed.model;
      if (typeof parsed.cacheOutcome === 'string') record.cacheOutcome = parsed.cacheOutcome;
      if (typeof parsed.degraded === 'boolean') record.degraded = parsed.degraded;
    }
    this.records.push(record);
    this.cover(eventIds, now);
  }

  /** Resolves every pending event whose seq is at or below the highest seq the record names, per dashboard. */
  private cover(eventIds: string[], now: number): void {
    const highest = new Map<string, { tag: string; index: number; seq: number }>();
    for (const id of eventIds) {
      const parsed = parseEventId(id);
      if (!parsed) continue;
      const key = `${parsed.tag}~${parsed.index}`;
      if ((highest.get(key)?.seq ?? 0) < parsed.seq) highest.set(key, parsed);
    }
    for (const [key, { tag, index, seq }] of highest) {
      if ((this.coveredUpTo.get(key) ?? 0) < seq) this.coveredUpTo.set(key, seq);
      const list = this.pending.get(key);
      if (!list) continue;
      let done = 0;
      const latencies = this.latencies.get(tag) ?? [];
      while (done < list.length && (list[done]?.seq ?? Number.POSITIVE_INFINITY) <= seq) {
        const producedAtMs = list[done]?.producedAtMs ?? now;
        latencies.push({ index, producedAtMs, latencyMs: now - producedAtMs });
        done++;
      }
      this.latencies.set(tag, latencies);
      if (done === list.length) this.pending.delete(key);
      else list.splice(0, done);
    }
  }
}
