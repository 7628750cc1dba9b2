/**
 * The workflow interceptors module (bundled with the workflows, see src/tracing/temporal.ts): OpenTelemetry spans
 * for a dashboard's workflow, made inside the sandbox and handed out through the `exporter` sink.
 *
 * Only a run started with a trace context (the ingest's signal-with-start with tracing on, or a continue-as-new of
 * such a run) is traced. Any other run, and every history recorded before tracing existed, runs exactly as without
 * this module: no span, no header, no extra step, so replay and an untraced worker's cost are unchanged.
 *
 * A traced run has Temporal's spans (RunWorkflow, HandleSignal per hand-over, StartActivity per activity) and one
 * `precis.summary` span per summary attempt: from planRun to the end of deliver, with every activity of the
 * attempt under it. A summary folds the hand-overs that arrived since the previous one, so the summary span is a
 * child of the first of them (it continues that event's trace: one event, one trace, from ingest to store) and
 * links every other hand-over and, when it is in another trace, the workflow run. An attempt that makes no summary
 * passes its hand-overs on to the next attempt, as the workflow puts its events back.
 */
import {
  type Context,
  context,
  type Link,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type {
  ActivityInput,
  ContinueAsNewInput,
  GetLogAttributesInput,
  LocalActivityInput,
  Next,
  SignalInput,
  WorkflowExecuteInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { eventsArrivedSignal, eventsHandedOverSignal } from './signals';

/** The activity that opens a summary attempt, and the one whose end closes it. */
const OPENS_SUMMARY: keyof Activities = 'planRun';
const CLOSES_SUMMARY: keyof Activities = 'deliver';
const HANDOVER_SIGNALS = new Set([eventsHandedOverSignal.name, eventsArrivedSignal.name]);

/** Links one span keeps (the SDK's default limit). */
const MAX_LINKS = 128;

/** One workflow's tracing state, shared by its inbound and outbound interceptors (one per workflow). */
class RunTracing {
  inbound: OpenTelemetryInboundInterceptor | null = null;
  outbound: OpenTelemetryOutboundInterceptor | null = null;
  private tracer: Tracer | null = null;
  /** Hand-overs taken since the last summary attempt began, oldest first. */
  private handovers: Link[] = [];
  private summary: { span: Span; context: Context; handovers: Link[] } | null = null;
  private dashboardId: string | undefined;

  get traced(): boolean {
    return this.inbound !== null;
  }

  /** Called once, when the run starts: traced when its start carried a trace context. */
  start(input: WorkflowExecuteInput): void {
    if (!(TRACE_HEADER in input.headers)) return;
    this.inbound = new OpenTelemetryInboundInterceptor();
    this.outbound = new OpenTelemetryOutboundInterceptor();
    // Registered by Temporal's interceptors above, inside this workflow's sandbox.
    this.tracer = trace.getTracer('precis-workflow');
    const [first] = input.args;
    if (
      typeof first === 'object' &&
      first !== null &&
      'dashboardId' in first &&
      typeof first.dashboardId === 'string'
    )
      this.dashboardId = first.dashboardId;
  }

  /** Inside a hand-over signal's HandleSignal span: remembered for the next summary. */
  noteHandover(): void {
    const span = trace.getSpan(context.active());
    if (span) this.handovers.push({ context: span.spanContext() });
  }

  beginSummary(): void {
    if (!this.tracer) return;
    // The previous attempt made no summary (it never reached deliver): its hand-overs wait for this one.
    this.endSummary(new Error('the attempt made no summary'));
    const handovers = this.handovers;
    this.handovers = [];
    const run = context.active();
    const [first] = handovers;
    const parent = first ? trace.setSpanContext(run, first.context) : run;
    const runSpan = trace.getSpan(run)?.spanContext();
    const links = handovers.slice(first ? 1 : 0);
    if (first && runSpan && runSpan.traceId !== first.context.traceId)
      links.push({ context: runSpan, attributes: { 'precis.link': 'workflow-run' } });
    const info = workflowInfo();
    const span = this.tracer.startSpan(
      'precis.summary',
      {
        attributes: {
          ...(this.dashboardId ? { 'precis.dashboard.id': this.dashboardId } : {}),
          'precis.summary.handovers': handovers.length,
          temporalWorkflowId: info.workflowId,
          run_id: info.runId,
        },
        links: links.slice(0, MAX_LINKS),
      },
      parent,
    );
    this.summary = { span, context: trace.setSpan(parent, span), handovers };
  }

  /** The context activities of the current attempt are scheduled in. */
  get summaryContext(): Context | undefined {
    return this.summary?.context;
  }

  endSummary(error?: unknown): void {
    const summary = this.summary;
    if (!summary) return;
    this.summary = null;
    if (error === undefined) {
      summary.span.setStatus({ code: SpanStatusCode.OK });
    } else {
      summary.span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
      this.handovers = [...summary.handovers, ...this.handovers];
    }
    summary.span.end();
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class TracingInbound implements WorkflowInboundCallsInterceptor {
  constructor(private readonly run: RunTracing) {}

  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>) {
    this.run.start(input);
    if (!this.run.inbound) return next(input);
    try {
      return await this.run.inbound.execute(input, next);
    } finally {
      this.run.endSummary(new Error('the run ended during the attempt'));
    }
  }

  async handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>) {
    if (!this.run.inbound) return next(input);
    return this.run.inbound.handleSignal(input, async (signal) => {
      if (HANDOVER_SIGNALS.has(signal.signalName)) this.run.noteHandover();
      return next(signal);
    });
  }
}

/** Runs before Temporal's outbound interceptor, so that its StartActivity spans are children of the summary. */
class TracingOutbound implements WorkflowOutboundCallsInterceptor {
  constructor(private readonly run: RunTracing) {}

  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
    const otel = this.run.outbound;
    if (!otel) return next(input);
    return this.inSummary(() => otel.scheduleActivity(input, next));
  }

  scheduleLocalActivity(
    input: LocalActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
  ) {
    const otel = this.run.outbound;
    if (!otel) return next(input);
    if (input.activityType === OPENS_SUMMARY) this.run.beginSummary();
    const result = this.inSummary(() => otel.scheduleLocalActivity(input, next));
    if (input.activityType === CLOSES_SUMMARY)
      result.then(
        () => this.run.endSummary(),
        (error: unknown) => this.run.endSummary(error),
      );
    return result;
  }

  /** The next run is traced too: it gets the trace context in its start headers. */
  continueAsNew(input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>) {
    const otel = this.run.outbound;
    return otel ? otel.continueAsNew(input, next) : next(input);
  }

  /** Workflow log lines of a traced run carry trace_id and span_id. */
  getLogAttributes(
    input: GetLogAttributesInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>,
  ) {
    const otel = this.run.outbound;
    return otel ? otel.getLogAttributes(input, next) : next(input);
  }

  private inSummary<T>(schedule: () => Promise<T>): Promise<T> {
    const summary = this.run.summaryContext;
    return summary ? context.with(summary, schedule) : schedule();
  }
}

export const interceptors = (): WorkflowInterceptors => {
  const run = new RunTracing();
  return {
    inbound: [new TracingInbound(run)],
    outbound: [new TracingOutbound(run)],
    internals: [new OpenTelemetryInternalsInterceptor()],
  };
};
