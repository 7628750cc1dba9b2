import { type Client, WorkflowIdReusePolicy } from '@temporalio/client';
import { dashboardWorkflow, eventsArrivedSignal } from '../../workflows/dashboard';
import { DashboardIdKey } from '../../workflows/search-attributes';
import type { Config } from '../config';
import { type Dashboard, durationMs } from '../domain/dashboard';
import type { PendingEvent } from '../domain/event';

export function dashboardWorkflowId(config: Config, dashboardId: string): string {
  return `${config.temporal.workflowIdPrefix}${dashboardId}`;
}

/**
 * Hands events to the dashboard's workflow: signals the open run, or starts one with the signal (atomic on the
 * server, so no event can fall between "is it running?" and "start it").
 *
 * Id reuse policy ALLOW_DUPLICATE: a completed run must never block the next change of the same dashboard.
 * Conflict: signal-with-start always joins the open run, which is what folds a burst into one summary.
 */
export async function signalDashboard(
  client: Client,
  config: Config,
  dashboard: Dashboard,
  events: PendingEvent[],
): Promise<void> {
  const quiet = dashboard.refresh.quietPeriod;
  const maxDelay = dashboard.refresh.maxDelay;
  await client.workflow.signalWithStart(dashboardWorkflow, {
    workflowId: dashboardWorkflowId(config, dashboard.id),
    taskQueue: config.temporal.taskQueue,
    args: [
      {
        dashboardId: dashboard.id,
        quietPeriodMs: quiet ? durationMs(quiet) : config.pipeline.quietPeriodMs,
        maxDelayMs: maxDelay ? durationMs(maxDelay) : config.pipeline.maxDelayMs,
      },
    ],
    signal: eventsArrivedSignal,
    signalArgs: [events],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [{ key: DashboardIdKey, value: dashboard.id }],
    staticSummary: `Summarize dashboard **${dashboard.title}** (\`${dashboard.id}\`)`,
  });
}
