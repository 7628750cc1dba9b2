/**
 * The machine and versions a run measured on, for the report: CPUs, memory, OS, Node, the Temporal CLI and
 * server, Kafka, Redis, the precis commit, and the SDK versions the processes used. Each probe is best effort: a
 * version that cannot be read is reported as such, never guessed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, homedir, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import { REPO_ROOT } from '../processes';
import type { Environment } from './types';

function run(command: string, args: string[]): string | null {
  try {
    return execFileSync(command, args, {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

function osName(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]+)"?/m.exec(text)?.[1] ?? 'Linux';
  } catch {
    return process.platform;
  }
}

function packageVersion(name: string): string {
  try {
    const file = join(REPO_ROOT, 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The Temporal CLI precis's stack script built (scripts/lib.sh: $PRECIS_CACHE/temporal-<version>/temporal). */
function temporalCli(): string {
  const cache =
    process.env.PRECIS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'precis');
  const version = process.env.TEMPORAL_CLI_VERSION ?? 'v1.5.1';
  const binary = join(cache, `temporal-${version}`, 'temporal');
  if (!existsSync(binary)) return `not found at ${binary}`;
  // Built from source (scripts/install.sh), it calls itself 0.0.0-DEV: the tag it was built from says more.
  return `${version}: ${run(binary, ['--version'])?.split('\n')[0] ?? 'unknown'}`;
}

function kafkaVersion(): string {
  try {
    const pom = readFileSync(join(REPO_ROOT, 'scripts', 'kafka', 'pom.xml'), 'utf8');
    return /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The 1-minute load average now (for the end of the run). */
export function currentLoad(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

export async function describeEnvironment(
  temporal: Client,
  temporalAddress: string,
  redis: Redis,
): Promise<Environment> {
  const cpuList = cpus();
  const serverVersion = await temporal.workflowService
    .getSystemInfo({})
    .then((info) => info.serverVersion || 'unknown')
    .catch(() => 'unknown');
  // Which Temporal the run measured: the dev server (SQLite, 1 shard) or a cluster such as the production shape
  // (BENCH_TEMPORAL_ADDRESS; PostgreSQL, 4 shards).
  const temporalCluster = await temporal.workflowService
    .getClusterInfo({})
    .then(
      (info) =>
        `${temporalAddress}: ${info.persistenceStore || 'unknown'} persistence, ` +
        `${info.visibilityStore || 'unknown'} visibility, ${info.historyShardCount} history shards`,
    )
    .catch(() => `${temporalAddress}: unknown`);
  const redisVersion = await redis
    .info('server')
    .then((text) => /^redis_version:(.+)$/m.exec(text)?.[1]?.trim() ?? 'unknown')
    .catch(() => 'unknown');
  const commit = run('git', ['rev-parse', '--short=12', 'HEAD']) ?? 'unknown';
  const dirty = (run('git', ['status', '--porcelain', '--untracked-files=no']) ?? '').length > 0;
  const branch = run('git', ['rev-parse', '--abbrev-ref', 'HEAD']) ?? 'unknown';
  return {
    machine: {
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model ?? 'unknown',
      memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
      os: osName(),
      kernel: release(),
      node: process.version,
      loadAverage: { start: Math.round((loadavg()[0] ?? 0) * 100) / 100, end: null },
    },
    versions: {
      precisCommit: `${commit}${dirty ? ' (with uncommitted changes)' : ''} on ${branch}`,
      temporalCli: temporalCli(),
      temporalServer: serverVersion,
      temporalCluster,
      kafka: kafkaVersion(),
      redis: redisVersion,
      '@temporalio/worker': packageVersion('@temporalio/worker'),
      kafkajs: packageVersion('kafkajs'),
      ioredis: packageVersion('ioredis'),
      fastify: packageVersion('fastify'),
      autocannon: packageVersion('autocannon'),
    },
  };
}
