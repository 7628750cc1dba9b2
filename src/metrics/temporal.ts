import { createServer } from 'node:net';
import type { MetricsSource } from './server';

/**
 * Where the Temporal core of this process serves its own Prometheus metrics (worker task slots, poll and
 * schedule-to-start latencies, sticky cache...), when the runtime was installed with them. The core binds a
 * loopback port of its own; precis's /metrics appends what it serves, so one scrape target per process carries
 * both and no extra port is exposed. The runtime is process-wide, and so is this.
 */
let coreMetricsUrl: string | null = null;

/** A free loopback port, for the core's exporter (the core cannot report the port it bound for port 0). */
export async function freeLoopbackPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string')
    throw new Error('no loopback port for Temporal metrics');
  return address.port;
}

export function setTemporalCoreMetricsAddress(address: string | null): void {
  coreMetricsUrl = address === null ? null : `http://${address}/metrics`;
}

/** The core's metrics text ('' when the runtime exports none, or when it does not answer within a second). */
export async function temporalCoreMetrics(): Promise<string> {
  if (coreMetricsUrl === null) return '';
  try {
    const response = await fetch(coreMetricsUrl, { signal: AbortSignal.timeout(1000) });
    return response.ok ? await response.text() : '';
  } catch {
    return '';
  }
}

/** A process's own metrics followed by its Temporal core's: what a worker's /metrics serves. */
export function withTemporalCoreMetrics(own: MetricsSource): MetricsSource {
  return {
    contentType: own.contentType,
    metrics: async () => {
      const [mine, core] = await Promise.all([own.metrics(), temporalCoreMetrics()]);
      return core === '' ? mine : `${mine}\n${core}`;
    },
  };
}
