import {
  type Context,
  context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { Config } from '../config';

/** Reads W3C `traceparent` / `tracestate` (and baggage) from kafkajs headers, whose values may be Buffers. */
const kafkaHeaders: TextMapGetter<IHeaders | undefined> = {
  keys: (carrier) => Object.keys(carrier ?? {}),
  get: (carrier, key) => {
    const value = carrier?.[key];
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value.map(String) : String(value);
  },
};

/** The producer's trace context carried in a message's headers; the root context when it carried none. */
export function contextFromHeaders(headers: IHeaders | undefined): Context {
  return propagation.extract(ROOT_CONTEXT, headers, kafkaHeaders);
}

/** Headers that carry the active trace context to whoever consumes the message (empty when nothing is traced). */
export function traceHeaders(from: Context = context.active()): Record<string, string> {
  const headers: Record<string, string> = {};
  propagation.inject(from, headers);
  return headers;
}

/**
 * A producer's span for one message and the headers that carry it (`traceparent`): the message's consumer joins
 * its trace. Without tracing the span is a no-op and the headers are empty.
 */
export function startSendSpan(
  topic: string,
  attributes: Record<string, string>,
): { span: Span; headers: Record<string, string> } {
  const span = trace.getTracer('precis-producer').startSpan('precis.send', {
    kind: SpanKind.PRODUCER,
    attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': topic, ...attributes },
  });
  return { span, headers: traceHeaders(trace.setSpan(ROOT_CONTEXT, span)) };
}

/** The event a valid message carried, for its span's attributes. */
export interface TracedEvent {
  dashboardId: string;
  eventId: string;
}

/**
 * The ingest's spans: one `precis.ingest` span per Kafka message (a child of the producer's span when the message
 * carried a `traceparent`, else the root of a new trace), open until the message is settled (handed over,
 * dropped as a duplicate or dead-lettered); and one `precis.handover` span per signal-with-start, which joins the
 * trace of the first event it carries and links every other (a hand-over carries a dashboard's events of a whole
 * Kafka batch). Temporal's client interceptor makes its SignalWithStartWorkflow span a child of the hand-over,
 * and the trace context travels on in the signal's headers, into the workflow.
 */
export interface IngestTracing {
  received(topic: string, partition: number, message: KafkaMessage, event: TracedEvent | undefined): void;
  duplicate(message: KafkaMessage): void;
  deadLettered(message: KafkaMessage): void;
  handOver<T>(dashboardId: string, messages: KafkaMessage[], call: () => Promise<T>): Promise<T>;
  /** Ends the spans of a batch's messages; `error` when the batch was abandoned uncommitted (it comes again). */
  settled(messages: KafkaMessage[], error?: unknown): void;
}

/** Tracing off: no span, no allocation per message. */
const OFF: IngestTracing = {
  received: () => undefined,
  duplicate: () => undefined,
  deadLettered: () => undefined,
  handOver: (_dashboardId, _messages, call) => call(),
  settled: () => undefined,
};

export function createIngestTracing(config: Config): IngestTracing {
  return config.tracing.mode === 'off' ? OFF : new IngestSpans(trace.getTracer('precis-ingest'), config);
}

/** Links a span accepts (the SDK's default limit): past it, the hand-over counts the events it did not link. */
const MAX_LINKS = 128;

class IngestSpans implements IngestTracing {
  /** Keyed by the message object: the batch's own bookkeeping stays as it is, and nothing outlives the batch. */
  private readonly spans = new WeakMap<KafkaMessage, Span>();

  constructor(
    private readonly tracer: Tracer,
    private readonly config: Config,
  ) {}

  received(topic: string, partition: number, message: KafkaMessage, event: TracedEvent | undefined): void {
    const span = this.tracer.startSpan(
      'precis.ingest',
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'process',
          'messaging.destination.name': topic,
          'messaging.destination.partition.id': String(partition),
          'messaging.consumer.group.name': this.config.kafka.groupId,
          'messaging.kafka.offset': Number(message.offset),
          ...(event ? { 'precis.dashboard.id': event.dashboardId, 'precis.event.id': event.eventId } : {}),
        },
      },
      contextFromHeaders(message.headers),
    );
    this.spans.set(message, span);
  }

  duplicate(message: KafkaMessage): void {
    this.spans.get(message)?.setAttribute('precis.ingest.outcome', 'duplicate');
  }

  deadLettered(message: KafkaMessage): void {
    // The reason may quote the event (PII): it stays in the dead letter, the span only says that it happened.
    const span = this.spans.get(message);
    span?.setAttribute('precis.ingest.outcome', 'dead-lettered');
    span?.setStatus({ code: SpanStatusCode.ERROR, message: 'dead-lettered' });
  }

  async handOver<T>(dashboardId: string, messages: KafkaMessage[], call: () => Promise<T>): Promise<T> {
    const spans = messages.flatMap((message) => this.spans.get(message) ?? []);
    const [first, ...others] = spans;
    const parent = first ? trace.setSpan(ROOT_CONTEXT, first) : ROOT_CONTEXT;
    const links: Link[] = others.slice(0, MAX_LINKS).map((span) => ({ context: span.spanContext() }));
    const handover = this.tracer.startSpan(
      'precis.handover',
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'precis.dashboard.id': dashboardId,
          'precis.handover.events': messages.length,
          'precis.handover.unlinked_events': Math.max(0, others.length - MAX_LINKS),
        },
        links,
      },
      parent,
    );
    // The way back: each event's own trace points at the hand-over that carried it on.
    for (const span of others) span.addLink({ context: handover.spanContext() });
    try {
      const result = await context.with(trace.setSpan(parent, handover), call);
      for (const span of spans) span.setAttribute('precis.ingest.outcome', 'handed-over');
      return result;
    } catch (error) {
      handover.recordException(error instanceof Error ? error : String(error));
      handover.setStatus({ code: SpanStatusCode.ERROR, message: 'refused by Temporal' });
      throw error;
    } finally {
      handover.end();
    }
  }

  settled(messages: KafkaMessage[], error?: unknown): void {
    for (const message of messages) {
      const span = this.spans.get(message);
      if (!span) continue;
      if (error !== undefined) {
        span.setAttribute('precis.ingest.outcome', 'abandoned');
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'batch left uncommitted' });
      }
      span.end();
      this.spans.delete(message);
    }
  }
}
