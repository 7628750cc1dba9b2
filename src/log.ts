import pino, { type Logger } from 'pino';
import type { Config } from './config';

export type { Logger };

/** One JSON logger per process; `component` tells the processes apart in shared log pipelines. */
export function createLogger(config: Pick<Config, 'logLevel'>, component: string): Logger {
  return pino({ level: config.logLevel, base: { component } });
}
