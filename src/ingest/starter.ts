import { type Client, isGrpcServiceError, WorkflowIdReusePolicy } from '@temporalio/client';
import { NamespaceNotFoundError } from '@temporalio/common';
import { dashboardWorkflow, eventsArrivedSignal, eventsHandedOverSignal } from '../../workflows/dashboard';
import { DashboardIdKey } from '../../workflows/search-attributes';
import { duration } from '../../workflows/ui-details';
import type { Config } from '../config';
import { type Dashboard, durationMs, type Source } from '../domain/dashboard';
import type { EventsHandover, PendingEvent } from '../domain/event';

export function dashboardWorkflowId(config: Config, dashboardId: string): string {
  return `${config.temporal.workflowIdPrefix}${dashboardId}`;
}

/**
 * Signal-with-start on the dashboard's workflow: signals the open run, or starts one with the signal (atomic on
 * the server, so no event can fall between "is it running?" and "start it").
 *
 * Id reuse policy ALLOW_DUPLICATE: a completed run must never block the next change of the same dashboard.
 * Conflict: signal-with-start always joins the open run, which is what folds a burst into one summary.
 */
function startOptions(config: Config, dashboard: Dashboard): StartOptions {
  // Built once per dashboard and configuration, not per hand-over: the static details are markdown that only the
  // call which starts a run uses, and dashboards do not change while the process runs.
  const cached = startOptionsCache.get(dashboard);
  if (cached?.config === config) return cached.options;
  const options = buildStartOptions(config, dashboard);
  startOptionsCache.set(dashboard, { config, options });
  return options;
}

type StartOptions = ReturnType<typeof buildStartOptions>;
const startOptionsCache = new WeakMap<Dashboard, { config: Config; options: StartOptions }>();

function buildStartOptions(config: Config, dashboard: Dashboard) {
  const quiet = dashboard.refresh.quietPeriod;
  const maxDelay = dashboard.refresh.maxDelay;
  const quietPeriodMs = quiet ? durationMs(quiet) : config.pipeline.quietPeriodMs;
  const maxDelayMs = maxDelay ? durationMs(maxDelay) : config.pipeline.maxDelayMs;
  return {
    workflowId: dashboardWorkflowId(config, dashboard.id),
    taskQueue: config.temporal.taskQueue,
    args: [
      {
        dashboardId: dashboard.id,
        quietPeriodMs,
        maxDelayMs,
      },
    ] as Parameters<typeof dashboardWorkflow>,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [{ key: DashboardIdKey, value: dashboard.id }],
    staticSummary: `Summarize dashboard **${dashboard.title}** (\`${dashboard.id}\`)`,
    staticDetails: staticDetails(dashboard, quietPeriodMs, maxDelayMs),
  };
}

/** Where a widget's data comes from, without what may be secret (URLs' paths and queries, headers, SQL). */
function sourceLabel(source: Source): string {
  switch (source.type) {
    case 'http':
      return `http (${new URL(source.url).host})`;
    case 'postgres':
      return `postgres (${source.database})`;
    default:
      return source.type;
  }
}

/** Markdown cells must not break the table. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s+/g, ' ');
}

/**
 * The run's static details in the Temporal UI (markdown): what the dashboard is, its widgets and their sources, and
 * the timing of its summaries. Temporal sets them only when the start creates the run; a run begun by
 * continue-as-new has none (SDK 1.24 cannot pass them there), and its current details describe the dashboard.
 */
export function staticDetails(dashboard: Dashboard, quietPeriodMs: number, maxDelayMs: number): string {
  const lines = [`### ${dashboard.title}`, ''];
  if (dashboard.description) lines.push(dashboard.description, '');
  lines.push(
    `Summaries ${quietPeriodMs > 0 ? `${duration(quietPeriodMs)} after the latest change (quiet period)` : 'as soon as data changes'}, at the latest ${duration(maxDelayMs)} after the first pending change (max delay). Timezone ${dashboard.timezone}.`,
    '',
    '| Widget | Kind | Unit | Source |',
    '| --- | --- | --- | --- |',
    ...dashboard.widgets.map(
      (w) => `| ${cell(w.title)} | ${w.kind} | ${cell(w.unit || '–')} | ${cell(sourceLabel(w.source))} |`,
    ),
  );
  return lines.join('\n');
}

