import OpenAI from 'openai';

/**
 * What a failed model call means for what happens next. Decided here, where the error is understood:
 *  - `retry`: transient (429 rate limit, 5xx, timeout, connection); Temporal retries after `delayMs` if known.
 *  - `quota`: `insufficient_quota`; waiting will not help, stop calling until an operator clears it.
 *  - `next-rung`: this model cannot serve the request (400, 401, 403, 404, context length): go down the ladder.
 */
export type CallFailure =
  | { kind: 'retry'; reason: string; delayMs: number | null; countsAgainstBreaker: boolean }
  | { kind: 'quota'; reason: string }
  | { kind: 'next-rung'; reason: string };

/** Parses OpenAI's reset durations such as "1s", "6m0s", "20ms", "1h2m3.5s". */
export function parseResetDuration(text: string): number | null {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text.trim()) return null;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  return Math.round(parts.reduce((total, [, n, u]) => total + Number(n) * unit[u as keyof typeof unit], 0));
}

/** The delay the provider asks for: retry-after-ms, then retry-after (seconds or HTTP date), then x-ratelimit-reset-*. */
export function retryDelayFromHeaders(headers: Headers | undefined, now = Date.now()): number | null {
  if (!headers) return null;
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.get('retry-after-ms') !== null && Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const after = headers.get('retry-after');
  if (after !== null) {
    const seconds = Number(after);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
    const date = Date.parse(after);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  const resets = ['x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens']
    .map((name) => headers.get(name))
    .filter((value): value is string => value !== null)
    .map(parseResetDuration)
    .filter((value): value is number => value !== null);
  return resets.length > 0 ? Math.max(...resets) : null;
}

export function classifyModelError(error: unknown): CallFailure {
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return { kind: 'retry', reason: 'model call timed out', delayMs: null, countsAgainstBreaker: true };
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return {
      kind: 'retry',
      reason: `cannot reach the model endpoint: ${error.message}`,
      delayMs: null,
      countsAgainstBreaker: true,
    };
  }
  if (error instanceof OpenAI.APIError) {
    const status = error.status ?? 0;
    const code = typeof error.code === 'string' ? error.code : '';
    const type = typeof error.type === 'string' ? error.type : '';
    const detail = `HTTP ${status}${code ? ` ${code}` : ''}: ${error.message}`;
    if (code === 'insufficient_quota' || type === 'insufficient_quota')
      return { kind: 'quota', reason: detail };
    if (status === 429) {
      // The provider is healthy and asking us to slow down: not a breaker failure.
      return {
        kind: 'retry',
        reason: detail,
        delayMs: retryDelayFromHeaders(error.headers),
        countsAgainstBreaker: false,
      };
    }
    if (status === 408 || status === 409 || status >= 500) {
      return {
        kind: 'retry',
        reason: detail,
        delayMs: retryDelayFromHeaders(error.headers),
        countsAgainstBreaker: true,
      };
    }
    return { kind: 'next-rung', reason: detail };
  }
  return {
    kind: 'retry',
    reason: error instanceof Error ? error.message : String(error),
    delayMs: null,
    countsAgainstBreaker: true,
  };
}

/** Connection failures that happen before a single byte of the request left: the provider cannot have seen it. */
const NEVER_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function errorCodes(error: unknown, depth = 0): string[] {
  if (depth > 5 || typeof error !== 'object' || error === null) return [];
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  return [
    ...(typeof code === 'string' ? [code] : []),
    ...errorCodes(cause, depth + 1),
    ...(Array.isArray(errors) ? errors.flatMap((inner) => errorCodes(inner, depth + 1)) : []),
  ];
}

/**
 * Whether a failed call certainly never reached the provider (connection refused, name not resolved, aborted before
 * sending), so its rate-limit reservation may be refunded. Anything else (5xx, timeouts, resets mid-request) may
 * have been counted by the provider, and the shared limit must count it too.
 */
export function certainlyNotSent(error: unknown): boolean {
  if (error instanceof OpenAI.APIConnectionTimeoutError) return false;
  if (error instanceof OpenAI.APIUserAbortError) return false;
  if (!(error instanceof OpenAI.APIConnectionError)) return false;
  const codes = errorCodes(error);
  return codes.length > 0 && codes.every((code) => NEVER_SENT_CODES.has(code));
}
