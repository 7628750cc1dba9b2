/**
 * The tracing of one traced workflow run. workflows/interceptors.ts loads this module only for a run started with a
 * trace context: OpenTelemetry's modules would otherwise be evaluated in every workflow's sandbox, traced or not.
 *
 * A traced run has Temporal's spans (RunWorkflow, HandleSignal per hand-over, StartActivity per activity), made
 * inside the sandbox and handed out through the `exporter` sink, and one `precis.summary` span per summary attempt:
 * from gather (planRun in runs begun before gather-v1) to the end of deliver, or of prepare when it delivered, with
 * every activity of the attempt under it. A summary folds the hand-overs that arrived since the previous one, so the summary span is a child of the first of them (it continues that
 * event's trace: one event, one trace, from ingest to store) and links every other hand-over and, when it is in
 * another trace, the workflow run. An attempt that makes no summary passes its hand-overs on to the next attempt,
 * as the workflow puts its events back.
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
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
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
  WorkflowInternalsInterceptor,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { eventsArrivedSignal, eventsHandedOverSignal } from './signals';

/**
 * The activities that open a summary attempt (planRun before gather-v1, gather since), the one whose end closes it,
 * and the one that closes it when it delivered itself (prepare, when no model call was needed).
 */
const OPENS_SUMMARY = new Set<string>(['planRun', 'gather'] satisfies (keyof Activities)[]);
const CLOSES_SUMMARY: keyof Activities = 'deliver';
const CLOSES_SUMMARY_WHEN_DELIVERED: keyof Activities = 'prepare';
const HANDOVER_SIGNALS = new Set([eventsHandedOverSignal.name, eventsArrivedSignal.name]);

/** Links one span keeps (the SDK's default limit). */
const MAX_LINKS = 128;

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function dashboardIdOf(input: WorkflowExecuteInput): string | undefined {
  const [first] = input.args;
  return typeof first === 'object' &&
    first !== null &&
    'dashboardId' in first &&
    typeof first.dashboardId === 'string'
    ? first.dashboardId
    : undefined;
}

/** One traced run: Temporal's interceptors, wrapped so that a summary attempt's activities hang under its span. */
export class RunTracing {
  private readonly inbound = new OpenTelemetryInboundInterceptor();
  private readonly outbound = new OpenTelemetryOutboundInterceptor();
  private readonly internals = new OpenTelemetryInternalsInterceptor();
  /** Registered by Temporal's interceptors above, inside this workflow's sandbox. */
  private readonly tracer: Tracer = trace.getTracer('precis-workflow');
  private readonly dashboardId: string | undefined;
  /** Hand-overs taken since the last summary attempt began, oldest first. */
  private handovers: Link[] = [];
  private summary: { span: Span; context: Context; handovers: Link[] } | null = null;

  constructor(input: WorkflowExecuteInput) {
    this.dashboardId = dashboardIdOf(input);
  }

  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>) {
    try {
      return await this.inbound.execute(input, next);
    } finally {
      this.endSummary(new Error('the run ended during the attempt'));
    }
  }

  handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>) {
    return this.inbound.handleSignal(input, async (signal) => {
      // Inside the signal's HandleSignal span: remembered for the next summary.
      const span = HANDOVER_SIGNALS.has(signal.signalName) ? trace.getSpan(context.active()) : undefined;
      if (span) this.handovers.push({ context: span.spanContext() });
      return next(signal);
    });
  }

  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
    return this.inSummary(() => this.outbound.scheduleActivity(input, next));
  }

  scheduleLocalActivity(
    input: LocalActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
  ) {
    if (OPENS_SUMMARY.has(input.activityType)) this.beginSummary();
    const result = this.inSummary(() => this.outbound.scheduleLocalActivity(input, next));
    if (input.activityType === CLOSES_SUMMARY)
      result.then(
        () => this.endSummary(),
        (error: unknown) => this.endSummary(error),
      );
    else if (input.activityType === CLOSES_SUMMARY_WHEN_DELIVERED)
      result.then(
        (prepared: unknown) => {
          if (typeof prepared === 'object' && prepared !== null && 'delivered' in prepared) this.endSummary();
        },
        () => undefined,
      );
    return result;
  }

  /** The next run is traced too: it gets the trace context in its start headers. */
  continueAsNew(input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>) {
    return this.outbound.continueAsNew(input, next);
  }

  /** Workflow log lines of a traced run carry trace_id and span_id. */
  getLogAttributes(
    input: GetLogAttributesInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>,
  ) {
    return this.outbound.getLogAttributes(input, next);
  }

  dispose(input: DisposeInput, next: Next<WorkflowInternalsInterceptor, 'dispose'>): void {
    void this.internals.dispose(input, next);
  }

  private inSummary<T>(schedule: () => Promise<T>): Promise<T> {
    return this.summary ? context.with(this.summary.context, schedule) : schedule();
  }

  private beginSummary(): void {
    // The previous attempt made no summary (it never reached deliver): its hand-overs wait for this one.
    this.endSummary(new Error('the attempt made no summary'));
    const handovers = this.handovers;
    this.handovers = [];
    const run = context.active();
    const [first] = handovers;
    const parent = first ? trace.setSpanContext(run, first.context) : run;
    const runSpan = trace.getSpan(run)?.spanContext();
    const links = handovers.slice(1);
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

  private endSummary(error?: unknown): void {
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
