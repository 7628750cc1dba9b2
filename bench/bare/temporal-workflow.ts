/**
 * The baseline's workflow: one activity that returns a small string, nothing else. It measures what the Temporal
 * server and a TypeScript worker do per workflow on this machine, the floor under any pipeline built on them.
 * Imports only `@temporalio/workflow` and the activity's type, like precis's own workflows.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { BareActivities } from './temporal-activities';

const { echo } = proxyActivities<BareActivities>({ startToCloseTimeout: '30 seconds' });

export async function bareOneActivity(input: string): Promise<string> {
  return echo(input);
}
