import { type Client, WorkflowIdReusePolicy } from '@temporalio/client';
import { dashboardWorkflow, eventsArrivedSignal, eventsHandedOverSignal } from '../../workflows/dashboard';
import { DashboardIdKey } from '../../workflows/search-attributes';
import type { Config } from '../config';
import { type Dashboard, durationMs } from '../domain/dashboard';
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
function startOptions(config: Config, dashboard: Dashboard) {
  const quiet = dashboard.refresh.quietPeriod;
  const maxDelay = dashboard.refresh.maxDelay;
  return {
    workflowId: dashboardWorkflowId(config, dashboard.id),
    taskQueue: config.temporal.taskQueue,
    args: [
      {
        dashboardId: dashboard.id,
        quietPeriodMs: quiet ? durationMs(quiet) : config.pipeline.quietPeriodMs,
        maxDelayMs: maxDelay ? durationMs(maxDelay) : config.pipeline.maxDelayMs,
      },
    ] as Parameters<typeof dashboardWorkflow>,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [{ key: DashboardIdKey, value: dashboard.id }],
    staticSummary: `Summarize dashboard **${dashboard.title}** (\`${dashboard.id}\`)`,
  };
}

/** Hands a batch's events to the dashboard's workflow by count, newest ids and references (what the ingest does). */
export async function handOver(
  client: Client,
  config: Config,
  dashboard: Dashboard,
  handover: EventsHandover,
): Promise<void> {
  await client.workflow.signalWithStart(dashboardWorkflow, {
    ...startOptions(config, dashboard),
    signal: eventsHandedOverSignal,
    signalArgs: [handover],
  });
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
