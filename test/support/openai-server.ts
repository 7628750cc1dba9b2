/**
 * An OpenAI-compatible HTTP server for tests: the real `openai` SDK talks to it exactly as to the real API
 * (status codes, error bodies, rate-limit headers), and tests can inject faults one request at a time.
 *
 *   const server = await startOpenAiServer();
 *   const client = new OpenAI({ apiKey: 'test', baseURL: server.baseURL, maxRetries: 0, fetch: sameRealmFetch });
 *   server.enqueue({ kind: 'status', status: 429, retryAfterMs: 50 });
 *   ...
 *   await server.close();
 *
 * Only `POST /v1/chat/completions` (and `POST /chat/completions`) exists; it is non-streaming.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// ---------------------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------------------

/** HTTP statuses a status fault can answer with. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 422 | 429 | 500 | 502 | 503 | 504;

/**
 * Answer with an HTTP error whose body is OpenAI's for that status (`{ error: { message, type, param, code } }`).
 * 429 is a rate limit (`code: 'rate_limit_exceeded'`, `type: 'requests'` by default, or `type: 'tokens'`), unless
 * `type` or `code` is `'insufficient_quota'` (then both are). 400 with `code: 'context_length_exceeded'` is the
 * context-length error (`param: 'messages'`). `message`, `type`, `code`, `param` override the defaults;
 * `body` replaces the whole body (a string is sent verbatim, e.g. an HTML 502 page).
 */
export interface StatusFault {
  kind: 'status';
  status: ErrorStatus;
  /** Sent as the `retry-after` header (seconds). */
  retryAfterSeconds?: number;
  /** Sent as the `retry-after-ms` header. */
  retryAfterMs?: number;
  /** `x-ratelimit-reset-requests`: a duration string such as "6m0s", or milliseconds. */
  resetRequests?: string | number;
  /** `x-ratelimit-reset-tokens`: a duration string such as "1s", or milliseconds. */
  resetTokens?: string | number;
  code?: string | number | null;
  type?: string;
  param?: string | null;
  message?: string;
  /** Sent as the `x-should-retry` header, which the SDK obeys over its own status rules. */
  shouldRetry?: boolean;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** Replaces the error body (a string is sent verbatim with content-type text/html). */
  body?: unknown;
}

/** Wait `ms` (cancelled if the client goes away), then answer as the `next` fault says, or normally. */
export interface DelayFault {
  kind: 'delay';
  ms: number;
  next?: OpenAiFault;
}

/** Never answer; the request stays open until the client aborts it or the server closes. */
export interface HangFault {
  kind: 'hang';
}

/** 200 with assistant content that is not JSON (`content` overrides the default text). */
export interface MalformedFault {
  kind: 'malformed';
  content?: string;
}

/** 200 with valid JSON that breaks the summary schema: missing required fields and fields of the wrong type. */
export interface SchemaViolationFault {
  kind: 'schema-violation';
}

/** 200 with a well-shaped summary whose texts state numbers that are not in the input (e.g. 987.6%). */
export interface InventedNumbersFault {
  kind: 'invented-numbers';
}

/** 200 with exactly this assistant content: a string verbatim, anything else JSON-encoded. */
export interface ReplyFault {
  kind: 'reply';
  content: unknown;
  /** Defaults to 'stop'. */
  finishReason?: 'stop' | 'length' | 'content_filter';
}

/** 200 where the model refuses: `content: null`, `refusal: message`. */
export interface RefusalFault {
  kind: 'refusal';
  message?: string;
}

/** 200 with the content this responder produces, for this one request. */
export interface ResponderFault {
  kind: 'responder';
  responder: Responder;
}

/** Destroy the socket after reading the request, without answering (the SDK sees a connection error). */
export interface ResetConnectionFault {
  kind: 'reset-connection';
}

export type OpenAiFault =
  | StatusFault
  | DelayFault
  | HangFault
  | MalformedFault
  | SchemaViolationFault
  | InventedNumbersFault
  | ReplyFault
  | RefusalFault
  | ResponderFault
  | ResetConnectionFault;

export interface ChatMessage {
  role: string;
  content?: string | Array<{ type?: string; text?: string }> | null;
  name?: string;
  [key: string]: unknown;
}

export interface JsonSchemaFormat {
  name: string;
  schema: Record<string, unknown>;
  strict: boolean;
}

/** The request body as sent; only the fields the server looks at are typed. */
export interface ChatCompletionRequestBody {
  model: string;
  messages: ChatMessage[];
  response_format?: { type: string; json_schema?: unknown };
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  seed?: number | null;
  stream?: boolean | null;
  [key: string]: unknown;
}

/** What a responder gets: the validated request and what the server made of it. */
export interface ChatRequestInfo {
  /** Position in `server.requests`. */
  index: number;
  body: ChatCompletionRequestBody;
  model: string;
  messages: ChatMessage[];
  /** All message texts concatenated; prompt_tokens = ceil(promptText.length / 4). */
  promptText: string;
  /** The user messages' texts, joined by newlines. */
  userText: string;
  /** The JSON between `<dashboard-data>` and `</dashboard-data>` in a user message; undefined if absent or invalid. */
  dashboardData: unknown;
  jsonSchema: JsonSchemaFormat | null;
  /** max_completion_tokens, else max_tokens, else null. */
  maxTokens: number | null;
  headers: Record<string, string>;
}

