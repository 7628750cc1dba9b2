/**
 * The baseline's worker process: a plain Temporal TypeScript worker on its own task queue (BARE_TASK_QUEUE), with
 * the SDK's default options, running the one-activity workflow. Same shape as precis's workers: connect, run,
 * close on SIGTERM, exit non-zero on error.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createBareActivities } from './temporal-activities';

async function main(): Promise<void> {
  const taskQueue = process.env.BARE_TASK_QUEUE;
  if (!taskQueue) throw new Error('BARE_TASK_QUEUE is not set');
  const connection = await NativeConnection.connect({
    address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
  });
  try {
    const worker = await Worker.create({
      connection,
      namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
      taskQueue,
      workflowsPath: require.resolve('./temporal-workflow'),
      activities: createBareActivities(),
    });
    const stop = () => worker.shutdown();
    process.once('SIGTERM', stop).once('SIGINT', stop);
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
