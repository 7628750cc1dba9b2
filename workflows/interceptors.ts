/**
 * The workflow interceptors module, always in the workflow bundle (src/tracing/temporal.ts): OpenTelemetry tracing
 * of the dashboard workflow, see workflows/tracing-run.ts.
 *
 * Only a run started with a trace context (the ingest's signal-with-start with tracing on, or a continue-as-new of
 * such a run) is traced. Any other run, and every history recorded before tracing existed, runs exactly as without
 * this module: no span, no header, no extra step, so replay and an untraced worker's cost are unchanged. This module
 * imports nothing of OpenTelemetry: its modules are loaded into a workflow's sandbox only when the run is traced.
 */
import type {
  ActivityInput,
  ContinueAsNewInput,
  DisposeInput,
  GetLogAttributesInput,
  LocalActivityInput,
  Next,
  SignalInput,
  WorkflowExecuteInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
  WorkflowInternalsInterceptor,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import type { RunTracing } from './tracing-run';

/**
 * The header Temporal's OpenTelemetry interceptors carry the trace context in (their TRACE_HEADER; a unit test
 * holds the two equal). Not imported from them: that would load OpenTelemetry into every workflow.
 */
export const TRACE_HEADER = '_tracer-data';

function traceRun(input: WorkflowExecuteInput): RunTracing {
  // A static require, so the bundler includes the module; evaluated only here, for a traced run.
  const { RunTracing: Traced } = require('./tracing-run') as typeof import('./tracing-run');
  return new Traced(input);
}

/** Set once, when the run starts: traced when its start carried a trace context. */
interface RunState {
  tracing: RunTracing | null;
}

class TracingInbound implements WorkflowInboundCallsInterceptor {
  constructor(private readonly run: RunState) {}

  execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>) {
    if (!(TRACE_HEADER in input.headers)) return next(input);
    const tracing = traceRun(input);
    this.run.tracing = tracing;
    return tracing.execute(input, next);
  }

  handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>) {
    return this.run.tracing ? this.run.tracing.handleSignal(input, next) : next(input);
  }
}

class TracingOutbound implements WorkflowOutboundCallsInterceptor {
  constructor(private readonly run: RunState) {}

  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
    return this.run.tracing ? this.run.tracing.scheduleActivity(input, next) : next(input);
  }

  scheduleLocalActivity(
    input: LocalActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
  ) {
    return this.run.tracing ? this.run.tracing.scheduleLocalActivity(input, next) : next(input);
  }

  continueAsNew(input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>) {
    return this.run.tracing ? this.run.tracing.continueAsNew(input, next) : next(input);
  }

  getLogAttributes(
    input: GetLogAttributesInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>,
  ) {
    return this.run.tracing ? this.run.tracing.getLogAttributes(input, next) : next(input);
  }
}

class TracingInternals implements WorkflowInternalsInterceptor {
  constructor(private readonly run: RunState) {}

  dispose(input: DisposeInput, next: Next<WorkflowInternalsInterceptor, 'dispose'>): void {
    if (this.run.tracing) this.run.tracing.dispose(input, next);
    else next(input);
  }
}

/** One set per workflow: its inbound, outbound and internals interceptors share the run's state. */
export const interceptors = (): WorkflowInterceptors => {
  const run: RunState = { tracing: null };
  return {
    inbound: [new TracingInbound(run)],
    outbound: [new TracingOutbound(run)],
    internals: [new TracingInternals(run)],
  };
};
