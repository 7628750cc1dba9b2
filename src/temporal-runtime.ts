import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { Runtime, type Worker } from '@temporalio/worker';
import type { Config } from './config';
import type { Logger } from './log';
import { freeLoopbackPort, setTemporalCoreMetricsAddress } from './metrics/temporal';
import { runMain, type Service } from './process';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Sends the Temporal SDK's own log lines (worker state, workflow and activity logs) to the process's pino logger. */
function forwardTo(logger: Logger): TemporalLogger {
  const child = logger.child({ source: 'temporal' });
  const log = (level: LogLevel, message: string, meta?: LogMetadata): void => {
    // The SDK logs every activity and workflow task at debug level: drop what pino would drop, before any work.
    const pinoLevel = LEVELS[level];
    if (child.isLevelEnabled(pinoLevel)) child[pinoLevel](meta ?? {}, message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

/**
 * Installs the process-wide Temporal runtime; call once, before the first worker connection. With `metrics`, the
 * core exports its worker metrics (task slots, schedule-to-start latencies, sticky cache, polls) on a free loopback
 * port, which the process's own /metrics appends (see src/metrics/temporal.ts): durations in seconds and counters
 * with `_total`, as Prometheus names them.
 */
export async function installTemporalRuntime(logger: Logger, options: { metrics: boolean }): Promise<void> {
  const bindAddress = options.metrics ? `127.0.0.1:${await freeLoopbackPort()}` : null;
  // The core's own warnings (slow workflow tasks, failed polls) go through the same logger instead of straight to
  // stderr, so every line a worker writes is one JSON format.
  Runtime.install({
    logger: forwardTo(logger),
    telemetryOptions: {
      logging: { forward: {}, filter: { core: 'WARN', other: 'WARN' } },
      ...(bindAddress
        ? {
            metrics: {
              prometheus: { bindAddress, useSecondsForDurations: true, countersTotalSuffix: true },
            },
          }
        : {}),
    },
  });
  setTemporalCoreMetricsAddress(bindAddress);
}

/**
 * Runs a Temporal worker as a precis Service: `closed` settles when it stops (then `cleanup` releases what it
 * used), `close` asks it to drain and waits.
 */
export function serveWorker(worker: Worker, cleanup: () => Promise<void>): Service {
  const closed = worker.run().finally(cleanup);
  return {
    closed,
    close: async () => {
      worker.shutdown();
      await closed;
    },
  };
}

/**
 * The entry-point main of a worker process: install the runtime (logs to pino; the core's metrics when the process
 * serves metrics, `metricsPort` > 0), then build.
 */
export function runWorkerMain(
  component: string,
  build: (config: Config, logger: Logger) => Promise<Service>,
  metricsPort: (config: Config) => number,
): void {
  runMain(component, async (config, logger) => {
    await installTemporalRuntime(logger, { metrics: metricsPort(config) > 0 });
    return build(config, logger);
  });
}
