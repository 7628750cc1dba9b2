/**
 * The client side of the Temporal baseline: starts the one-activity workflow on the bare worker's queue as fast as
 * the worker completes them (a bounded number in flight), or one at a time to measure start → completion latency.
 */
import type { Client } from '@temporalio/client';
import type { bareOneActivity } from './temporal-workflow';

export interface BareThroughput {
  /** Completion times (ms since epoch) of every workflow. */
  completedAtMs: number[];
  /** Start → completion of each workflow, ms. */
  latenciesMs: number[];
  failures: number;
}

/**
 * Keeps `concurrency` workflows in flight until `untilMs`, then waits for those still running. Each lane starts the
 * next workflow when its previous one completed, so the rate is what server and worker sustain together.
 */
export async function runBareWorkflows(
  client: Client,
  options: { taskQueue: string; idPrefix: string; concurrency: number; untilMs: number },
): Promise<BareThroughput> {
  const result: BareThroughput = { completedAtMs: [], latenciesMs: [], failures: 0 };
  let next = 0;
  const lane = async () => {
    while (Date.now() < options.untilMs) {
      const n = next++;
      const started = Date.now();
      try {
        await client.workflow.execute<typeof bareOneActivity>('bareOneActivity', {
          taskQueue: options.taskQueue,
          workflowId: `${options.idPrefix}-${n}`,
          args: [String(n)],
        });
        const done = Date.now();
        result.completedAtMs.push(done);
        result.latenciesMs.push(done - started);
      } catch {
        result.failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, lane));
  return result;
}
