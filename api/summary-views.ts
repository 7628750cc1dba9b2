import type { SummaryReads } from './summary-reads';
import { type RenderedSummary, type RenderSettings, renderSummary } from './summary-render';

interface Entry {
  rendered: RenderedSummary | null;
  expiresAt: number;
  /** From here on a read also reloads the entry in the background (see peek). */
  refreshAt: number;
}

/** Share of the TTL after which a read reloads a cached entry in the background. */
const REFRESH_AFTER = 0.75;

/**
 * The rendered latest summary of each dashboard (JSON body and ETag), kept in memory for `ttlMs` so that a read
 * costs no Redis round trip, no parsing and no serialization. A new summary evicts its dashboard at once through
 * the shared pub/sub feed; the TTL bounds how late a freshness check (which announces nothing) shows, and is the
 * safety net if an announcement is ever missed. Concurrent misses share one load. A dashboard read in the last
 * quarter of its TTL is reloaded in the background while the cached rendering is still served, so a busy
 * dashboard's readers do not all wait for Redis once per TTL; nothing is served past its TTL either way.
 */
export class SummaryViews {
  private readonly entries = new Map<string, Entry>();
  private readonly loads = new Map<string, Promise<RenderedSummary | null>>();
  /** Bumped by every eviction, so a load that started before one never caches what it read. */
  private epoch = 0;

  constructor(
    private readonly store: SummaryReads,
    private readonly settings: RenderSettings,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached rendering if it is still valid, else undefined (null = known to have no summary). */
  peek(dashboardId: string): RenderedSummary | null | undefined {
    const entry = this.entries.get(dashboardId);
    if (entry === undefined) return undefined;
    const now = this.now();
    if (now < entry.expiresAt) {
      if (now >= entry.refreshAt && !this.loads.has(dashboardId)) {
        // Nobody waits for it: a failure leaves the entry to expire, and the read after that reports it.
        this.shared(dashboardId).catch(() => undefined);
      }
      return entry.rendered;
    }
    this.entries.delete(dashboardId);
    return undefined;
  }

  async get(dashboardId: string): Promise<RenderedSummary | null> {
    const cached = this.peek(dashboardId);
    if (cached !== undefined) return cached;
    return this.shared(dashboardId);
  }

  /** Several dashboards at once: the cached ones from memory, the others in one MGET. */
  async getMany(dashboardIds: readonly string[]): Promise<(RenderedSummary | null)[]> {
    const result: (RenderedSummary | null | undefined)[] = dashboardIds.map((id) => this.peek(id));
    const missing = dashboardIds.filter((_, index) => result[index] === undefined);
    if (missing.length > 0) {
      const loaded = await this.load(missing);
      let next = 0;
      for (let index = 0; index < result.length; index++) {
        if (result[index] === undefined) result[index] = loaded[next++] ?? null;
      }
    }
    return result.map((rendered) => rendered ?? null);
  }

  evict(dashboardId: string): void {
    this.epoch++;
    this.entries.delete(dashboardId);
    this.loads.delete(dashboardId);
  }

  clear(): void {
    this.epoch++;
    this.entries.clear();
    this.loads.clear();
  }

  /** The load of one dashboard under way, or a new one: concurrent reads share it. */
  private shared(dashboardId: string): Promise<RenderedSummary | null> {
    let load = this.loads.get(dashboardId);
    if (load === undefined) {
      load = this.load([dashboardId]).then(([rendered]) => rendered ?? null);
      this.loads.set(dashboardId, load);
      const forget = (): void => {
        if (this.loads.get(dashboardId) === load) this.loads.delete(dashboardId);
      };
      load.then(forget, forget);
    }
    return load;
  }

  private async load(dashboardIds: readonly string[]): Promise<(RenderedSummary | null)[]> {
    const epoch = this.epoch;
    const documents = await this.store.latestDocuments(dashboardIds);
    const now = this.now();
    const rendered = documents.map((docs, index) =>
      renderSummary(docs, this.settings, now, dashboardIds[index] as string),
    );
    if (this.ttlMs > 0 && epoch === this.epoch) {
      rendered.forEach((entry, index) => {
        const id = dashboardIds[index];
        if (id === undefined) return;
        const expiresAt = Math.min(now + this.ttlMs, entry?.staleAt ?? Number.POSITIVE_INFINITY);
        this.entries.set(id, { rendered: entry, expiresAt, refreshAt: now + this.ttlMs * REFRESH_AFTER });
      });
    }
    return rendered;
  }
}
