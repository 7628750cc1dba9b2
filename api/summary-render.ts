/**
 * Turns stored summary documents into API representations: the freshness merge, the staleness flag, the link to
 * the Temporal run and the ETag. Pure functions of the documents, the settings and the clock.
 */
import type { Config } from '../src/config';
import type { LatestDocuments } from '../src/store/summaries';
import {
  type FreshnessRecord,
  freshnessSchema,
  type HistoryItem,
  type StoredSummary,
  type SummaryView,
  storedSummarySchema,
} from './schemas';

export interface RenderSettings {
  namespace: string;
  uiUrl: string;
  staleAfterMs: number;
}

export function renderSettings(config: Config): RenderSettings {
  return {
    namespace: config.temporal.namespace,
    uiUrl: config.temporal.uiUrl,
    staleAfterMs: config.api.staleAfterMs,
  };
}

export interface RenderedSummary {
  view: SummaryView;
  /** `view` as JSON, serialized once (the stream writes it into its frames). */
  body: string;
  /**
   * `body` encoded once, which is what the summary route sends: a string would be measured (Content-Length) and
   * encoded to UTF-8 again on every request.
   */
  bytes: Buffer;
  /** Strong: a different ETag for every different body (see summaryEtag). */
  etag: string;
  /** When `stale` turns true by the clock alone (ms since the epoch); Infinity once it is stale. */
  staleAt: number;
}

export function temporalRunLink(settings: RenderSettings, workflowId: string, runId?: string): string {
  const path = `/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return new URL(
    runId === undefined ? path : `${path}/${encodeURIComponent(runId)}/history`,
    settings.uiUrl,
  ).toString();
}

/**
 * The body depends on the stored version (immutable once written), on the freshness record (rewritten whole by
 * every check, always with a new checkedAt) and on the clock only through `stale`; so these three name it.
 */
function summaryEtag(version: number, checkedAtMs: number, stale: boolean): string {
  return `"${version}-${checkedAtMs.toString(36)}${stale ? '-s' : ''}"`;
}

function withoutMarker(summary: StoredSummary): Omit<StoredSummary, 'stale'> {
  const { stale: _marker, ...rest } = summary;
  return rest;
}

export function parseStoredSummary(document: string): StoredSummary {
  return storedSummarySchema.parse(JSON.parse(document));
}

/** A summary with its freshness record (if it is about this version) merged in; null when there is none. */
export function renderSummary(
  documents: LatestDocuments,
  settings: RenderSettings,
  now: number,
): RenderedSummary | null {
  if (documents.summary === null) return null;
  const summary = parseStoredSummary(documents.summary);
  let freshness: FreshnessRecord | null = null;
  if (documents.freshness !== null) {
    const record = freshnessSchema.parse(JSON.parse(documents.freshness));
    if (record.version === summary.version) freshness = record;
  }
  // A summary that still holds for newer data (unchanged or immaterial input) is as fresh as the last check.
  const dataAsOf = freshness && freshness.dataAsOf > summary.dataAsOf ? freshness.dataAsOf : summary.dataAsOf;
  const checkedAt = freshness?.checkedAt ?? summary.generatedAt;
  const checkedAtMs = Date.parse(checkedAt);
  const staleAt =
    summary.stale === true || !Number.isFinite(checkedAtMs) ? -Infinity : checkedAtMs + settings.staleAfterMs;
  const stale = now >= staleAt;
  const view: SummaryView = {
    ...withoutMarker(summary),
    dataAsOf,
    checkedAt,
    ...(freshness ? { reusedBecause: freshness.cause } : {}),
    stale,
    links: { temporalRun: temporalRunLink(settings, summary.workflowId, summary.runId) },
  };
  const body = JSON.stringify(view);
  return {
    view,
    body,
    bytes: Buffer.from(body),
    etag: summaryEtag(summary.version, checkedAtMs, stale),
    staleAt: stale ? Number.POSITIVE_INFINITY : staleAt,
  };
}

/** One stored version, as the history lists it. */
export function renderHistoryItem(document: string, settings: RenderSettings): HistoryItem {
  const summary = withoutMarker(parseStoredSummary(document));
  return { ...summary, links: { temporalRun: temporalRunLink(settings, summary.workflowId, summary.runId) } };
}
