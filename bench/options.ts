/**
 * The benchmark's options, read once from the environment. Every duration and count has a full default and a
 * smoke default (BENCH_SMOKE=1: every scenario for a few seconds with small counts, for the test suite).
 *
 *   BENCH_SCENARIOS=throughput,freshness,absorption,reads,model-calls,memory   (default: all)
 *   BENCH_SMOKE=1              seconds-long run of every scenario
 *   BENCH_MODE=dist|source     run precis from dist/ (default) or from the TypeScript sources via tsx
 *   BENCH_RESULTS_DIR          where reports go (default bench/results)
 *   BENCH_SEED                 workload seed (default 42)
 *   BENCH_DASHBOARDS           dashboards per kind (default 100)
 *   BENCH_THROUGHPUT_S / BENCH_WARMUP_S / BENCH_BARE_CONCURRENCY
 *   BENCH_THROUGHPUT_TICK_MS / BENCH_THROUGHPUT_EVENTS_PER_TICK   events every dashboard gets (default 1 per 1000 ms)
 *   BENCH_FRESHNESS_S (10/s) / BENCH_FRESHNESS_SLOW_S (1/s and the 1 s model)
 *   BENCH_ABSORPTION_EVENTS
 *   BENCH_READS_S / BENCH_READS_ROUNDS / BENCH_CONNECTIONS
 *   BENCH_MODEL_CALLS_S
 *   BENCH_DRAIN_S              longest wait for the pipeline to catch up after a scenario's load
 *   BENCH_TEMPORAL_ADDRESS / BENCH_TEMPORAL_UI_URL   another Temporal than the local dev server (see benchTemporalEnv)
 *   BENCH_CPU_PROFILE_DIR     every process under test writes V8 CPU profiles (.cpuprofile, one per thread) there
 */
import { join } from 'node:path';
import type { LaunchMode } from './processes';
import { SCENARIO_IDS, type ScenarioId } from './report/types';

export interface BenchOptions {
  scenarios: ScenarioId[];
  smoke: boolean;
  mode: LaunchMode;
  resultsDir: string;
  seed: number;
  dashboards: number;
  throughput: {
    durationS: number;
    warmupS: number;
    tickMs: number;
    eventsPerTick: number;
    bareConcurrency: number;
  };
  freshness: { fastS: number; slowS: number; bareS: number; modelDelayMs: number };
  absorption: { events: number };
  reads: { durationS: number; rounds: number; connections: number; warmupS: number };
  modelCalls: { durationS: number; modelDelayMs: number };
  drainS: number;
}

export class OptionError extends Error {
  override readonly name = 'OptionError';
}

export function readOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const smoke = env.BENCH_SMOKE === '1' || env.BENCH_SMOKE === 'true';
  const num = (name: string, full: number, small: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return smoke ? small : full;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0)
      throw new OptionError(`${name}: expected a number ≥ 0, got "${raw}"`);
    return value;
  };
  const scenarios = (env.BENCH_SCENARIOS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const s of scenarios) {
    if (!SCENARIO_IDS.includes(s as ScenarioId))
      throw new OptionError(`BENCH_SCENARIOS: unknown scenario "${s}" (known: ${SCENARIO_IDS.join(', ')})`);
  }
  const mode = env.BENCH_MODE ?? 'dist';
  if (mode !== 'dist' && mode !== 'source')
    throw new OptionError(`BENCH_MODE: expected dist or source, got "${mode}"`);
  return {
    scenarios: scenarios.length > 0 ? SCENARIO_IDS.filter((id) => scenarios.includes(id)) : [...SCENARIO_IDS],
    smoke,
    mode,
    resultsDir: env.BENCH_RESULTS_DIR ?? join(__dirname, 'results'),
    seed: num('BENCH_SEED', 42, 42),
    dashboards: Math.max(1, Math.round(num('BENCH_DASHBOARDS', 100, 10))),
    throughput: {
      durationS: num('BENCH_THROUGHPUT_S', 45, 3),
      warmupS: num('BENCH_WARMUP_S', 15, 1),
      tickMs: num('BENCH_THROUGHPUT_TICK_MS', 1000, 100),
      eventsPerTick: Math.max(1, Math.round(num('BENCH_THROUGHPUT_EVENTS_PER_TICK', 1, 1))),
      bareConcurrency: num('BENCH_BARE_CONCURRENCY', 100, 20),
    },
    freshness: {
      fastS: num('BENCH_FRESHNESS_S', 30, 2),
      slowS: num('BENCH_FRESHNESS_SLOW_S', 30, 2),
      bareS: num('BENCH_FRESHNESS_BARE_S', 15, 1),
      modelDelayMs: 1000,
    },
    absorption: { events: Math.round(num('BENCH_ABSORPTION_EVENTS', 200_000, 1_000)) },
    reads: {
      durationS: num('BENCH_READS_S', 5, 1),
      rounds: Math.max(1, Math.round(num('BENCH_READS_ROUNDS', 2, 1))),
      connections: Math.max(1, Math.round(num('BENCH_CONNECTIONS', 64, 16))),
      warmupS: smoke ? 0 : 2,
    },
    modelCalls: { durationS: num('BENCH_MODEL_CALLS_S', 45, 3), modelDelayMs: 20 },
    drainS: num('BENCH_DRAIN_S', 90, 45),
  };
}

/**
 * The Temporal the benchmark, precis and the bare baselines talk to, as precis's own variables (TEMPORAL_ADDRESS,
 * TEMPORAL_UI_URL). Empty by default: precis's defaults, the dev server of `npm run stack -- up`. Set
 * BENCH_TEMPORAL_ADDRESS (e.g. 127.0.0.1:7243, the native production cluster of `npm run stack -- up --production`)
 * to compare the same scenarios on another cluster shape. Separate names, because childEnv drops every TEMPORAL_*
 * variable the user may have exported.
 */
export function benchTemporalEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const settings: Record<string, string> = {};
  if (env.BENCH_TEMPORAL_ADDRESS) settings.TEMPORAL_ADDRESS = env.BENCH_TEMPORAL_ADDRESS;
  if (env.BENCH_TEMPORAL_UI_URL) settings.TEMPORAL_UI_URL = env.BENCH_TEMPORAL_UI_URL;
  return settings;
}
