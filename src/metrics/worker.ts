import type { Server } from 'node:http';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Registry } from 'prom-client';
import { ModelMetrics } from './model';
import { PipelineMetrics } from './pipeline';
import { processRegistry } from './process';
import { closeMetricsServer, serveMetrics } from './server';
import { withTemporalCoreMetrics } from './temporal';

/** A worker process's metrics: process defaults, pipeline stages and model use, in one registry. */
export interface WorkerMetrics {
  registry: Registry;
  pipeline: PipelineMetrics;
  model: ModelMetrics;
}

export function createWorkerMetrics(): WorkerMetrics {
  const registry = processRegistry();
  return { registry, pipeline: new PipelineMetrics(registry), model: new ModelMetrics(registry) };
}

/** How often a worker asks the Temporal frontend whether it serves, for /readyz; and how long it waits. */
const TEMPORAL_PROBE_MS = 5000;
const TEMPORAL_PROBE_TIMEOUT_MS = 2000;

/**
 * Serves a Temporal worker's /metrics (its registry followed by its Temporal core's metrics) and /readyz: 200 while
 * the worker runs, Temporal's frontend answers its health check (probed every 5 s) and `clientsReady` holds (Redis
 * connected); 503 otherwise. Port 0: nothing is served. `close` stops the probe and the server.
 */
export async function serveWorkerMetrics(options: {
  registry: Registry;
  host: string;
  port: number;
  worker: Worker;
  connection: NativeConnection;
  clientsReady: () => boolean;
}): Promise<{ close: () => Promise<void> }> {
  if (options.port === 0) return { close: async () => undefined };
  let temporalServing = true;
  const probe = async () => {
    try {
      // A deadline, not only a race: the SDK retries a failing call, and probes must not pile up during an outage.
      const answer = await options.connection.withDeadline(Date.now() + TEMPORAL_PROBE_TIMEOUT_MS, () =>
        options.connection.healthService.check({}),
      );
      // 1 = SERVING in grpc.health.v1.
      temporalServing = Number(answer.status) === 1;
    } catch {
      temporalServing = false;
    }
  };
  const timer = setInterval(() => void probe(), TEMPORAL_PROBE_MS).unref();
  const server: Server = await serveMetrics(
    withTemporalCoreMetrics(options.registry),
    options.host,
    options.port,
    () => options.worker.getState() === 'RUNNING' && temporalServing && options.clientsReady(),
  );
  return {
    close: async () => {
      clearInterval(timer);
      await closeMetricsServer(server);
    },
  };
}
