import { type Client, isGrpcServiceError, ServiceError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import {
  DashboardIdKey,
  PrecisCostUsdKey,
  PrecisHeadlineKey,
  PrecisModelKey,
  PrecisOutcomeKey,
  PrecisStatusKey,
} from '../workflows/search-attributes';
import { dependencyProblem, HttpProblem } from './problem';
import type { WorkflowStatus } from './schemas';
import { type RenderSettings, temporalRunLink } from './summary-render';
import { abortAfter } from './timeout';

/** gRPC NOT_FOUND, for servers that answer a describe of an unknown id without the SDK's typed error. */
const GRPC_NOT_FOUND = 5;

/**
 * A Temporal call that really ends after about `ms`, its retries included: the abort signal cancels a call in
 * flight, the deadline also bounds a lazy connection's first connect (which ignores the signal). A plain race
 * would leave the call retrying in the background.
 */
export function boundedTemporalCall<T>(client: Client, ms: number, call: () => Promise<T>): Promise<T> {
  return abortAfter(ms, (signal) =>
    client.withDeadline(Date.now() + ms, () => client.withAbortSignal(signal, call)),
  );
}

/**
 * Describes one run from Temporal, cancelled (retries included) after `timeoutMs`.
 * Unknown id → 404; Temporal unreachable or slow → 503 with Retry-After.
 */
export async function describeWorkflow(
  client: Client,
  workflowId: string,
  settings: RenderSettings,
  timeoutMs: number,
): Promise<WorkflowStatus> {
  let description: Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['describe']>>;
  try {
    description = await boundedTemporalCall(client, timeoutMs, () =>
      client.workflow.getHandle(workflowId).describe(),
    );
  } catch (error) {
    if (
      error instanceof WorkflowNotFoundError ||
      (isGrpcServiceError(error) && error.code === GRPC_NOT_FOUND)
    ) {
      throw new HttpProblem(404, 'Unknown workflow', `no workflow "${workflowId}"`);
    }
    if (error instanceof ServiceError || isGrpcServiceError(error)) {
      throw dependencyProblem('Temporal');
    }
    throw error;
  }
  return {
    workflowId: description.workflowId,
    runId: description.runId,
    type: description.type,
    status: description.status.name,
    taskQueue: description.taskQueue,
    startTime: description.startTime.toISOString(),
    closeTime: description.closeTime?.toISOString() ?? null,
    historyLength: description.historyLength,
    searchAttributes: {
      DashboardId: description.typedSearchAttributes.get(DashboardIdKey) ?? null,
      PrecisStatus: description.typedSearchAttributes.get(PrecisStatusKey) ?? null,
      PrecisOutcome: description.typedSearchAttributes.get(PrecisOutcomeKey) ?? null,
      PrecisHeadline: description.typedSearchAttributes.get(PrecisHeadlineKey) ?? null,
      PrecisModel: description.typedSearchAttributes.get(PrecisModelKey) ?? null,
      PrecisCostUsd: description.typedSearchAttributes.get(PrecisCostUsdKey) ?? null,
    },
    links: { temporalRun: temporalRunLink(settings, description.workflowId, description.runId) },
  };
}
