import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import type { Logger } from './log';

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
    child[LEVELS[level]](meta ?? {}, message);
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

/** Installs the process-wide Temporal runtime; call once, before the first worker connection. */
export function installTemporalRuntime(logger: Logger): void {
  Runtime.install({ logger: forwardTo(logger) });
}
