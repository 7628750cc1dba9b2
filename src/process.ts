import { type Config, loadConfig } from './config';
import { createLogger, type Logger } from './log';

/** A running process part: `closed` settles when it stops by itself; `close` asks it to stop. */
export interface Service {
  closed?: Promise<void>;
  close(): Promise<void>;
}

/** Work owed before a fatal exit (spans still buffered), registered by the part that owns it. */
const beforeFatalExit = new Set<() => Promise<void>>();
/** The longest a fatal exit waits for that work: an unreachable collector must not keep a broken process alive. */
const FATAL_EXIT_GRACE_MS = 3_000;

/** Runs `hook` (bounded by FATAL_EXIT_GRACE_MS) before the process exits on a fatal error; returns its removal. */
export function beforeFatalExitDo(hook: () => Promise<void>): () => void {
  beforeFatalExit.add(hook);
  return () => beforeFatalExit.delete(hook);
}

async function settleBeforeFatalExit(): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, FATAL_EXIT_GRACE_MS);
  });
  await Promise.race([Promise.allSettled([...beforeFatalExit].map((hook) => hook())), grace]);
  clearTimeout(timer);
}

/**
 * The one shape of every entry point in workers/ and api/: read config once, build, run, shut down gracefully on
 * SIGTERM/SIGINT (a second signal forces the exit), and exit non-zero on a fatal error (after the work owed before
 * it, see beforeFatalExitDo).
 */
export function runMain(
  component: string,
  build: (config: Config, logger: Logger) => Promise<Service>,
): void {
  let logger: Logger = createLogger({ logLevel: 'info' }, component);
  let failing = false;
  const fail = (error: unknown): void => {
    if (failing) return;
    failing = true;
    logger.fatal({ err: error }, `${component} failed`);
    void settleBeforeFatalExit().finally(() => process.exit(1));
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
