/**
 * The processes under test: precis's own entry points (pipeline worker, LLM worker, ingest, API) and the bare
 * baselines that need a process of their own, started as children with their configuration in the environment,
 * logs in files, and stopped with SIGTERM (SIGKILL if they do not go within a bound), on failure too.
 *
 * Two launch modes: `dist` runs the compiled output (`node dist/workers/pipeline.js`, what `npm run bench` builds
 * and measures), `source` runs the TypeScript through tsx's loader (`node --import tsx workers/pipeline.ts`), so
 * the smoke test needs no build.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import type { MemorySampler } from './memory';
import { sleep, waitUntil } from './stats';

export const REPO_ROOT = resolve(__dirname, '..');

export type LaunchMode = 'dist' | 'source';

/** An entry point, as a path from the repo root without extension (`workers/pipeline`). */
export function entryCommand(mode: LaunchMode, entry: string): { command: string; args: string[] } {
  const node = [...profilingArgs()];
  if (mode === 'dist') {
    const file = join(REPO_ROOT, 'dist', `${entry}.js`);
    if (!existsSync(file)) throw new Error(`${file} is missing: build first (tsc -p tsconfig.build.json)`);
    return { command: process.execPath, args: [...node, file] };
  }
  return { command: process.execPath, args: [...node, '--import', 'tsx', join(REPO_ROOT, `${entry}.ts`)] };
}

/**
 * BENCH_CPU_PROFILE_DIR=dir: every process under test writes V8 CPU profiles (one per thread) there when it exits,
 * to find where a scenario's CPU goes. Node refuses --cpu-prof in NODE_OPTIONS, hence arguments.
 */
function profilingArgs(): string[] {
  const dir = process.env.BENCH_CPU_PROFILE_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released for the child to bind). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * The environment of a child: the parent's, minus every precis, OpenAI and Temporal setting the user may have
 * exported (a stray OPENAI_API_KEY must not turn the local-summarizer scenarios into model calls), plus `env`.
 */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(PRECIS_|OPENAI_|TEMPORAL_)/.test(name)) continue;
    base[name] = value;
  }
  return { ...base, ...nodeRuntimeEnv(), ...env };
}

/**
 * The Node settings every precis process runs with (config/node-runtime.env: heap limit, malloc arenas), as
 * `npm start` and docker-compose apply them; the bare baselines get the same, so memory is compared like for like.
 */
export function nodeRuntimeEnv(): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const line of readFileSync(join(REPO_ROOT, 'config', 'node-runtime.env'), 'utf8').split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1] && match[2] !== undefined) settings[match[1]] = match[2];
  }
  return settings;
}

export interface ChildHandle {
  name: string;
  pid: number;
  logFile: string;
  child: ChildProcess;
  /** Settles with the exit code (or signal name) when the process ends. */
  exited: Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
  stop(graceMs?: number): Promise<string>;
  alive(): boolean;
}

export function startChild(options: {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  logDir: string;
  memory?: { sampler: MemorySampler; precis: boolean };
}): ChildHandle {
  const logFile = join(options.logDir, `${options.name.replace(/[^A-Za-z0-9._-]/g, '_')}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(options.command, options.args, {
    cwd: REPO_ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name} did not start`);
  let running = true;
  const exited = new Promise<string>((resolveExit) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolveExit(signal ?? String(code));
    });
  });
  options.memory?.sampler.watch(options.name, pid, options.memory.precis);
  const handle: ChildHandle = {
    name: options.name,
    pid,
    logFile,
    child,
    exited,
    alive: () => running,
    async stop(graceMs = 15_000) {
      if (!running) return exited;
      options.memory?.sampler.unwatch(pid);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const how = await exited;
      clearTimeout(timer);
      return how;
    },
  };
  return handle;
}

/** The last lines of a child's log, for error messages. */
export function logTail(handle: ChildHandle, lines = 20): string {
  try {
    return readFileSync(handle.logFile, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Waits until `ready` holds; fails early (with the log) if the child exits, or after `timeoutMs`. */
export async function awaitReady(
  handle: ChildHandle,
  what: string,
  ready: () => Promise<boolean>,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!handle.alive()) throw new Error(`${handle.name} exited before ${what}:\n${logTail(handle)}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`${handle.name}: no ${what} after ${timeoutMs} ms:\n${logTail(handle)}`);
    await sleep(200);
  }
}

/** Task queue kinds as Temporal's API numbers them (temporal.api.enums.v1.TaskQueueType). */
const TASK_QUEUE_TYPE = { workflow: 1, activity: 2 } as const;

/** True when some worker polls the task queue for this kind of task (the worker is up and connected). */
export async function hasPollers(
  client: Client,
  taskQueue: string,
  kind: keyof typeof TASK_QUEUE_TYPE,
): Promise<boolean> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: TASK_QUEUE_TYPE[kind],
  });
  return (response.pollers?.length ?? 0) > 0;
}

/** True when `url` answers 2xx. */
export async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await response.arrayBuffer();
  return response.ok;
}

/** Stops every handle (in parallel), never throwing: used on the way out, failure or not. */
export async function stopAll(handles: Iterable<ChildHandle>): Promise<void> {
  await Promise.all([...handles].map((h) => h.stop().catch(() => 'error')));
}

export { waitUntil };