/**
 * Produces the assistant content: a string is sent verbatim, anything else JSON-encoded. May return a promise; if it
 * throws, the client gets a 500 server_error whose message carries the thrown message.
 */
export type Responder = (request: ChatRequestInfo) => unknown;

/** Requests and tokens per minute, refilled continuously like OpenAI's limits. */
export interface RateLimitModel {
  /** Default 10 000. */
  requestsPerMinute?: number;
  /** Default 2 000 000. */
  tokensPerMinute?: number;
  /**
   * Answer 429 rate_limit_exceeded when a bucket cannot cover a request (default false: the headers count down,
   * floored at 0, but nothing is refused). A request costs 1 request and prompt tokens + max tokens.
   */
  enforce?: boolean;
}

export interface OpenAiServerOptions {
  /** Produces the assistant content when no fault says otherwise. Default: `defaultResponder`. */
  responder?: Responder;
  /**
   * usage.prompt_tokens_details.cached_tokens. A number (capped at prompt_tokens; default 0), a function, or
   * 'prefix': like provider prompt caching, the longest prefix of the prompt text shared with any earlier request
   * since start or reset, in tokens (chars / 4) rounded down to 128-token blocks, and 0 when under 1024 tokens.
   */
  cachedTokens?: number | 'prefix' | ((request: ChatRequestInfo) => number);
  rateLimits?: RateLimitModel;
  /** When set, requests must carry `authorization: Bearer <apiKey>` or get OpenAI's 401. */
  apiKey?: string;
  /** Reject strict json_schema response formats that OpenAI would reject (default true). */
  validateStrictSchemas?: boolean;
  systemFingerprint?: string;
  /** Clock for `created` and the rate-limit model (ms since epoch). */
  now?: () => number;
}

export type RecordedOutcome =
  | { type: 'pending' }
  | { type: 'response'; status: number; body: unknown; content: string | null }
  | { type: 'connection-reset' }
  | { type: 'client-aborted' };

export interface RecordedRequest {
  /** Position in `server.requests`, from 0. */
  index: number;
  requestId: string;
  method: string;
  /** The path without the query string. */
  path: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  rawBody: string;
  /** The body parsed as JSON; undefined when empty or not JSON. */
  body: unknown;
  receivedAt: Date;
  /** The fault applied to this request (null: answered normally or never reached chat completions). */
  fault: OpenAiFault | null;
  faultSource: 'queue' | 'default' | null;
  /** What the client got; 'pending' while delayed or hanging. */
  outcome: RecordedOutcome;
}

export interface OpenAiTestServer {
  /** `http://127.0.0.1:PORT/v1`: pass as the SDK's baseURL. */
  readonly baseURL: string;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Every request received since start or reset, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Faults still queued. */
  readonly queuedFaults: readonly OpenAiFault[];
  /** Queue faults; each chat-completion request takes the first one, then the default fault, then normal. */
  enqueue(...faults: OpenAiFault[]): void;
  /** A fault for every chat-completion request that finds the queue empty; null to stop. */
  setDefaultFault(fault: OpenAiFault | null): void;
  /** Replace the responder; null restores the one from the options (or the default). */
  setResponder(responder: Responder | null): void;
  /** Clears the queue, the default fault, the records and the prompt-cache history; refills the rate limits and
   * restores the responder from the options. */
  reset(): void;
  /** Stops listening and destroys open connections (hanging requests included). */
  close(): Promise<void>;
}

/**
 * The global fetch, with its failures turned into Errors of the calling realm. Under Jest the SDK runs in a vm
 * realm while fetch's AbortError is a DOMException of Node's own realm, which the SDK does not recognise as an
 * Error: it then reports a client timeout as a plain APIConnectionError ("Connection error.") instead of
 * APIConnectionTimeoutError. In Jest, pass `fetch: sameRealmFetch` to `new OpenAI(...)`; outside Jest it changes
 * nothing.
 */
export const sameRealmFetch: typeof fetch = async (input, init) => {
  try {
    return await fetch(input, init);
  } catch (error) {
    throw toThisRealm(error);
  }
};

function toThisRealm(error: unknown): unknown {
  if (error instanceof Error || typeof error !== 'object' || error === null) return error;
  const name = 'name' in error && typeof error.name === 'string' ? error.name : 'Error';
  const message = 'message' in error && typeof error.message === 'string' ? error.message : String(error);
  const local = new Error(message, { cause: error });
  local.name = name;
  return local;
}

// ---------------------------------------------------------------------------------------------------------------
// Default responder: a grounded summary of the dashboard data
// ---------------------------------------------------------------------------------------------------------------

export type Severity = 'info' | 'notice' | 'warning' | 'critical';

export interface SummaryReply {
  headline: string;
  insights: Array<{ widgetIds: string[]; severity: Severity; text: string }>;
  anomalies: Array<{ widgetId: string; at: string; value: number; description: string }>;
  recommendations: string[];
}

const OPEN_TAG = '<dashboard-data>';
const CLOSE_TAG = '</dashboard-data>';

