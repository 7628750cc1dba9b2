import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * A process's registry with prom-client's default metrics (CPU, memory, event-loop lag, GC, handles) under their
 * standard names (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`...): every precis process exports
 * the same names and Prometheus's `job` label tells the processes apart, so one dashboard query covers them all.
 * A registry of its own per component, so that several components in one process (tests) do not collide.
 */
export function processRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
