import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector, errors, request as undiciRequest } from 'undici';
import type { Config } from '../config';
import { durationMs, type HttpSource } from '../domain/dashboard';
import { checkAddress, isHostAllowed, parseNetworks } from './address-guard';
import { extractSeries } from './json-mapping';
import { type CollectRequest, type SourceConnector, SourceError, type WidgetData } from './types';

/** Resolves a host name to every address it has; injectable so tests can resolve names without DNS. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export interface HttpConnectorOptions {
  resolve?: Resolver;
}

const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const RETRYABLE_STATUSES = new Set([408, 425, 429]);
/** Header names that may carry a secret meant for the origin the dashboard named, not for where it redirects. */
const CREDENTIAL_HEADER = /auth|cookie|token|key|secret|password|session/i;
const DEFAULT_HEADERS = { accept: 'application/json', 'user-agent': 'precis' };

type ResponseData = Awaited<ReturnType<typeof undiciRequest>>;
type Headers = Record<string, string>;
type Body = ResponseData['body'];

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

function refused(message: string): SourceError {
  return new SourceError(`refused: ${message}`, false);
}

/** Scheme, port, host and path only: query strings often carry API keys, and messages end up in summaries. */
function describe(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function describeConfigured(text: string): string {
  try {
    return describe(new URL(text));
  } catch {
    return 'the configured URL';
  }
}

function bareHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Every URL the connector is about to request passes here, the configured one and each redirect target.
 * IP literals are judged now because the socket never does a lookup for them.
 */
function checkTarget(target: string, base: URL | undefined, sources: Config['sources']): URL {
  let url: URL;
  try {
    // WHATWG parsing turns 2130706433, 0x7f000001, 127.1 and 0177.0.0.1 into 127.0.0.1 before anything is judged.
    url = new URL(target, base);
  } catch {
    throw new SourceError(`invalid URL "${target}"`, false);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw refused(`scheme "${url.protocol}" is not allowed (only http and https)`);
  }
  if (!isHostAllowed(url.hostname, sources.httpAllowedHosts)) {
    throw refused(`host "${url.hostname}" is not on the allow-list (PRECIS_HTTP_ALLOWED_HOSTS)`);
  }
  const host = bareHost(url);
  if (isIP(host) !== 0) {
    const verdict = checkAddress(host, sources.httpAllowedNetworks);
    if (!verdict.allowed) throw refused(verdict.reason);
  }
  return url;
}

function pickFamily(addresses: LookupAddress[], family: number | string | undefined): LookupAddress[] {
  const wanted = family === 'IPv4' ? 4 : family === 'IPv6' ? 6 : family;
  return wanted === 4 || wanted === 6 ? addresses.filter((a) => a.family === wanted) : addresses;
}

function notFound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`no usable address for ${hostname}`), { code: 'ENOTFOUND' });
}

/**
 * The socket's own lookup, so the address that was checked is the address connected to: a DNS answer that
 * changes between a check and the connect (rebinding) cannot slip through. One bad address refuses the host,
 * because the connection may pick any of them.
 */
function guardedLookup(resolve: Resolver, allowedNetworks: readonly string[]): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (addresses) => {
        for (const { address } of addresses) {
          const verdict = checkAddress(address, allowedNetworks);
          if (!verdict.allowed) return callback(refused(`${hostname} resolves to ${verdict.reason}`), '');
        }
        const usable = pickFamily(addresses, options.family);
        const first = usable[0];
        if (!first) return callback(notFound(hostname), '');
        if (options.all) return callback(null, usable);
        return callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}

/** Wraps undici's connector so no socket opens, whatever path a request took, without passing the guard. */
function guardedConnector(sources: Config['sources'], resolve: Resolver): buildConnector.connector {
  const connect = buildConnector({ lookup: guardedLookup(resolve, sources.httpAllowedNetworks) });
  return (options, callback) => {
    if (isIP(options.hostname) !== 0) {
      const verdict = checkAddress(options.hostname, sources.httpAllowedNetworks);
      if (!verdict.allowed) return callback(refused(verdict.reason), null);
    }
    return connect(options, callback);
  };
}

/** Closes a body we will not read; the abort error undici then emits is expected, not a failure. */
function discard(body: Body): void {
  body.on('error', () => {});
  body.destroy();
}

function header(headers: ResponseData['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function normalizeHeaders(headers: Record<string, string>): Headers {
  const merged: Headers = { ...DEFAULT_HEADERS };
  for (const [name, value] of Object.entries(headers)) merged[name.toLowerCase()] = value;
  return merged;
}

function withoutCredentials(headers: Headers): Headers {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADER.test(name)));
}

function retryAfter(response: ResponseData): string {
  const value = header(response.headers, 'retry-after')?.trim();
  if (!value) return '';
  const seconds = /^\d+$/.test(value) ? Number(value) : Math.ceil((Date.parse(value) - Date.now()) / 1000);
  return Number.isFinite(seconds) ? ` (retry after ${Math.max(0, seconds)} s)` : '';
}

function statusError(response: ResponseData, url: URL): SourceError {
  const status = response.statusCode;
  const retryable = status >= 500 || RETRYABLE_STATUSES.has(status);
  const suffix = retryable ? retryAfter(response) : '';
  return new SourceError(`HTTP ${status} from ${describe(url)}${suffix}`, retryable);
}

