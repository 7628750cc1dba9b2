import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Summary } from '../domain/summary';
import type { Logger } from '../log';
import { releaseLease } from '../store/lease';
import type { SummaryStore } from '../store/summaries';
import type { SummaryPublisher } from './publisher';

type VersionRef = Pick<Summary, 'dashboardId' | 'version'>;

/**
 * Stored versions whose announcement on the summaries topic has not gone out yet. Storing a summary is what
 * readers need; Kafka being down must not fail (and so repeat) the run that made it. A version that could not be
 * published is parked here and published later by the OutboxDrainer of any pipeline worker.
 */
export class PublishOutbox {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {}

  private get key(): string {
    return `${this.keyPrefix}publish-outbox`;
  }

  async add(summary: VersionRef): Promise<void> {
    await this.redis.zadd(this.key, Date.now(), JSON.stringify([summary.dashboardId, summary.version]));
  }

  /** The oldest parked versions first. */
  async oldest(limit: number): Promise<VersionRef[]> {
    const members = await this.redis.zrange(this.key, '0', String(limit - 1));
    return members.map((member) => {
      const [dashboardId, version] = JSON.parse(member) as [string, number];
      return { dashboardId, version };
    });
  }

  async remove(summary: VersionRef): Promise<void> {
    await this.redis.zrem(this.key, JSON.stringify([summary.dashboardId, summary.version]));
  }

  async size(): Promise<number> {
    return this.redis.zcard(this.key);
  }
}

/**
 * Publishes a stored summary, or parks it in the outbox when Kafka refuses: the summary is stored either way and
 * the caller's run goes on. Returns whether it went out now.
 */
export async function publishOrPark(
  publisher: SummaryPublisher,
  outbox: PublishOutbox,
  summary: Summary,
  onParked: (error: unknown) => void,
): Promise<boolean> {
  try {
    await publisher.publish(summary);
    return true;
  } catch (error) {
    onParked(error);
    await outbox.add(summary);
    return false;
  }
}

export interface OutboxDrainerOptions {
  intervalMs: number;
  /** Versions published per pass. */
  batch: number;
  /** How far back the store's history is searched for a parked version. */
  historyDepth: number;
}

/**
 * Publishes parked versions, oldest first, one pass every `intervalMs`. One drainer at a time across all workers
 * holds a Redis lease, so two workers never send the same parked version at once (the publisher's marker makes a
 * repeat after a crash a no-op).
 */
export class OutboxDrainer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly outbox: PublishOutbox,
    private readonly store: SummaryStore,
    private readonly publisher: SummaryPublisher,
    private readonly logger: Pick<Logger, 'warn' | 'info'>,
    private readonly options: OutboxDrainerOptions,
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.drainOnce()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.warn({ err: error }, 'draining the publish outbox failed'))
        .finally(() => {
          this.running = null;
          if (this.timer) this.timer = setTimeout(tick, this.options.intervalMs);
        });
    };
    this.timer = setTimeout(tick, this.options.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass; returns how many parked versions went out. */
  async drainOnce(): Promise<number> {
    const lease = `${this.keyPrefix}publish-outbox:lease`;
    const token = randomUUID();
    const leaseMs = Math.max(this.options.intervalMs * 4, 30_000);
    if ((await this.redis.set(lease, token, 'PX', leaseMs, 'NX')) !== 'OK') return 0;
    let published = 0;
    try {
      for (const entry of await this.outbox.oldest(this.options.batch)) {
        const summary = (await this.store.history(entry.dashboardId, this.options.historyDepth)).find(
          (s) => s.version === entry.version,
        );
        // Older than the kept history: newer versions have been announced since; nothing left to deliver.
        if (summary) await this.publisher.publish(summary);
        await this.outbox.remove(entry);
        if (summary) published++;
      }
    } finally {
      await releaseLease(this.redis, lease, token);
    }
    if (published > 0) this.logger.info({ published }, 'published parked summaries');
    return published;
  }
}
