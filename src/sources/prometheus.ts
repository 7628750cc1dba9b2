import { request as httpRequest } from 'undici';
import { z } from 'zod';
import type { Config } from '../config';
import { durationMs, type PrometheusSource } from '../domain/dashboard';
import type { Point } from '../domain/event';
import {
  type CollectRequest,
  type SeriesData,
  type SourceConnector,
  SourceError,
  type WidgetData,
} from './types';

/** More series than a widget can show: the query is missing an aggregation (`sum by (...)`). */
export const MAX_SERIES = 1_000;
/** More points than any widget can show; a bigger answer is a too-fine step or a runaway query. */
export const MAX_POINTS = 100_000;
/** Refuse to buffer more than this; MAX_POINTS of samples with labels fit well below it. */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
const RETRYABLE_STATUSES = new Set([408, 425, 429]);
/**
 * Heartbeats while waiting for Prometheus: the source timeout (30 s by default) may be as long as the activity's
 * heartbeat timeout, and the wait is honest (bounded by that timeout). Temporal throttles what it actually sends.
 */
export const HEARTBEAT_INTERVAL_MS = 2_000;

/**
 * The documented envelope of Prometheus's HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/).
 * Only what precis reads is checked; anything else (warnings, stats, native histograms) is ignored.
 */
const sampleSchema = z.tuple([z.number(), z.string()]);
const apiResponseSchema = z.object({
  status: z.enum(['success', 'error']),
  data: z.unknown().optional(),
  errorType: z.string().optional(),
  error: z.string().optional(),
});
const matrixSchema = z.object({
  resultType: z.string(),
  result: z.array(
    z.object({ metric: z.record(z.string(), z.string()), values: z.array(sampleSchema).optional() }),
  ),
});
type Matrix = z.infer<typeof matrixSchema>;

type Response = Awaited<ReturnType<typeof httpRequest>>;

interface Target {
  url: URL;
  headers: Record<string, string>;
}

/** Scheme, host and path only: a configured URL may carry credentials, and messages end up in summaries. */
function describe(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/**
 * Builds the query_range URL under the server URL, keeping a path prefix (a Prometheus behind a proxy at /prom).
 * Credentials in the URL become a Basic header, and are kept out of the URL that messages quote.
 */
function target(base: string, source: PrometheusSource, request: CollectRequest): Target {
  let server: URL;
  try {
    server = new URL(base.endsWith('/') ? base : `${base}/`);
  } catch {
    throw new SourceError('invalid Prometheus URL in the configuration', false);
  }
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'precis' };
  if (server.username !== '' || server.password !== '') {
    const user = decodeURIComponent(server.username);
    const password = decodeURIComponent(server.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    server.username = '';
    server.password = '';
  }
  const url = new URL('api/v1/query_range', server);
  url.searchParams.set('query', source.query);
  url.searchParams.set('start', String(request.from.getTime() / 1000));
  url.searchParams.set('end', String(request.asOf.getTime() / 1000));
  url.searchParams.set('step', String(request.resolutionMs / 1000));
  // Lets Prometheus itself stop evaluating when precis has stopped waiting.
  url.searchParams.set('timeout', `${durationMs(source.timeout) / 1000}s`);
  return { url, headers };
}

async function readCapped(
  response: Response,
  url: URL,
  heartbeat: CollectRequest['heartbeat'],
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    size += buffer.length;
    if (size > MAX_RESPONSE_BYTES) {
      response.body.destroy();
      throw new SourceError(
        `response from ${describe(url)} is larger than ${MAX_RESPONSE_BYTES} bytes`,
        false,
      );
    }
    chunks.push(buffer);
    heartbeat({ bytes: size });
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function isOk(response: Response): boolean {
  return response.statusCode >= 200 && response.statusCode <= 299;
}

function parseEnvelope(
  text: string,
  response: Response,
  url: URL,
): z.infer<typeof apiResponseSchema> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = apiResponseSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  // A 2xx that is not the API's envelope is a wrong URL (some other service), not a passing glitch.
  if (isOk(response)) {
    throw new SourceError(`response from ${describe(url)} is not a Prometheus API response`, false);
  }
  return undefined;
}

/**
 * Maps an HTTP status to retryability: 400 (bad PromQL, bad parameters) and 422 (the query cannot be executed, e.g.
 * too many samples) will fail again, as will a redirect (not followed: the configured URL is wrong); 429, 5xx (503
 * is Prometheus's query timeout) and 408 may pass.
 */
function statusError(response: Response, url: URL, message: string | undefined): SourceError {
  const status = response.statusCode;
  const retryable = status >= 500 || RETRYABLE_STATUSES.has(status);
  const detail = message ? `: ${message}` : '';
  return new SourceError(`Prometheus at ${describe(url)} answered HTTP ${status}${detail}`, retryable);
}

function matrixOf(data: unknown, url: URL): Matrix {
  const parsed = matrixSchema.safeParse(data);
  if (!parsed.success) throw new SourceError(`unexpected query_range data from ${describe(url)}`, false);
  if (parsed.data.resultType !== 'matrix') {
    throw new SourceError(
      `expected a range vector (matrix) from Prometheus, got ${parsed.data.resultType}`,
      false,
    );
  }
  return parsed.data;
}

/** PromQL string escaping, so that a formatted label set reads like (and could be pasted into) a selector. */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * A stable name for a label set: labels sorted by name, `name{a="x",b="y"}` as Prometheus prints series,
 * the bare metric name when it has no other labels, and `{}` for an aggregate with no labels at all.
 */
export function formatLabels(metric: Record<string, string>): string {
  const name = metric.__name__ ?? '';
  const labels = Object.keys(metric)
    .filter((label) => label !== '__name__')
    .sort()
    .map((label) => `${label}=${quote(metric[label] ?? '')}`);
  if (labels.length === 0) return name === '' ? '{}' : name;
  return `${name}{${labels.join(',')}}`;
}

/** Prometheus writes special floats as Go does ("NaN", "+Inf", "-Inf"), which Number() does not all read. */
function parseSampleValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value)) {
    throw new SourceError(
      `Prometheus returned the sample value "${text.slice(0, 40)}", which is not a number`,
      false,
    );
  }
  return value;
}