/**
 * What a refused hand-over means for the caller:
 * - `transient`: Temporal is unreachable, slow or rate limiting: the same call will succeed later, retry it.
 * - `too-large`: this call carries too much for Temporal's size limits: fewer events per call may pass.
 * - `rejected`: Temporal will never accept these events as they are (dead-letter them, with the reason).
 * - `fatal`: nothing this process sends will be accepted (unknown namespace, no permission): only an operator can
 *   fix it, so the process must stop loudly instead of retrying in silence.
 */
export type HandOverRefusal = 'transient' | 'too-large' | 'rejected' | 'fatal';

/** A hand-over Temporal refused, with what the refusal means (decided here, where the gRPC status is known). */
export class HandOverError extends Error {
  override readonly name = 'HandOverError';
  constructor(
    readonly refusal: HandOverRefusal,
    readonly dashboardId: string,
    cause: unknown,
  ) {
    super(`Temporal refused the hand-over (${refusal}): ${describe(cause)}`, { cause });
  }
}

const GRPC = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  UNAUTHENTICATED: 16,
} as const;

/** Size refusals: the server's blob limit (INVALID_ARGUMENT) or gRPC's message limit (RESOURCE_EXHAUSTED). */
const TOO_LARGE = /size exceeds|exceeds (the )?limit|too large|larger than max|message length|payload size/i;

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

export function classifyTemporalRefusal(error: unknown): HandOverRefusal {
  if (error instanceof NamespaceNotFoundError) return 'fatal';
  const grpc = [error, error instanceof Error ? error.cause : undefined].find(isGrpcServiceError);
  if (!grpc) return 'transient'; // connection errors, timeouts of the client itself
  const message = `${grpc.message} ${grpc.details ?? ''}`;
  switch (grpc.code) {
    case GRPC.PERMISSION_DENIED:
    case GRPC.UNAUTHENTICATED:
    case GRPC.UNIMPLEMENTED:
      return 'fatal';
    case GRPC.NOT_FOUND:
      // Signal-with-start creates what is missing, so NOT_FOUND can only be about the namespace.
      return 'fatal';
    case GRPC.INVALID_ARGUMENT:
      return TOO_LARGE.test(message) ? 'too-large' : 'rejected';
    case GRPC.RESOURCE_EXHAUSTED:
      // Also the server's rate limits (namespace RPS, busy workflow): those pass with time.
      return TOO_LARGE.test(message) ? 'too-large' : 'transient';
    default:
      return 'transient';
  }
}

/** The longest one hand-over may take: half the consumer's session timeout. */
export function handOverDeadlineMs(config: Config): number {
  return Math.floor(config.kafka.sessionTimeoutMs / 2);
}

/**
 * Hands a batch's events to the dashboard's workflow by count, newest ids and references (what the ingest does).
 * A refusal is thrown as a HandOverError saying whether to retry, split, dead-letter or stop.
 */
export async function handOver(
  client: Client,
  config: Config,
  dashboard: Dashboard,
  handover: EventsHandover,
): Promise<void> {
  try {
    // Bounded well within the consumer's session timeout: a call that hangs (Temporal unreachable behind a silent
    // network) must come back as a transient refusal in time for the consumer to heartbeat, pause and retry, not
    // cost it its partitions. A signal that did land before the deadline is dropped as a repeat by the workflow.
    await client.withDeadline(Date.now() + handOverDeadlineMs(config), () =>
      client.workflow.signalWithStart(dashboardWorkflow, {
        ...startOptions(config, dashboard),
        signal: eventsHandedOverSignal,
        signalArgs: [handover],
      }),
    );
  } catch (error) {
    throw new HandOverError(classifyTemporalRefusal(error), dashboard.id, error);
  }
}

/** Hands whole events to the dashboard's workflow: a few events, from tools and tests. */
export async function signalDashboard(
  client: Client,
  config: Config,
  dashboard: Dashboard,
  events: PendingEvent[],
): Promise<void> {
  await client.workflow.signalWithStart(dashboardWorkflow, {
    ...startOptions(config, dashboard),
    signal: eventsArrivedSignal,
    signalArgs: [events],
  });
}