/** The last `<dashboard-data>…</dashboard-data>` block in `text` that parses as JSON; undefined if none. */
export function extractDashboardData(text: string): unknown {
  let found: unknown;
  let from = 0;
  for (;;) {
    const open = text.indexOf(OPEN_TAG, from);
    if (open < 0) return found;
    const start = open + OPEN_TAG.length;
    const close = text.indexOf(CLOSE_TAG, start);
    if (close < 0) return found;
    try {
      found = JSON.parse(text.slice(start, close));
    } catch {
      // not this one
    }
    from = start;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function severityOf(changePct: number | null): Severity {
  const size = Math.abs(changePct ?? 0);
  if (size >= 50) return 'critical';
  if (size >= 20) return 'warning';
  if (size >= 5) return 'notice';
  return 'info';
}

const SEVERITY_RANK: Record<Severity, number> = { info: 0, notice: 1, warning: 2, critical: 3 };
const MAX_INSIGHTS = 30;

/** The generic (but summary-shaped) reply when there is no dashboard data to summarize. */
export function genericSummary(): SummaryReply {
  return {
    headline: 'No dashboard data was provided, so there is nothing to summarize.',
    insights: [],
    anomalies: [],
    recommendations: [],
  };
}

/**
 * A summary of `{ dashboardId, title, widgets: [{ widgetId, title, unit, series: [{ key, currentMean,
 * previousMean, changePct, lastValue }] }] }` (all optional) whose every number is copied from the input with
 * `String(n)`, i.e. exactly as JSON.stringify wrote it; one insight per series (at most 30), severity from
 * |changePct| (≥50 critical, ≥20 warning, ≥5 notice).
 */
export function summarizeDashboardData(data: unknown): SummaryReply {
  if (!isRecord(data)) return genericSummary();
  const dashboardName = text(data.title) ?? text(data.dashboardId) ?? 'Dashboard';
  const widgets = Array.isArray(data.widgets) ? data.widgets : [];
  const insights: SummaryReply['insights'] = [];
  for (const widget of widgets) {
    if (!isRecord(widget)) continue;
    const widgetId = text(widget.widgetId);
    if (widgetId === null) continue;
    const title = text(widget.title);
    const widgetName = title !== null && title.length <= 200 ? title : widgetId;
    const unit = text(widget.unit);
    const withUnit = (n: number) => (unit ? `${n} ${unit}` : String(n));
    const series = Array.isArray(widget.series) ? widget.series.filter(isRecord) : [];
    for (const s of series) {
      if (insights.length >= MAX_INSIGHTS) break;
      const key = text(s.key);
      const name =
        series.length > 1 && key !== null && key.length <= 120 ? `${widgetName} [${key}]` : widgetName;
      const changePct = finite(s.changePct);
      const current = finite(s.currentMean);
      const previous = finite(s.previousMean);
      const last = finite(s.lastValue);
      let sentence: string;
      if (changePct !== null && current !== null) {
        sentence = `${name} changed ${changePct}% (now ${withUnit(current)}${previous !== null ? `, previously ${withUnit(previous)}` : ''}).`;
      } else if (changePct !== null) {
        sentence = `${name} changed ${changePct}%.`;
      } else if (current !== null) {
        sentence = `${name} averaged ${withUnit(current)}${last !== null ? `, last value ${withUnit(last)}` : ''}.`;
      } else if (last !== null) {
        sentence = `${name} last read ${withUnit(last)}.`;
      } else {
        sentence = `${name} has no comparable data.`;
      }
      if (sentence.length > 600) sentence = `${widgetId} changed ${changePct ?? 'by an unknown'}%.`;
      if (sentence.length > 600) continue;
      insights.push({ widgetIds: [widgetId], severity: severityOf(changePct), text: sentence });
    }
  }
  let top: SummaryReply['insights'][number] | undefined;
  for (const insight of insights) {
    if (!top || SEVERITY_RANK[insight.severity] > SEVERITY_RANK[top.severity]) top = insight;
  }
  const candidates = top
    ? [`${dashboardName}: ${top.text}`, top.text, `${dashboardName}: summary of the latest data.`]
    : [`${dashboardName}: no widget data to compare.`];
  const headline = candidates.find((c) => c.length <= 300) ?? 'Dashboard summary.';
  return { headline, insights, anomalies: [], recommendations: [] };
}

/** The default responder: `summarizeDashboardData` of the request's `<dashboard-data>` block. */
export const defaultResponder: Responder = (request) => summarizeDashboardData(request.dashboardData);

const INVENTED_CANDIDATES = ['987.6', '4321.9', '8642.17', '31337.7', '123456.789'];

function inventedNumbersReply(request: ChatRequestInfo): SummaryReply {
  const [percent = '987.6', level = '4321.9'] = INVENTED_CANDIDATES.filter(
    (c) => !request.promptText.includes(c),
  );
  const summary = summarizeDashboardData(request.dashboardData);
  const data = isRecord(request.dashboardData) ? request.dashboardData : {};
  const firstWidget = Array.isArray(data.widgets) ? data.widgets.find(isRecord) : undefined;
  const widgetId = (firstWidget && text(firstWidget.widgetId)) ?? 'unknown-widget';
  const invented = {
    widgetIds: [widgetId],
    severity: 'critical' as const,
    text: `Traffic jumped ${percent}% to ${level}.`,
  };
  const [, ...rest] = summary.insights;
  return {
    headline: `Traffic jumped ${percent}% overnight.`,
    insights: [summary.insights[0] ? { ...summary.insights[0], text: invented.text } : invented, ...rest],
    anomalies: [],
    recommendations: [],
  };
}

const SCHEMA_VIOLATION = {
  headline: 42,
  insights: [{ widgetIds: 'not-an-array', severity: 'catastrophic', text: null, confidence: 'high' }],
  // anomalies and recommendations are missing
};

const MALFORMED_CONTENT =
  'Sure! Here is the summary you asked for:\n{"headline": "Checkout latency rose", "insights": [{"widgetIds": ["p99-lat';

// ---------------------------------------------------------------------------------------------------------------
// Protocol helpers
// ---------------------------------------------------------------------------------------------------------------

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | number | null };
}

