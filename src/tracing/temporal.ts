import type { ClientInterceptors } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import { TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type {
  ActivityInterceptorsFactory,
  InjectedSinks,
  ReplayWorkerOptions,
  WorkerOptions,
} from '@temporalio/worker';
import type { Config } from '../config';
import type { Tracing } from './provider';

/**
 * The workflow interceptors module, bundled with the workflow code (scripts/bundle-workflows.ts at build time,
 * the worker's own bundling from sources). It is always in the bundle; it traces only workflows started with a
 * trace context (see workflows/interceptors.ts), so a bundle serves workers with tracing on and off alike.
 */
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('../../workflows/interceptors')];

/** Temporal's client interceptor: signal-with-start (and every other call) carries the active trace context. */
export function tracingClientInterceptors(config: Config): ClientInterceptors | undefined {
  return config.tracing.mode === 'off'
    ? undefined
    : { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

/**
 * Activity spans (RunActivity:<type>, local activities included), children of the workflow's StartActivity span.
 * Only activities whose workflow passed a trace context are traced: one of a workflow that was not started from a
 * traced event would otherwise begin a trace of its own, about nothing.
 */
function activityInterceptors(): ActivityInterceptorsFactory[] {
  return [
    (ctx) => {
      const traced = new OpenTelemetryActivityInboundInterceptor(ctx);
      return {
        inbound: {
          execute: (input, next) =>
            TRACE_HEADER in input.headers ? traced.execute(input, next) : next(input),
        },
        outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
      };
    },
  ];
}

/** The LLM worker's tracing: its model activity's span, parent of the model call's own span. */
export function activityWorkerTracing(tracing: Tracing): Pick<WorkerOptions, 'interceptors'> {
  return tracing.enabled ? { interceptors: { activity: activityInterceptors() } } : {};
}

/**
 * The pipeline worker's tracing: activity spans, and the sink through which the workflow sandbox hands out its
 * spans. With tracing off the workflow code has no interceptors (the bundle without OpenTelemetry, see
 * scripts/bundle-workflows.ts): a run started by a traced ingest then makes no workflow spans on this worker, and
 * its commands are the same, so it replays either way. `bundling`: the worker bundles the workflows itself (from
 * sources), so the interceptors module must be named; a prebuilt bundle is chosen by the caller.
 */
export function pipelineWorkerTracing(
  tracing: Tracing,
  bundling: boolean,
): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  return {
    sinks: workflowSpanSinks(tracing),
    interceptors: {
      ...(tracing.enabled ? { activity: activityInterceptors() } : {}),
      ...(bundling && tracing.enabled ? { workflowModules: WORKFLOW_INTERCEPTOR_MODULES } : {}),
    },
  };
}

function workflowSpanSinks(tracing: Tracing): InjectedSinks<OpenTelemetrySinks> {
  return {
    exporter:
      tracing.processor && tracing.resource
        ? makeWorkflowExporter(tracing.processor, tracing.resource)
        : { export: { fn: () => undefined } },
  };
}

/** A replay worker's options: the workflow interceptors as in production, and a sink for spans (none leave). */
export function replayWorkerTracing(): Pick<ReplayWorkerOptions, 'interceptors' | 'sinks'> {
  return {
    sinks: workflowSpanSinks({ enabled: false, shutdown: async () => undefined }),
    interceptors: { workflowModules: WORKFLOW_INTERCEPTOR_MODULES },
  };
}
