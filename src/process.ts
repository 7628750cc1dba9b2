import { type Config, loadConfig } from './config';
import { createLogger, type Logger } from './log';

/** A running process part: `closed` settles when it stops by itself; `close` asks it to stop. */
export interface Service {
  closed?: Promise<void>;
  close(): Promise<void>;
}

/**
 * The one shape of every entry point in workers/ and api/: read config once, build, run, shut down gracefully on
 * SIGTERM/SIGINT (a second signal forces the exit), and exit non-zero on a fatal error.
 */
export function runMain(
  component: string,
  build: (config: Config, logger: Logger) => Promise<Service>,
): void {
  let logger: Logger = createLogger({ logLevel: 'info' }, component);
  const fail = (error: unknown): never => {
    logger.fatal({ err: error }, `${component} failed`);
    process.exit(1);
  };
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    fail(error);
    return;
  }
  logger = createLogger(config, component);
  build(config, logger)
    .then((service) => {
      let stopping = false;
      const shutdown = (signal: NodeJS.Signals): void => {
        if (stopping) {
          logger.warn({ signal }, 'second signal: exiting now');
          process.exit(130);
        }
        stopping = true;
        logger.info({ signal }, 'shutting down');
        service.close().then(() => process.exit(0), fail);
      };
      process.on('SIGTERM', shutdown).on('SIGINT', shutdown);
      service.closed?.then(() => {
        if (!stopping) fail(new Error(`${component} stopped unexpectedly`));
      }, fail);
      logger.info(`${component} running`);
    })
    .catch(fail);
}
