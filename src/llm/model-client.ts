import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import type { Config } from '../config';
import { textProblem } from '../grounding/text-checks';
import type { EnrichedDashboard } from '../pipeline/types';
import type { SummaryContent } from '../summarize/types';
import { traceModelCall } from '../tracing/gen-ai';
import type { TokenUsage } from './cost';
import { parseResetDuration } from './errors';
import { checkGrounding, type GroundingReport, groundingRecord } from './grounding';
import { type ModelOutput, modelOutputSchema } from './output';
import { buildMessages, modelInput, type Prompt } from './prompt';

/** The SDK client; its own retries are off because Temporal is the one retry owner. */
export function createOpenAiClient(llm: Config['llm']): OpenAI {
  return new OpenAI({
    apiKey: llm.apiKey ?? 'not-needed-for-this-endpoint',
    ...(llm.baseUrl ? { baseURL: llm.baseUrl } : {}),
    maxRetries: 0,
    timeout: llm.timeoutMs,
  });
}

export interface RateLimitHeaders {
  remainingRequests?: number;
  remainingTokens?: number;
  resetRequestsMs?: number;
  resetTokensMs?: number;
}

/** A reply the model gave. `problem` says why it cannot be served as it is (a changed strategy fixes those). */
export interface ModelReply {
  model: string;
  usage: TokenUsage;
  content: SummaryContent | null;
  problem: null | { kind: 'invalid' | 'ungrounded' | 'unsafe'; detail: string };
  rateLimits: RateLimitHeaders;
}

const format = zodResponseFormat(modelOutputSchema, 'dashboard_summary');

function headerNumber(headers: Headers, name: string): number | undefined {
  const value = headers.get(name);
  const n = value === null ? Number.NaN : Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function durationHeader(headers: Headers, name: string): number | undefined {
  const value = headers.get(name);
  return (value === null ? null : parseResetDuration(value)) ?? undefined;
}

/** The checks a reply must pass before it is served; exported so the grounding corpus measures exactly these. */
export function review(
  output: ModelOutput,
  enriched: EnrichedDashboard,
  prompt: Prompt,
  grounding: GroundingReport,
): ModelReply['problem'] {
  const known = new Set([
    ...enriched.widgets.map((w) => w.widgetId),
    ...enriched.missing.map((m) => m.widgetId),
  ]);
  const unknown = [
    ...output.insights.flatMap((i) => i.widgetIds),
    ...output.anomalies.map((a) => a.widgetId),
  ].filter((id) => !known.has(id));
  if (unknown.length > 0)
    return { kind: 'invalid', detail: `refers to unknown widgets: ${unknown.join(', ')}` };
  const texts = [
    output.headline,
    ...output.insights.map((i) => i.text),
    ...output.anomalies.map((a) => a.description),
    ...output.recommendations,
  ];
  const unsafe = textProblem(texts, prompt.system);
  if (unsafe) return { kind: 'unsafe', detail: unsafe };
  if (!grounding.grounded) {
    return {
      kind: 'ungrounded',
      detail: `claims the data does not support: ${grounding.ungrounded.slice(0, 5).join(', ')}`,
    };
  }
  return null;
}

/** One call to one model: the request, then validation, safety and grounding of the reply. Errors propagate. */
export async function callModel(
  client: OpenAI,
  llm: Config['llm'],
  prompt: Prompt,
  model: string,
  enriched: EnrichedDashboard,
  stricter: string | null,
  signal?: AbortSignal,
): Promise<ModelReply> {
  const request = {
    model,
    baseUrl: llm.baseUrl,
    maxTokens: llm.maxOutputTokens,
    temperature: llm.temperature,
  };
  const { data, response } = await traceModelCall(request, () =>
    client.chat.completions
      .create(
        {
          model,
          messages: buildMessages(prompt, enriched, stricter),
          response_format: format,
          max_tokens: llm.maxOutputTokens,
          temperature: llm.temperature,
        },
        { ...(signal ? { signal } : {}), timeout: llm.timeoutMs },
      )
      .withResponse(),
  );
  const headers = response.headers;
  const rateLimits: RateLimitHeaders = {};
  const entries: [keyof RateLimitHeaders, number | undefined][] = [
    ['remainingRequests', headerNumber(headers, 'x-ratelimit-remaining-requests')],
    ['remainingTokens', headerNumber(headers, 'x-ratelimit-remaining-tokens')],
    ['resetRequestsMs', durationHeader(headers, 'x-ratelimit-reset-requests')],
    ['resetTokensMs', durationHeader(headers, 'x-ratelimit-reset-tokens')],
  ];
  for (const [name, value] of entries) if (value !== undefined) rateLimits[name] = value;
  const usage: TokenUsage = {
    promptTokens: data.usage?.prompt_tokens ?? 0,
    cachedTokens: data.usage?.prompt_tokens_details?.cached_tokens ?? 0,
    completionTokens: data.usage?.completion_tokens ?? 0,
  };
  const served = data.model || model;
  const text = data.choices[0]?.message.content ?? '';
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return {
      model: served,
      usage,
      content: null,
      problem: { kind: 'invalid', detail: 'reply is not JSON' },
      rateLimits,
    };
  }
  const parsed = modelOutputSchema.safeParse(json);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    return {
      model: served,
      usage,
      content: null,
      problem: { kind: 'invalid', detail: `reply breaks the schema: ${detail}` },
      rateLimits,
    };
  }
  const grounding = checkGrounding(parsed.data, modelInput(enriched));
  return {
    model: served,
    usage,
    content: { ...parsed.data, grounding: groundingRecord(grounding) },
    problem: review(parsed.data, enriched, prompt, grounding),
    rateLimits,
  };
}