function errorBody(
  message: string,
  type: string,
  param: string | null = null,
  code: string | number | null = null,
): ErrorBody {
  return { error: { message, type, param, code } };
}

class RequestError {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {}
}

function invalid(message: string, param: string | null = null, code: string | null = null): RequestError {
  return new RequestError(400, errorBody(message, 'invalid_request_error', param, code));
}

/** OpenAI's reset durations: "20ms", "1s", "1.5s", "6m0s", "1h2m3s". */
export function formatResetDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = `${Number(((total % 60_000) / 1000).toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

function resetValue(value: string | number): string {
  return typeof value === 'number' ? formatResetDuration(value) : value;
}

class Bucket {
  private level: number;
  private updatedAt: number;

  constructor(
    readonly limit: number,
    now: number,
  ) {
    this.level = limit;
    this.updatedAt = now;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.updatedAt);
    this.level = Math.min(this.limit, this.level + (elapsed * this.limit) / 60_000);
    this.updatedAt = now;
  }

  remaining(now: number): number {
    this.refill(now);
    return Math.floor(this.level);
  }

  /** Ms until the bucket is full again. */
  resetMs(now: number): number {
    this.refill(now);
    return Math.ceil(((this.limit - this.level) * 60_000) / this.limit);
  }

  /** Ms until `amount` is available; 0 if it is now. */
  waitMs(amount: number, now: number): number {
    this.refill(now);
    if (this.level >= amount) return 0;
    return Math.ceil(((amount - this.level) * 60_000) / this.limit);
  }

  take(amount: number, now: number): void {
    this.refill(now);
    this.level = Math.max(0, this.level - amount);
  }
}

function messageText(message: ChatMessage): string {
  const { content } = message;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part) => (isRecord(part) && typeof part.text === 'string' ? part.text : '')).join('');
  }
  return '';
}

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

function pythonTuple(path: readonly (string | number)[]): string {
  const items = path.map((p) => (typeof p === 'number' ? String(p) : `'${p}'`));
  return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
}

/** Why OpenAI would reject this strict schema, in its words; null if it would not. */
function strictSchemaProblem(name: string, schema: Record<string, unknown>): string | null {
  const prefix = `Invalid schema for response_format '${name}': `;
  if (schema.type !== 'object') {
    return `${prefix}schema must be a JSON Schema of 'type: "object"', got 'type: "${String(schema.type)}"'.`;
  }
  const visit = (node: unknown, path: (string | number)[]): string | null => {
    if (!isRecord(node)) return null;
    const context = `In context=${pythonTuple(path)}, `;
    const isObject = node.type === 'object' || (Array.isArray(node.type) && node.type.includes('object'));
    const properties = isRecord(node.properties) ? node.properties : {};
    if (isObject) {
      if (node.additionalProperties !== false) {
        return `${prefix}${context}'additionalProperties' is required to be supplied and to be false.`;
      }
      const required = Array.isArray(node.required) ? node.required : null;
      const missing = Object.keys(properties).find((key) => !required?.includes(key));
      if (missing !== undefined) {
        return `${prefix}${context}'required' is required to be supplied and to be an array including every key in properties. Missing '${missing}'.`;
      }
    }
    for (const [key, child] of Object.entries(properties)) {
      const problem = visit(child, [...path, 'properties', key]);
      if (problem) return problem;
    }
    if (Array.isArray(node.items)) {
      for (const [i, child] of node.items.entries()) {
        const problem = visit(child, [...path, 'items', i]);
        if (problem) return problem;
      }
    } else {
      const problem = visit(node.items, [...path, 'items']);
      if (problem) return problem;
    }
    for (const keyword of ['anyOf', 'allOf', 'prefixItems']) {
      const list = node[keyword];
      if (!Array.isArray(list)) continue;
      for (const [i, child] of list.entries()) {
        const problem = visit(child, [...path, keyword, i]);
        if (problem) return problem;
      }
    }
    for (const keyword of ['$defs', 'definitions']) {
      const defs = node[keyword];
      if (!isRecord(defs)) continue;
      for (const [key, child] of Object.entries(defs)) {
        const problem = visit(child, [...path, keyword, key]);
        if (problem) return problem;
      }
    }
    return null;
  };
  return visit(schema, []);
}

const ROLES = ['system', 'assistant', 'user', 'function', 'tool', 'developer'];

function checkNumber(
  body: Record<string, unknown>,
  field: string,
  kind: 'decimal' | 'integer',
  min: number | null,
  max: number | null,
): number | null {
  const value = body[field];
  if (value === undefined || value === null) return null;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    (kind === 'integer' && !Number.isInteger(value))
  ) {
    const got =
      typeof value === 'number' ? 'a decimal' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw invalid(
      `Invalid type for '${field}': expected ${kind === 'integer' ? 'an integer' : 'a decimal'}, but got ${got} instead.`,
      field,
      'invalid_type',
    );
  }
  if (min !== null && value < min) {
    throw invalid(
      `Invalid '${field}': ${kind} below minimum value. Expected a value >= ${min}, but got ${value} instead.`,
      field,
      `${kind}_below_min_value`,
    );
  }
  if (max !== null && value > max) {
    throw invalid(
      `Invalid '${field}': ${kind} above maximum value. Expected a value <= ${max}, but got ${value} instead.`,
      field,
      `${kind}_above_max_value`,
    );
  }
  return value;
}

interface ValidatedRequest {
  body: ChatCompletionRequestBody;
  jsonSchema: JsonSchemaFormat | null;
  maxTokens: number | null;
}

/** The checks OpenAI makes that matter to precis, with OpenAI's messages; throws RequestError. */
function validateChatRequest(raw: unknown, parsed: boolean, validateStrict: boolean): ValidatedRequest {
  if (!parsed || !isRecord(raw)) {
    throw invalid(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    );
  }
  if (typeof raw.model !== 'string' || raw.model === '') throw invalid('you must provide a model parameter');
  if (raw.messages === undefined || raw.messages === null) {
    throw invalid("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
  }
  if (!Array.isArray(raw.messages)) {
    throw invalid(
      "Invalid type for 'messages': expected an array of objects, but got a string instead.",
      'messages',
      'invalid_type',
    );
  }
  if (raw.messages.length === 0) {
    throw invalid(
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'messages',
      'empty_array',
    );
  }
  for (const [i, message] of raw.messages.entries()) {
    const param = `messages[${i}]`;
    if (!isRecord(message)) {
      throw invalid(
        `Invalid type for '${param}': expected an object, but got another type instead.`,
        param,
        'invalid_type',
      );
    }
    if (message.role === undefined) {
      throw invalid(
        `Missing required parameter: '${param}.role'.`,
        `${param}.role`,
        'missing_required_parameter',
      );
    }
    if (typeof message.role !== 'string' || !ROLES.includes(message.role)) {
      throw invalid(
        `Invalid value: '${String(message.role)}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
        `${param}.role`,
        'invalid_value',
      );
    }
    const { content } = message;
    if (message.role !== 'assistant' && (content === undefined || content === null)) {
      throw invalid(
        `Missing required parameter: '${param}.content'.`,
        `${param}.content`,
        'missing_required_parameter',
      );
    }
    if (content !== undefined && content !== null && typeof content !== 'string' && !Array.isArray(content)) {
      throw invalid(
        `Invalid type for '${param}.content': expected one of a string or array of objects, but got an object instead.`,
        `${param}.content`,
        'invalid_type',
      );
    }
  }
  if (raw.stream === true) {
    throw invalid(
      'Streaming is not supported by the precis OpenAI test server.',
      'stream',
      'unsupported_value',
    );
  }
  if (raw.n !== undefined && raw.n !== null && raw.n !== 1) {
    throw invalid('Only n = 1 is supported by the precis OpenAI test server.', 'n', 'unsupported_value');
  }
  checkNumber(raw, 'temperature', 'decimal', 0, 2);
  checkNumber(raw, 'top_p', 'decimal', 0, 1);
  checkNumber(raw, 'seed', 'integer', null, null);
  const maxTokens = checkNumber(raw, 'max_tokens', 'integer', 1, null);
  const maxCompletionTokens = checkNumber(raw, 'max_completion_tokens', 'integer', 1, null);

  let jsonSchema: JsonSchemaFormat | null = null;
  const format = raw.response_format;
  if (format !== undefined && format !== null) {
    if (!isRecord(format)) {
      throw invalid(
        "Invalid type for 'response_format': expected an object, but got another type instead.",
        'response_format',
        'invalid_type',
      );
    }
    if (format.type === 'json_schema') {
      const spec = format.json_schema;
      if (!isRecord(spec)) {
        throw invalid(
          "Missing required parameter: 'response_format.json_schema'.",
          'response_format.json_schema',
          'missing_required_parameter',
        );
      }
      if (typeof spec.name !== 'string') {
        throw invalid(
          "Missing required parameter: 'response_format.json_schema.name'.",
          'response_format.json_schema.name',
          'missing_required_parameter',
        );
      }
      if (!/^[a-zA-Z0-9_-]{1,64}$/.test(spec.name)) {
        throw invalid(
          `Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
          'response_format.json_schema.name',
          'invalid_value',
        );
      }
      const schema = isRecord(spec.schema) ? spec.schema : {};
      const strict = spec.strict === true;
      if (strict && validateStrict) {
        const problem = strictSchemaProblem(spec.name, schema);
        if (problem) throw invalid(problem, 'response_format');
      }
      jsonSchema = { name: spec.name, schema, strict };
    } else if (format.type === 'json_object') {
      const mentionsJson = raw.messages.some(
        (m) => isRecord(m) && /json/i.test(messageText(m as ChatMessage)),
      );
      if (!mentionsJson) {
        throw invalid(
          "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
          'messages',
        );
      }
    } else if (format.type !== 'text') {
      throw invalid(
        `Invalid value: '${String(format.type)}'. Supported values are: 'text', 'json_object', and 'json_schema'.`,
        'response_format.type',
        'invalid_value',
      );
    }
  }
  return {
    body: raw as ChatCompletionRequestBody,
    jsonSchema,
    maxTokens: maxCompletionTokens ?? maxTokens,
  };
}

function defaultStatusError(fault: StatusFault, model: string, promptTokens: number): ErrorBody {
  const quota = fault.type === 'insufficient_quota' || fault.code === 'insufficient_quota';
  switch (fault.status) {
    case 400:
      if (fault.code === 'context_length_exceeded') {
        return errorBody(
          `This model's maximum context length is 128000 tokens. However, your messages resulted in ${Math.max(128_001, promptTokens)} tokens. Please reduce the length of the messages.`,
          'invalid_request_error',
          'messages',
          'context_length_exceeded',
        );
      }
      return errorBody('The request was invalid.', 'invalid_request_error');
    case 401:
      return errorBody(
        'Incorrect API key provided: te**st. You can find your API key at https://platform.openai.com/account/api-keys.',
        'invalid_request_error',
        null,
        'invalid_api_key',
      );
    case 403:
      return errorBody(
        'Country, region, or territory not supported',
        'request_forbidden',
        null,
        'unsupported_country_region_territory',
      );
    case 404:
      return errorBody(
        `The model \`${model}\` does not exist or you do not have access to it.`,
        'invalid_request_error',
        null,
        'model_not_found',
      );
    case 409:
      return errorBody(
        'The request conflicted with another request. Please try again.',
        'invalid_request_error',
      );
    case 422:
      return errorBody('The request could not be processed.', 'invalid_request_error');
    case 429:
      if (quota) {
        return errorBody(
          'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
          'insufficient_quota',
          null,
          'insufficient_quota',
        );
      }
      return fault.type === 'tokens'
        ? errorBody(
            `Rate limit reached for ${model} in organization org-precis-test on tokens per min (TPM): Limit 30000, Used 30000, Requested ${promptTokens}. Please try again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
            'tokens',
            null,
            'rate_limit_exceeded',
          )
        : errorBody(
            `Rate limit reached for ${model} in organization org-precis-test on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms. Visit https://platform.openai.com/account/rate-limits to learn more.`,
            'requests',
            null,
            'rate_limit_exceeded',
          );
    case 500:
      return errorBody(
        'The server had an error while processing your request. Sorry about that!',
        'server_error',
      );
    case 502:
      return errorBody('Bad gateway.', 'cf_bad_gateway', null, 502);
    case 503:
      return errorBody('The engine is currently overloaded, please try again later.', 'server_error');
    case 504:
      return errorBody('Gateway timeout.', 'cf_gateway_timeout', null, 504);
  }
}