function isJson(contentType: string | undefined): boolean {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || /^[a-z0-9!#$&^_.-]+\/[a-z0-9!#$&^_.+-]+\+json$/.test(mediaType);
}

interface Hop {
  response: ResponseData;
  url: URL;
}

/** Follows redirects by hand so every hop is re-checked; undici's own redirect handling would not be. */
async function followRedirects(
  source: HttpSource,
  sources: Config['sources'],
  dispatcher: Agent,
  signal: AbortSignal,
): Promise<Hop> {
  let url = checkTarget(source.url, undefined, sources);
  const origin = url.origin;
  let headers = normalizeHeaders(source.headers);
  for (let redirects = 0; ; redirects++) {
    const response = await undiciRequest(url, { dispatcher, method: 'GET', headers, signal });
    const location = header(response.headers, 'location');
    if (!REDIRECT_STATUSES.has(response.statusCode) || location === undefined) return { response, url };
    discard(response.body);
    if (redirects === MAX_REDIRECTS) {
      throw new SourceError(`more than ${MAX_REDIRECTS} redirects from ${describe(url)}`, false);
    }
    url = checkTarget(location, url, sources);
    // Once credentials would leave their origin they are dropped for the rest of the chain, even if it comes back.
    if (url.origin !== origin) headers = withoutCredentials(headers);
  }
}

async function readLimited(
  body: Body,
  maxBytes: number,
  heartbeat: CollectRequest['heartbeat'],
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    size += buffer.length;
    if (size > maxBytes) {
      discard(body);
      throw new SourceError(`response is larger than maxBytes (${maxBytes} bytes)`, false);
    }
    chunks.push(buffer);
    heartbeat({ bytes: size });
  }
  return Buffer.concat(chunks, size);
}

function checkResponse({ response, url }: Hop, maxBytes: number): void {
  if (response.statusCode < 200 || response.statusCode > 299) throw statusError(response, url);
  const contentType = header(response.headers, 'content-type');
  if (!isJson(contentType)) {
    throw new SourceError(
      `expected a JSON response from ${describe(url)}, got content-type "${contentType ?? '(none)'}"`,
      false,
    );
  }
  const declared = Number(header(response.headers, 'content-length'));
  if (declared > maxBytes) {
    throw new SourceError(`response of ${declared} bytes is larger than maxBytes (${maxBytes} bytes)`, false);
  }
}

function parseJson(bytes: Buffer, url: URL): unknown {
  try {
    // A UTF-8 byte order mark is legal in the wild but not to JSON.parse.
    return JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SourceError(`response from ${describe(url)} is not valid JSON: ${reason}`, false);
  }
}

/** Maps what went wrong to whether a retry may help: refusals and bad data no, network trouble and timeouts yes. */
function toSourceError(error: unknown, source: HttpSource, cancelled: AbortSignal, deadline: AbortSignal) {
  if (error instanceof SourceError) return error;
  if (cancelled.aborted) return new SourceError('collection cancelled', true, { cause: error });
  if (deadline.aborted) {
    return new SourceError(`no complete response within ${source.timeout}`, true, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  // undici refuses malformed request headers (e.g. "transfer-encoding") before sending anything.
  const retryable = !(error instanceof errors.InvalidArgumentError);
  return new SourceError(`request to ${describeConfigured(source.url)} failed: ${message}`, retryable, {
    cause: error,
  });
}

async function fetchDocument(
  source: HttpSource,
  sources: Config['sources'],
  dispatcher: Agent,
  request: CollectRequest,
  signal: AbortSignal,
): Promise<unknown> {
  request.heartbeat();
  const hop = await followRedirects(source, sources, dispatcher, signal);
  try {
    checkResponse(hop, source.maxBytes);
  } catch (error) {
    discard(hop.response.body);
    throw error;
  }
  return parseJson(await readLimited(hop.response.body, source.maxBytes, request.heartbeat), hop.url);
}

/**
 * Collects JSON from allow-listed HTTP endpoints. SSRF guard: the host must be on PRECIS_HTTP_ALLOWED_HOSTS, and
 * every address connected to must be public or in PRECIS_HTTP_ALLOWED_NETWORKS, checked at connect time.
 */
export function createHttpConnector(
  sources: Config['sources'],
  options: HttpConnectorOptions = {},
): SourceConnector<HttpSource> {
  // A typo in PRECIS_HTTP_ALLOWED_NETWORKS should stop the worker at start-up, not fail every collection.
  parseNetworks(sources.httpAllowedNetworks);
  const dispatcher = new Agent({ connect: guardedConnector(sources, options.resolve ?? systemResolver) });
  return {
    type: 'http',
    async collect(source: HttpSource, request: CollectRequest): Promise<WidgetData> {
      const deadline = AbortSignal.timeout(durationMs(source.timeout));
      const signal = AbortSignal.any([request.signal, deadline]);
      let document: unknown;
      try {
        document = await fetchDocument(source, sources, dispatcher, request, signal);
      } catch (error) {
        throw toSourceError(error, source, request.signal, deadline);
      }
      const series = extractSeries(document, source.mapping, request.widget.id);
      return source.unit === undefined ? { series } : { series, unit: source.unit };
    },
    async close(): Promise<void> {
      await dispatcher.close();
    },
  };
}