function toSeries(matrix: Matrix, seriesLabel: string | undefined): SeriesData[] {
  if (matrix.result.length > MAX_SERIES) {
    throw new SourceError(
      `query returned ${matrix.result.length} series, more than the limit of ${MAX_SERIES}; aggregate it (sum by (...))`,
      false,
    );
  }
  const total = matrix.result.reduce((sum, series) => sum + (series.values?.length ?? 0), 0);
  if (total > MAX_POINTS) {
    throw new SourceError(
      `query returned ${total} points, more than the limit of ${MAX_POINTS}; use a coarser resolution`,
      false,
    );
  }
  const seen = new Set<string>();
  return matrix.result.map(({ metric, values = [] }) => {
    // A series without the label falls back to its full label set rather than an empty name.
    const key =
      seriesLabel === undefined ? formatLabels(metric) : (metric[seriesLabel] ?? formatLabels(metric));
    if (seen.has(key)) {
      throw new SourceError(
        `several series have ${seriesLabel ?? 'the same labels'} = "${key}"; aggregate by it (sum by (${seriesLabel ?? '...'}))`,
        false,
      );
    }
    seen.add(key);
    // Non-finite values are kept as they are: cleaning removes and counts them, so the summary can say so.
    const points: Point[] = values.map(([seconds, text]) => ({
      t: new Date(seconds * 1000).toISOString(),
      v: parseSampleValue(text),
    }));
    return { key, points };
  });
}

/**
 * Why the request failed without an answer. Duck-typed, not instanceof: socket errors come from Node's realm,
 * which is not a test sandbox's; a `cause` (undici wraps some) holds the reason.
 */
function networkReason(error: unknown): string {
  const cause = typeof error === 'object' && error !== null && 'cause' in error ? error.cause : undefined;
  const reason = cause ?? error;
  if (typeof reason !== 'object' || reason === null) return String(reason);
  const text = 'message' in reason && typeof reason.message === 'string' ? reason.message : '';
  const code = 'code' in reason && typeof reason.code === 'string' ? reason.code : '';
  // Connecting to several addresses fails with an AggregateError whose message is empty; its code still says why.
  return text !== '' ? text : code !== '' ? code : String(reason);
}

function toSourceError(
  error: unknown,
  url: URL,
  source: PrometheusSource,
  cancelled: AbortSignal,
  deadline: AbortSignal,
) {
  if (error instanceof SourceError) return error;
  if (cancelled.aborted) return new SourceError('collection cancelled', true, { cause: error });
  if (deadline.aborted) {
    return new SourceError(`no complete answer from Prometheus within ${source.timeout}`, true, {
      cause: error,
    });
  }
  return new SourceError(`request to Prometheus at ${describe(url)} failed: ${networkReason(error)}`, true, {
    cause: error,
  });
}

async function query(
  request: CollectRequest,
  { url, headers }: Target,
  signal: AbortSignal,
): Promise<Matrix> {
  const response = await httpRequest(url, { method: 'GET', headers, signal });
  const text = await readCapped(response, url, request.heartbeat);
  const envelope = parseEnvelope(text, response, url);
  if (!isOk(response)) throw statusError(response, url, envelope?.error);
  if (envelope === undefined) {
    throw new SourceError(`response from ${describe(url)} is not valid JSON`, false);
  }
  if (envelope.status === 'error') {
    const kind = envelope.errorType ? ` (${envelope.errorType})` : '';
    throw new SourceError(`Prometheus query failed${kind}: ${envelope.error ?? 'no message'}`, false);
  }
  return matrixOf(envelope.data, url);
}

/**
 * Range queries against Prometheus's HTTP API. The server URL comes from the operator's configuration
 * (PRECIS_PROMETHEUS_URL) or a dashboard's `url`, which operators also write; dashboards are not untrusted input,
 * so unlike the `http` source there is no SSRF guard: plain undici on its global dispatcher (keep-alive pool).
 * undici's request rather than global fetch, because fetch refuses the "bad ports" of browsers (1, 6000,
 * 6665-6669, 10080, ...), where an operator may well run Prometheus.
 */
export function createPrometheusConnector(sources: Config['sources']): SourceConnector<PrometheusSource> {
  return {
    type: 'prometheus',
    async collect(source: PrometheusSource, request: CollectRequest): Promise<WidgetData> {
      const where = target(source.url ?? sources.prometheusUrl, source, request);
      const deadline = AbortSignal.timeout(durationMs(source.timeout));
      const signal = AbortSignal.any([request.signal, deadline]);
      request.heartbeat();
      const beating = setInterval(() => request.heartbeat({ waiting: 'prometheus' }), HEARTBEAT_INTERVAL_MS);
      let matrix: Matrix;
      try {
        matrix = await query(request, where, signal);
      } catch (error) {
        throw toSourceError(error, where.url, source, request.signal, deadline);
      } finally {
        clearInterval(beating);
      }
      request.heartbeat({ series: matrix.result.length });
      const series = toSeries(matrix, source.seriesLabel);
      return source.unit === undefined ? { series } : { series, unit: source.unit };
    },
  };
}