function statusErrorBody(fault: StatusFault, model: string, promptTokens: number): ErrorBody {
  const base = defaultStatusError(fault, model, promptTokens).error;
  const quota = fault.type === 'insufficient_quota' || fault.code === 'insufficient_quota';
  return errorBody(
    fault.message ?? base.message,
    quota ? 'insufficient_quota' : (fault.type ?? base.type),
    fault.param !== undefined ? fault.param : base.param,
    quota ? 'insufficient_quota' : fault.code !== undefined ? fault.code : base.code,
  );
}

function lowerCaseHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------------------------

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  record: RecordedRequest;
  startedAt: number;
  closed: boolean;
}

/** Starts the server on 127.0.0.1 and a free port. */
export async function startOpenAiServer(options: OpenAiServerOptions = {}): Promise<OpenAiTestServer> {
  const now = options.now ?? Date.now;
  const validateStrict = options.validateStrictSchemas ?? true;
  const fingerprint = options.systemFingerprint ?? 'fp_precis_test';
  const requestsPerMinute = options.rateLimits?.requestsPerMinute ?? 10_000;
  const tokensPerMinute = options.rateLimits?.tokensPerMinute ?? 2_000_000;
  const enforceLimits = options.rateLimits?.enforce ?? false;

  let records: RecordedRequest[] = [];
  let queue: OpenAiFault[] = [];
  let defaultFault: OpenAiFault | null = null;
  let responder: Responder = options.responder ?? defaultResponder;
  let promptHistory: string[] = [];
  let requestBucket = new Bucket(requestsPerMinute, now());
  let tokenBucket = new Bucket(tokensPerMinute, now());
  const timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let closing = false;

  const rateLimitHeaders = (): Record<string, string> => {
    const t = now();
    return {
      'x-ratelimit-limit-requests': String(requestsPerMinute),
      'x-ratelimit-limit-tokens': String(tokensPerMinute),
      'x-ratelimit-remaining-requests': String(requestBucket.remaining(t)),
      'x-ratelimit-remaining-tokens': String(tokenBucket.remaining(t)),
      'x-ratelimit-reset-requests': formatResetDuration(requestBucket.resetMs(t)),
      'x-ratelimit-reset-tokens': formatResetDuration(tokenBucket.resetMs(t)),
    };
  };

  const send = (
    ex: Exchange,
    status: number,
    body: unknown,
    extraHeaders: Record<string, string> = {},
    content: string | null = null,
  ): void => {
    if (ex.closed || ex.res.writableEnded) return;
    const isText = typeof body === 'string';
    const payload = isText ? body : JSON.stringify(body);
    ex.res.writeHead(status, {
      'content-type': isText ? 'text/html; charset=utf-8' : 'application/json',
      'x-request-id': ex.record.requestId,
      'openai-version': '2020-10-01',
      'openai-organization': 'org-precis-test',
      'openai-processing-ms': String(Date.now() - ex.startedAt),
      ...rateLimitHeaders(),
      ...extraHeaders,
    });
    ex.res.end(payload);
    ex.record.outcome = { type: 'response', status, body, content };
  };

  /** Resolves true after `ms`, or false as soon as the client goes away or the server closes. */
  const wait = (ex: Exchange, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const entry = {
        timer: setTimeout(
          () => {
            timers.delete(entry);
            resolve(!ex.closed);
          },
          Math.max(0, ms),
        ),
        resolve: () => resolve(false),
      };
      timers.add(entry);
      ex.res.once('close', () => {
        clearTimeout(entry.timer);
        timers.delete(entry);
        resolve(false);
      });
    });

  const requestInfo = (ex: Exchange, validated: ValidatedRequest): ChatRequestInfo => {
    const messages = validated.body.messages;
    const userText = messages
      .filter((m) => m.role === 'user')
      .map(messageText)
      .join('\n');
    return {
      index: ex.record.index,
      body: validated.body,
      model: validated.body.model,
      messages,
      promptText: messages.map(messageText).join(''),
      userText,
      dashboardData: extractDashboardData(userText),
      jsonSchema: validated.jsonSchema,
      maxTokens: validated.maxTokens,
      headers: ex.record.headers,
    };
  };

  const cachedTokensFor = (info: ChatRequestInfo, promptTokens: number): number => {
    const setting = options.cachedTokens ?? 0;
    let cached: number;
    if (setting === 'prefix') {
      const shared = promptHistory.reduce(
        (best, earlier) => Math.max(best, commonPrefixLength(earlier, info.promptText)),
        0,
      );
      const blocks = Math.floor(Math.floor(shared / 4) / 128) * 128;
      cached = blocks >= 1024 ? blocks : 0;
    } else if (typeof setting === 'function') {
      cached = setting(info);
    } else {
      cached = setting;
    }
    return Math.max(0, Math.min(promptTokens, Math.floor(Number.isFinite(cached) ? cached : 0)));
  };

  type Answer =
    | {
        kind: 'content';
        produce: (info: ChatRequestInfo) => unknown;
        finishReason?: 'stop' | 'length' | 'content_filter';
      }
    | { kind: 'refusal'; message: string };

  const answer = async (ex: Exchange, how: Answer): Promise<void> => {
    if (options.apiKey !== undefined) {
      const auth = ex.record.headers.authorization;
      if (auth === undefined || !auth.startsWith('Bearer ')) {
        send(
          ex,
          401,
          errorBody(
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            'invalid_request_error',
          ),
        );
        return;
      }
      if (auth.slice('Bearer '.length) !== options.apiKey) {
        send(ex, 401, statusErrorBody({ kind: 'status', status: 401 }, '', 0));
        return;
      }
    }
    let validated: ValidatedRequest;
    try {
      validated = validateChatRequest(ex.record.body, ex.record.body !== undefined, validateStrict);
    } catch (error) {
      if (error instanceof RequestError) {
        send(ex, error.status, error.body);
        return;
      }
      throw error;
    }
    const info = requestInfo(ex, validated);
    const promptTokens = Math.ceil(info.promptText.length / 4);
    const t = now();
    const tokenCost = promptTokens + (validated.maxTokens ?? 0);
    if (enforceLimits) {
      const requestWait = requestBucket.waitMs(1, t);
      const tokenWait = tokenBucket.waitMs(tokenCost, t);
      if (requestWait > 0 || tokenWait > 0) {
        const byRequests = requestWait > 0;
        const waitMs = byRequests ? requestWait : tokenWait;
        const limit = byRequests ? requestsPerMinute : tokensPerMinute;
        const used = byRequests ? limit - requestBucket.remaining(t) : limit - tokenBucket.remaining(t);
        const message = byRequests
          ? `Rate limit reached for ${info.model} in organization org-precis-test on requests per min (RPM): Limit ${limit}, Used ${used}, Requested 1. Please try again in ${formatResetDuration(waitMs)}. Visit https://platform.openai.com/account/rate-limits to learn more.`
          : `Rate limit reached for ${info.model} in organization org-precis-test on tokens per min (TPM): Limit ${limit}, Used ${used}, Requested ${tokenCost}. Please try again in ${formatResetDuration(waitMs)}. Visit https://platform.openai.com/account/rate-limits to learn more.`;
        send(ex, 429, errorBody(message, byRequests ? 'requests' : 'tokens', null, 'rate_limit_exceeded'), {
          'retry-after': String(Math.ceil(waitMs / 1000)),
          'retry-after-ms': String(waitMs),
        });
        return;
      }
    }
    requestBucket.take(1, t);
    tokenBucket.take(tokenCost, t);
    const cachedTokens = cachedTokensFor(info, promptTokens);
    promptHistory.push(info.promptText);

    let content: string | null = null;
    let refusal: string | null = null;
    let finishReason: 'stop' | 'length' | 'content_filter' = 'stop';
    if (how.kind === 'refusal') {
      refusal = how.message;
    } else {
      let produced: unknown;
      try {
        produced = await how.produce(info);
      } catch (error) {
        send(
          ex,
          500,
          errorBody(
            `The test responder threw: ${error instanceof Error ? error.message : String(error)}`,
            'server_error',
          ),
        );
        return;
      }
      content = typeof produced === 'string' ? produced : (JSON.stringify(produced) ?? 'null');
      finishReason = how.finishReason ?? 'stop';
      if (validated.maxTokens !== null && Math.ceil(content.length / 4) > validated.maxTokens) {
        content = content.slice(0, validated.maxTokens * 4);
        finishReason = 'length';
      }
    }
    const completionTokens = Math.ceil((content ?? refusal ?? '').length / 4);
    const body = {
      id: `chatcmpl-${randomUUID().replaceAll('-', '').slice(0, 29)}`,
      object: 'chat.completion',
      created: Math.floor(now() / 1000),
      model: info.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content, refusal },
          finish_reason: finishReason,
          logprobs: null,
        },
      ],
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
        prompt_tokens_details: { cached_tokens: cachedTokens },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
      system_fingerprint: fingerprint,
    };
    send(ex, 200, body, {}, content);
  };

  const apply = async (ex: Exchange, fault: OpenAiFault | null): Promise<void> => {
    if (fault === null) {
      await answer(ex, { kind: 'content', produce: (info) => responder(info) });
      return;
    }
    switch (fault.kind) {
      case 'status': {
        const body = isRecord(ex.record.body) ? ex.record.body : {};
        const model = typeof body.model === 'string' ? body.model : 'unknown';
        const messages = Array.isArray(body.messages) ? body.messages.filter(isRecord) : [];
        const promptTokens = Math.ceil(
          messages.map((m) => messageText(m as ChatMessage)).join('').length / 4,
        );
        const errorPayload =
          fault.body !== undefined ? fault.body : statusErrorBody(fault, model, promptTokens);
        const headers: Record<string, string> = {};
        const quota = fault.type === 'insufficient_quota' || fault.code === 'insufficient_quota';
        if (fault.status === 429 && !quota) {
          headers[
            fault.type === 'tokens' ? 'x-ratelimit-remaining-tokens' : 'x-ratelimit-remaining-requests'
          ] = '0';
        }
        if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
        if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
        if (fault.resetRequests !== undefined)
          headers['x-ratelimit-reset-requests'] = resetValue(fault.resetRequests);
        if (fault.resetTokens !== undefined)
          headers['x-ratelimit-reset-tokens'] = resetValue(fault.resetTokens);
        if (fault.shouldRetry !== undefined) headers['x-should-retry'] = String(fault.shouldRetry);
        send(ex, fault.status, errorPayload, { ...headers, ...fault.headers });
        return;
      }
      case 'delay':
        if (await wait(ex, fault.ms)) await apply(ex, fault.next ?? null);
        return;
      case 'hang':
        return; // answered by nobody; the close handler records the abort
      case 'reset-connection':
        ex.record.outcome = { type: 'connection-reset' };
        ex.req.socket.destroy();
        return;
      case 'malformed': {
        const content = fault.content ?? MALFORMED_CONTENT;
        await answer(ex, { kind: 'content', produce: () => content });
        return;
      }
      case 'schema-violation':
        await answer(ex, { kind: 'content', produce: () => SCHEMA_VIOLATION });
        return;
      case 'invented-numbers':
        await answer(ex, { kind: 'content', produce: inventedNumbersReply });
        return;
      case 'reply':
        await answer(ex, { kind: 'content', produce: () => fault.content, finishReason: fault.finishReason });
        return;
      case 'refusal':
        await answer(ex, {
          kind: 'refusal',
          message: fault.message ?? "I'm sorry, I cannot help with that request.",
        });
        return;
      case 'responder':
        await answer(ex, { kind: 'content', produce: fault.responder });
        return;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const startedAt = Date.now();
    const rawBody = await readBody(req);
    let body: unknown;
    if (rawBody) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = undefined;
      }
    }
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const record: RecordedRequest = {
      index: records.length,
      requestId: `req_${randomUUID().replaceAll('-', '')}`,
      method: req.method ?? 'GET',
      path,
      headers: lowerCaseHeaders(req),
      rawBody: rawBody ?? '',
      body,
      receivedAt: new Date(),
      fault: null,
      faultSource: null,
      outcome: { type: 'pending' },
    };
    records.push(record);
    const ex: Exchange = { req, res, record, startedAt, closed: false };
    res.on('close', () => {
      ex.closed = true;
      if (record.outcome.type === 'pending') record.outcome = { type: 'client-aborted' };
    });
    if (rawBody === null) {
      send(ex, 413, errorBody('Request body too large.', 'invalid_request_error'));
      return;
    }
    const isChat = path === '/v1/chat/completions' || path === '/chat/completions';
    if (!isChat || record.method !== 'POST') {
      send(ex, 404, errorBody(`Invalid URL (${record.method} ${path})`, 'invalid_request_error'));
      return;
    }
    const queued = queue.shift();
    const fault = queued ?? defaultFault;
    record.fault = fault;
    record.faultSource = queued ? 'queue' : fault ? 'default' : null;
    await apply(ex, fault);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          errorBody(
            `The test server failed: ${error instanceof Error ? error.message : String(error)}`,
            'server_error',
          ),
        ),
      );
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    baseURL: `${url}/v1`,
    url,
    port,
    get requests() {
      return records;
    },
    get queuedFaults() {
      return [...queue];
    },
    enqueue(...faults) {
      queue.push(...faults);
    },
    setDefaultFault(fault) {
      defaultFault = fault;
    },
    setResponder(next) {
      responder = next ?? options.responder ?? defaultResponder;
    },
    reset() {
      records = [];
      queue = [];
      defaultFault = null;
      responder = options.responder ?? defaultResponder;
      promptHistory = [];
      requestBucket = new Bucket(requestsPerMinute, now());
      tokenBucket = new Bucket(tokensPerMinute, now());
    },
    close() {
      if (closing) return Promise.resolve();
      closing = true;
      for (const entry of timers) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      timers.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
