import type { SummaryStore } from '../src/store/summaries';
import { withTimeout } from './timeout';

/** The store's reads the API makes (the latest summaries, windows of the history). */
export type SummaryReads = Pick<SummaryStore, 'latestDocuments' | 'historyDocuments'>;

/**
 * The store's reads, each bounded by the dependency timeout. With Redis gone, ioredis keeps a command through its
 * reconnect attempts (measured: 6 to 20 s per request); bounded, the request answers 503 with Retry-After in `ms`.
 */
export function boundedReads(store: SummaryStore, ms: number): SummaryReads {
  return {
    latestDocuments: (dashboardIds) => withTimeout(store.latestDocuments(dashboardIds), ms, 'Redis'),
    historyDocuments: (dashboardId, window) =>
      withTimeout(store.historyDocuments(dashboardId, window), ms, 'Redis'),
  };
}
