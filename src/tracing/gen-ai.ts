import { type Attributes, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

/** What the model call's span records of the request: never the prompt, the data or the reply's text. */
export interface ModelCallRequest {
  model: string;
  baseUrl: string | undefined;
  maxTokens: number;
  temperature: number;
}

/** The parts of a chat completion the span records (the SDK's ChatCompletion has them). */
export interface ModelCallReply {
  id?: string;
  model?: string;
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  choices: { finish_reason: string | null }[];
}

function server(baseUrl: string | undefined): Attributes {
  const url = new URL(baseUrl ?? 'https://api.openai.com/v1');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { 'server.address': url.hostname, 'server.port': port };
}

/**
 * Runs one model call in a `chat <model>` span with OpenTelemetry's GenAI attributes (model, tokens, finish
 * reasons). Without tracing (no provider registered) the span is a no-op.
 */
export async function traceModelCall<T extends { data: ModelCallReply }>(
  request: ModelCallRequest,
  call: () => Promise<T>,
): Promise<T> {
  const tracer = trace.getTracer('precis-llm');
  return tracer.startActiveSpan(
    `chat ${request.model}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.system': 'openai',
        'gen_ai.request.model': request.model,
        'gen_ai.request.max_tokens': request.maxTokens,
        'gen_ai.request.temperature': request.temperature,
        ...server(request.baseUrl),
      },
    },
    async (span) => {
      try {
        const result = await call();
        const { data } = result;
        span.setAttributes({
          ...(data.id ? { 'gen_ai.response.id': data.id } : {}),
          ...(data.model ? { 'gen_ai.response.model': data.model } : {}),
          'gen_ai.response.finish_reasons': data.choices.map((choice) => choice.finish_reason ?? 'unknown'),
          ...(data.usage
            ? {
                'gen_ai.usage.input_tokens': data.usage.prompt_tokens,
                'gen_ai.usage.output_tokens': data.usage.completion_tokens,
              }
            : {}),
        });
        return result;
      } catch (error) {
        // The error's class (and HTTP status when there is one), not its message: a provider may echo the input.
        const status =
          typeof error === 'object' && error !== null && 'status' in error ? error.status : undefined;
        const type = error instanceof Error ? error.constructor.name : 'Error';
        span.setAttribute('error.type', typeof status === 'number' ? String(status) : type);
        span.setStatus({ code: SpanStatusCode.ERROR, message: type });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
