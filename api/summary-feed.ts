import type { Redis } from 'ioredis';
import type { DashboardRegistry } from '../src/domain/registry';
import type { Logger } from '../src/log';
import type { SummaryStore } from '../src/store/summaries';

export interface FeedListener {
  /** A summary was stored; `document` is the stored JSON exactly as `SummaryStore.put` announced it. */
  summary(dashboardId: string, document: string): void;
  /** The subscription was lost and is back: announcements may have been missed meanwhile. */
  resync(): void;
}

/**
 * The one Redis subscriber connection of an API process, fanning announcements out to every listener (the
 * summary cache and the SSE streams), however many clients are connected. It subscribes to the channel of each
 * known dashboard, so nothing else published under the prefix reaches it.
 */
export class SummaryFeed {
  private readonly listeners = new Set<FeedListener>();
  private readonly dashboardByChannel: ReadonlyMap<string, string>;
  private subscribed = false;

  constructor(
    private readonly subscriber: Redis,
    store: SummaryStore,
    registry: DashboardRegistry,
    private readonly logger?: Logger,
  ) {
    this.dashboardByChannel = new Map(registry.list().map((d) => [store.channel(d.id), d.id]));
  }

  add(listener: FeedListener): void {
    this.listeners.add(listener);
  }

  async start(): Promise<void> {
    this.subscriber.on('message', this.onMessage);
    this.subscriber.on('ready', this.onReady);
    const channels = [...this.dashboardByChannel.keys()];
    if (channels.length > 0) await this.subscriber.subscribe(...channels);
    this.subscribed = true;
    // Whatever was read before the subscription took effect may already be outdated.
    this.notifyResync();
  }

  async stop(): Promise<void> {
    this.subscriber.off('message', this.onMessage);
    this.subscriber.off('ready', this.onReady);
    const channels = [...this.dashboardByChannel.keys()];
    if (this.subscribed && channels.length > 0 && this.subscriber.status === 'ready') {
      await this.subscriber.unsubscribe(...channels).catch(() => undefined);
    }
    this.subscribed = false;
  }

  private readonly onMessage = (channel: string, message: string): void => {
    const dashboardId = this.dashboardByChannel.get(channel);
    if (dashboardId === undefined) return;
    for (const listener of this.listeners) {
      try {
        listener.summary(dashboardId, message);
      } catch (error) {
        this.logger?.error({ err: error, dashboardId }, 'summary announcement not handled');
      }
    }
  };

  /** ioredis resubscribes by itself after a reconnect; what was published in between is gone. */
  private readonly onReady = (): void => {
    if (!this.subscribed) return;
    this.logger?.warn('summary feed reconnected; resynchronising');
    this.notifyResync();
  };

  private notifyResync(): void {
    for (const listener of this.listeners) listener.resync();
  }
}
