import { hostname } from 'node:os';
import { context, DiagLogLevel, diag, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { envDetectorSync, Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Config } from '../config';
import type { Logger } from '../log';
import { beforeFatalExitDo } from '../process';

/** The default service name of each precis process (OTEL_SERVICE_NAME overrides it). */
export type PrecisService =
  | 'precis-api'
  | 'precis-ingest'
  | 'precis-pipeline'
  | 'precis-llm'
  | 'precis-demo-producer';

/** A process's tracing: what the Temporal worker needs for workflow spans, and the flush on the way out. */
export interface Tracing {
  readonly enabled: boolean;
  /**
   * Where finished spans go. Workflow spans are made inside the workflow sandbox and handed out through a sink;
   * the pipeline worker gives them to this processor, so they leave in the same batches as every other span.
   */
  readonly processor?: SpanProcessor;
  readonly resource?: Resource;
  /** Sends what is still buffered and stops tracing; resolves even when the collector is unreachable. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = { enabled: false, shutdown: async () => undefined };

/** The URL spans are POSTed to, by the OpenTelemetry rules for OTLP/HTTP endpoints. */
export function tracesUrl(tracing: Config['tracing']): string {
  if (tracing.tracesEndpoint) return tracing.tracesEndpoint;
  const base = tracing.endpoint ?? 'http://localhost:4318';
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

interface Installed {
  provider: NodeTracerProvider;
  processor: SpanProcessor;
  resource: Resource;
  users: number;
}

/**
 * The process's provider. Tests build several precis services in one process: they share the first one's
 * provider (one global per process is all OpenTelemetry allows), and the last to shut down flushes it.
 */
let installed: Installed | null = null;

/**
 * Builds and registers this process's tracer provider, once, from the configuration: with PRECIS_TRACING=off
 * (the default) nothing is registered and every span made through the API is a no-op. With `otlp`, spans are
 * batched (BatchSpanProcessor: a full queue drops spans, it never blocks the pipeline) and POSTed as OTLP/JSON.
 */
export function startTracing(config: Config, service: PrecisService, logger: Logger): Tracing {
  if (config.tracing.mode === 'off') return OFF;
  if (!installed) installed = install(config, service, logger);
  const current = installed;
  current.users++;
  let stopped = false;
  // A process that dies of a fatal error still sends the spans that tell how it got there.
  const removeFlush = beforeFatalExitDo(() => current.provider.forceFlush());
  return {
    enabled: true,
    processor: current.processor,
    resource: current.resource,
    shutdown: async () => {
      if (stopped) return;
      stopped = true;
      removeFlush();
      current.users--;
      if (current.users > 0) return;
      if (installed === current) installed = null;
      try {
        await current.provider.shutdown();
      } catch (error) {
        logger.warn({ err: error }, 'tracing: spans could not be flushed at shutdown');
      }
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

function install(config: Config, service: PrecisService, logger: Logger): Installed {
  // The exporter reports failed exports through OpenTelemetry's diagnostics, silent unless a logger is set.
  const child = logger.child({ source: 'opentelemetry' });
  diag.setLogger(
    {
      error: (message, ...args) => child.error({ args }, message),
      warn: (message, ...args) => child.warn({ args }, message),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const resource = Resource.default()
    .merge(envDetectorSync.detect()) // OTEL_RESOURCE_ATTRIBUTES
    .merge(
      new Resource({
        [ATTR_SERVICE_NAME]: config.tracing.serviceName ?? service,
        'service.namespace': 'precis',
        'service.instance.id': `${hostname()}:${process.pid}`,
      }),
    );
  // OTEL_EXPORTER_OTLP_HEADERS / _TIMEOUT and OTEL_BSP_* are read by the exporter and the processor themselves.
  const processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(config.tracing) }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // AsyncLocalStorage context, W3C trace context and baggage propagation.
  provider.register();
  logger.info(
    { endpoint: tracesUrl(config.tracing), service: config.tracing.serviceName ?? service },
    'tracing on',
  );
  return { provider, processor, resource, users: 0 };
}
