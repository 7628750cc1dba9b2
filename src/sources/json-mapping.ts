import type { HttpSource } from '../domain/dashboard';
import type { Point } from '../domain/event';
import { previewValue } from '../pipeline/redact';
import { type SeriesData, SourceError } from './types';

export type JsonMapping = HttpSource['mapping'];

/** More points than any widget can show; a bigger response is a wrong mapping or a runaway source. */
export const MAX_POINTS = 100_000;

/**
 * Epoch numbers below this are seconds, at or above it milliseconds. 1e11 s is the year 5138 and 1e11 ms is
 * 1973-03-03, so neither unit is plausible on the other side of the line for dashboard data.
 */
export const EPOCH_MILLIS_THRESHOLD = 1e11;

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

class MappingError extends Error {}

/** Follows a dotted path through own properties only, so "constructor" or "__proto__" never reach prototypes. */
function resolvePath(root: unknown, path: string): unknown {
  if (path === '') return root;
  let current = root;
  for (const segment of path.split('.')) {
    if (Array.isArray(current) && /^\d+$/.test(segment)) current = current[Number(segment)];
    else if (typeof current === 'object' && current !== null && Object.hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else return undefined;
  }
  return current;
}

function epochToMs(epoch: number): number {
  return Math.abs(epoch) < EPOCH_MILLIS_THRESHOLD ? epoch * 1000 : epoch;
}

/** Timestamps without an offset are taken as UTC, so the result never depends on the worker's time zone. */
function isoToMs(text: string): number {
  const match = ISO_TIMESTAMP.exec(text);
  if (!match) return Number.NaN;
  const dateOnly = text.length === 10;
  const withZone = dateOnly || match[1] !== undefined ? text : `${text}Z`;
  return Date.parse(withZone.replace(' ', 'T'));
}

/** Only four-digit years: the extended "+010000-…" form is not a timestamp the rest of precis accepts. */
function isoString(ms: number): string | undefined {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return undefined;
  const iso = date.toISOString();
  return /^\d{4}-/.test(iso) ? iso : undefined;
}

function parseTime(raw: unknown): string {
  let ms = Number.NaN;
  if (typeof raw === 'number') ms = epochToMs(raw);
  else if (typeof raw === 'string') {
    const text = raw.trim();
    ms = DECIMAL.test(text) ? epochToMs(Number(text)) : isoToMs(text);
  }
  const iso = Number.isFinite(ms) ? isoString(ms) : undefined;
  if (iso === undefined) {
    throw new MappingError(
      raw === undefined ? 'is missing' : `${previewValue(raw)} is not an ISO 8601 timestamp or epoch number`,
    );
  }
  return iso;
}

function parseValue(raw: unknown): number {
  const value = typeof raw === 'string' && DECIMAL.test(raw.trim()) ? Number(raw) : raw;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new MappingError(raw === undefined ? 'is missing' : `${previewValue(raw)} is not a number`);
}

function parseSeriesKey(raw: unknown): string {
  if (typeof raw === 'string' && raw !== '') return raw;
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  throw new MappingError(raw === undefined ? 'is missing' : `${previewValue(raw)} is not a series name`);
}

function field<T>(item: unknown, path: string, parse: (raw: unknown) => T, index: number): T {
  try {
    return parse(resolvePath(item, path));
  } catch (error) {
    if (!(error instanceof MappingError)) throw error;
    throw new SourceError(`response item ${index}: field "${path}" ${error.message}`, false);
  }
}

function itemsOf(document: unknown, path: string): unknown[] {
  const items = resolvePath(document, path);
  if (!Array.isArray(items)) {
    const where = path === '' ? 'the response' : `"${path}" in the response`;
    const found = items === undefined ? 'nothing' : items === null ? 'null' : typeof items;
    throw new SourceError(`expected an array of items at ${where}, found ${found}`, false);
  }
  if (items.length > MAX_POINTS) {
    throw new SourceError(`response has ${items.length} items, more than the limit of ${MAX_POINTS}`, false);
  }
  return items;
}

/**
 * Turns a JSON document into series per `mapping`. Strict on purpose: one item with a missing or unparseable
 * time, value or series fails the whole response (naming the item), because silently dropping points would
 * make the summary describe data that is not what the source said.
 *
 * Times: ISO 8601 strings (no offset = UTC), or epoch numbers/numeric strings, seconds when below 1e11 and
 * milliseconds otherwise. Values: numbers or decimal strings. Series: string or number at `mapping.series`,
 * else every point belongs to one series named after the widget. Series keep the order they first appear in.
 */
export function extractSeries(document: unknown, mapping: JsonMapping, widgetId: string): SeriesData[] {
  const bySeries = new Map<string, Point[]>();
  itemsOf(document, mapping.items).forEach((item, index) => {
    const t = field(item, mapping.time, parseTime, index);
    const v = field(item, mapping.value, parseValue, index);
    const seriesPath = mapping.series;
    const key = seriesPath === undefined ? widgetId : field(item, seriesPath, parseSeriesKey, index);
    const points = bySeries.get(key);
    if (points) points.push({ t, v });
    else bySeries.set(key, [{ t, v }]);
  });
  return [...bySeries].map(([key, points]) => ({ key, points }));
}
