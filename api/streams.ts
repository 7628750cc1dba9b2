import type { ServerResponse } from 'node:http';
import type { Logger } from '../src/log';
import { documentVersion } from '../src/store/summaries';
import type { ApiMetrics } from './metrics';
import type { FeedListener } from './summary-feed';
import type { SummaryReads } from './summary-reads';
import { type RenderSettings, renderSummary } from './summary-render';
import type { SummaryViews } from './summary-views';

/** A client whose socket holds more than this unsent is too slow to follow; it is dropped and may reconnect. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** How long EventSource waits before reconnecting after the stream ends. */
const RECONNECT_MS = 3000;

interface StreamClient {
  dashboardId: string;
  res: ServerResponse;
  /** The newest version sent; older or equal announcements are not sent again. */
  lastVersion: number;
  /** Set while history is being sent: live frames wait here so that versions go out in order. */
  queued: { version: number; frame: string }[] | null;
}

export interface StreamSettings {
  heartbeatMs: number;
  maxClients: number;
  /** Upper bound of versions replayed on resume (the store keeps no more than this anyway). */
  historyLength: number;
}

function frame(version: number, body: string): string {
  return `id: ${version}\nevent: summary\ndata: ${body}\n\n`;
}

/**
 * Server-Sent Events of new summaries. Every stream of a process hangs off the one shared pub/sub feed; a new
 * summary is rendered once and the same frame is written to each client of its dashboard. One shared timer sends
 * the heartbeats. On resume (Last-Event-ID) the versions after it come from the history first, then live ones.
 */
export class SummaryStreams implements FeedListener {
  private readonly clients = new Map<string, Set<StreamClient>>();
  private count = 0;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: SummaryReads,
    private readonly views: SummaryViews,
    private readonly render: RenderSettings,
    private readonly settings: StreamSettings,
    private readonly metrics: ApiMetrics,
    private readonly logger?: Logger,
  ) {}

  get full(): boolean {
    return this.count >= this.settings.maxClients;
  }

  /** Takes over `res`: writes the head, the catch-up, then live summaries until the client goes away. */
  async open(
    dashboardId: string,
    res: ServerResponse,
    headers: Record<string, string | number | string[] | undefined>,
    lastEventId: number | undefined,
  ): Promise<void> {
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(name, value);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Tells nginx-style proxies not to buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${RECONNECT_MS}\n\n`);
    const client: StreamClient = { dashboardId, res, lastVersion: lastEventId ?? 0, queued: [] };
    this.attach(client);
    res.on('close', () => this.detach(client));
    try {
      await this.catchUp(client, lastEventId);
    } catch (error) {
      this.logger?.warn({ err: error, dashboardId }, 'stream catch-up failed; closing the stream');
      res.end();
    }
  }

  summary(dashboardId: string, document: string): void {
    const clients = this.clients.get(dashboardId);
    if (clients === undefined || clients.size === 0) return;
    const version = documentVersion(document);
    if (version === undefined) return;
    // A brand-new version: no freshness record applies to it yet.
    const rendered = renderSummary(
      { summary: document, freshness: null },
      this.render,
      Date.now(),
      dashboardId,
    );
    if (rendered === null) return;
    const text = frame(version, rendered.body);
    for (const client of clients) this.deliver(client, version, text);
  }

  resync(): void {
    for (const clients of this.clients.values()) {
      for (const client of clients) {
        if (client.queued !== null) continue; // still catching up: it reads the history anyway
        client.queued = [];
        this.catchUp(client, client.lastVersion).catch((error: unknown) => {
          this.logger?.warn({ err: error }, 'stream resync failed; closing the stream');
          client.res.end();
        });
      }
    }
  }

  /** Ends every stream (process shutdown); clients reconnect elsewhere with Last-Event-ID. */
  closeAll(): void {
    for (const clients of this.clients.values()) {
      for (const client of clients) client.res.end();
    }
  }

  private async catchUp(client: StreamClient, after: number | undefined): Promise<void> {
    const latest = await this.views.get(client.dashboardId);
    if (after === undefined || (latest !== null && after > latest.view.version)) {
      // No Last-Event-ID, or one from before the history was reset: start from the latest summary.
      client.lastVersion = 0;
      if (latest !== null) this.write(client, latest.view.version, frame(latest.view.version, latest.body));
    } else {
      const documents = await this.store.historyDocuments(client.dashboardId, {
        after,
        limit: this.settings.historyLength,
      });
      const now = Date.now();
      for (const document of documents.reverse()) {
        const rendered = renderSummary(
          { summary: document, freshness: null },
          this.render,
          now,
          client.dashboardId,
        );
        if (rendered !== null)
          this.write(client, rendered.view.version, frame(rendered.view.version, rendered.body));
      }
    }
    this.flushQueued(client);
  }

  private flushQueued(client: StreamClient): void {
    const queued = client.queued ?? [];
    client.queued = null;
    for (const { version, frame: text } of queued) this.write(client, version, text);
  }

  private deliver(client: StreamClient, version: number, text: string): void {
    if (client.queued !== null) client.queued.push({ version, frame: text });
    else this.write(client, version, text);
  }

  private write(client: StreamClient, version: number, text: string): void {
    if (version <= client.lastVersion || client.res.destroyed) return;
    client.lastVersion = version;
    client.res.write(text);
    if (client.res.writableLength > MAX_BUFFERED_BYTES) client.res.destroy();
  }

  private attach(client: StreamClient): void {
    let set = this.clients.get(client.dashboardId);
    if (set === undefined) {
      set = new Set();
      this.clients.set(client.dashboardId, set);
    }
    set.add(client);
    this.count++;
    this.metrics.sseClients.set(this.count);
    if (this.heartbeat === undefined) {
      this.heartbeat = setInterval(() => this.beat(), this.settings.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  private detach(client: StreamClient): void {
    const set = this.clients.get(client.dashboardId);
    if (!set?.delete(client)) return;
    if (set.size === 0) this.clients.delete(client.dashboardId);
    this.count--;
    this.metrics.sseClients.set(this.count);
    if (this.count === 0 && this.heartbeat !== undefined) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  private beat(): void {
    for (const clients of this.clients.values()) {
      for (const client of clients) {
        if (client.res.destroyed) continue;
        client.res.write(': heartbeat\n\n');
        if (client.res.writableLength > MAX_BUFFERED_BYTES) client.res.destroy();
      }
    }
  }
}
