/**
 * The private engines of the chaos suite (scripts/chaos.sh: the project's stack on other ports and another state
 * folder), and stopping and starting one of them: never the shared dev engines on the default ports.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../../bench/processes';

const run = promisify(execFile);

export const CHAOS_ENGINES = {
  temporal: process.env.CHAOS_TEMPORAL_ADDRESS ?? '127.0.0.1:17233',
  kafka: process.env.CHAOS_KAFKA_BROKERS ?? '127.0.0.1:19092',
  redis: process.env.CHAOS_REDIS_URL ?? 'redis://127.0.0.1:16379',
};

export type Engine = 'temporal' | 'kafka' | 'redis';

const script = process.env.CHAOS_SCRIPT ?? join(REPO_ROOT, 'scripts', 'chaos.sh');

/** Stops one private engine (SIGTERM to its process group; its data stays). */
export async function stopEngine(engine: Engine): Promise<void> {
  await run('bash', [script, 'stop', engine], { cwd: REPO_ROOT, timeout: 60_000 });
}

/** Starts the private engines that are not running (same data folders) and waits until they are healthy. */
export async function startEngines(): Promise<void> {
  await run('bash', [script, 'start'], { cwd: REPO_ROOT, timeout: 180_000 });
}
