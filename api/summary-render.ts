/**
 * Turns stored summary documents into API representations: the freshness merge, the staleness flag, the link to
 * the Temporal run and the ETag. Pure functions of the documents, the settings and the clock.
 */
import type { Config } from '../src/config';
import { readSummary } from '../src/domain/summary';
import type { Logger } from '../src/log';
import { documentVersion, type LatestDocuments } from '../src/store/summaries';
import {
  type FreshnessRecord,
  freshnessSchema,
  type HistoryItem,
  type StoredSummary,
  type SummaryView,
} from './schemas';

/** Told about a stored document that could not be read whole (see readStoredSummary). */
export type UnreadableReport = (dashboardId: string, version: number, unreadable: string[]) => void;

export interface RenderSettings {
  namespace: string;
  uiUrl: string;
  staleAfterMs: number;
  onUnreadable?: UnreadableReport;
}

/** Reports are kept apart by dashboard and version up to this many; then the memory starts over. */
const REPORTED_MAX = 10_000;

/**
 * Logs each unreadable stored document once (per dashboard and version), not on every read of it: a summary stored
 * before a schema change is read on every cache miss until a new one replaces it.
 */
export function logUnreadableOnce(logger: Logger | undefined): UnreadableReport {
  const reported = new Set<string>();
  return (dashboardId, version, unreadable) => {
    const key = `${dashboardId}@${version}`;
    if (reported.has(key)) return;
    if (reported.size >= REPORTED_MAX) reported.clear();
    reported.add(key);
    logger?.warn(
      { dashboardId, version, unreadable },
      'stored summary not readable as a whole; served degraded with what could be read',
    );
  };
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

function parseJson(document: string): unknown {
  try {
    return JSON.parse(document);
  } catch {
    return undefined;
  }
}

/**
 * A stored summary as well as it can be read (see readSummary): never throws, so that a document written before a
 * schema change (or damaged) costs its dashboard a degraded label, not a 500 on every read.
 */
export function readStoredSummary(
  document: string,
  dashboardId: string,
  settings: RenderSettings,
): StoredSummary {
  const raw = parseJson(document);
  const version = documentVersion(document) ?? 0;
  const { summary, unreadable } = readSummary(raw, { dashboardId, version });
  if (raw === undefined) unreadable.push('(JSON)');
  if (unreadable.length > 0) settings.onUnreadable?.(dashboardId, summary.version, unreadable);
  const stale = (raw as { stale?: unknown } | undefined)?.stale;
  return typeof stale === 'boolean' ? { ...summary, stale } : summary;
}

/** The freshness record, or null when there is none or it cannot be read (then the summary stands alone). */
function readFreshness(
  document: string | null,
  dashboardId: string,
  version: number,
  settings: RenderSettings,
): FreshnessRecord | null {
  if (document === null) return null;
  const parsed = freshnessSchema.safeParse(parseJson(document));
  if (parsed.success) return parsed.data.version === version ? parsed.data : null;
  settings.onUnreadable?.(dashboardId, version, ['freshness']);
  return null;
}

/** A summary with its freshness record (if it is about this version) merged in; null when there is none. */
export function renderSummary(
  documents: LatestDocuments,
  settings: RenderSettings,
  now: number,
  dashboardId: string,
): RenderedSummary | null {
  if (documents.summary === null) return null;
  const summary = readStoredSummary(documents.summary, dashboardId, settings);
  const freshness = readFreshness(documents.freshness, dashboardId, summary.version, settings);
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
export function renderHistoryItem(
  document: string,
  settings: RenderSettings,
  dashboardId: string,
): HistoryItem {
  const summary = withoutMarker(readStoredSummary(document, dashboardId, settings));
  return { ...summary, links: { temporalRun: temporalRunLink(settings, summary.workflowId, summary.runId) } };
}
