import { type Client, WorkflowIdReusePolicy } from '@temporalio/client';
import { dashboardWorkflow, eventsArrivedSignal, type LlmPlan } from '../../workflows/dashboard';
import { DashboardIdKey } from '../../workflows/search-attributes';
import type { Config } from '../config';
import { type Dashboard, durationMs } from '../domain/dashboard';
import type { PendingEvent } from '../domain/event';

export function dashboardWorkflowId(config: Config, dashboardId: string): string {
  return `${config.temporal.workflowIdPrefix}${dashboardId}`;
}

/** Whether a model is configured at all: an API key, or an endpoint of one's own (which may need none). */
export function modelConfigured(config: Config): boolean {
  return config.llm.apiKey !== undefined || config.llm.baseUrl !== undefined;
}

export function llmPlan(config: Config): LlmPlan {
  return {
    enabled: modelConfigured(config),
    taskQueue: config.llm.taskQueue,
    primaryAttempts: config.llm.primaryAttempts,
    maxRetryMs: config.llm.maxRetryMs,
    upgradeDelaysMs: config.llm.upgradeDelaysMs,
  };
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
        llm: llmPlan(config),
      },
    ],
    signal: eventsArrivedSignal,
    signalArgs: [events],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [{ key: DashboardIdKey, value: dashboard.id }],
    staticSummary: `Summarize dashboard **${dashboard.title}** (\`${dashboard.id}\`)`,
  });
}
