/** The shape of `bench/results/<timestamp>.json`: what every scenario reports, and how the report renders it. */

export type ScenarioId = 'throughput' | 'freshness' | 'absorption' | 'reads' | 'model-calls' | 'memory';

export const SCENARIO_IDS: readonly ScenarioId[] = [
  'throughput',
  'freshness',
  'absorption',
  'reads',
  'model-calls',
  'memory',
];

export type Setting = string | number | boolean;

/** A figure of the scenario; null when it could not be measured (said why in `notes`). */
export type Figure = number | null;

export interface Baseline {
  name: string;
  /** How it was measured, in one or two sentences. */
  description: string;
  value: Figure;
  unit: string;
}

export interface Target {
  /** e.g. "summaries/s ≥ 1.0× bare". */
  description: string;
  actual: Figure;
  /** The bound, in the unit of `actual`. */
  bound: number;
  comparison: '>=' | '<=';
  met: boolean | null;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface Chart {
  title: string;
  /** File name next to the report (in the run's chart folder). */
  file: string;
}

export interface ScenarioResult {
  id: ScenarioId;
  title: string;
  settings: Record<string, Setting>;
  /** The headline figure of precis. */
  value: Figure;
  unit: string;
  baseline: Baseline;
  /** value ÷ baseline.value, and what it means (higher or lower is better). */
  ratio: Figure;
  ratioMeaning: string;
  targets: Target[];
  /** Correctness: nothing lost, every dashboard got a summary, no process crashed… */
  checks: Check[];
  /** Further figures, flat, for the tables. */
  figures: Record<string, Figure>;
  /** Tables of the report: name → rows (first row = header). */
  tables: Record<string, (string | number)[][]>;
  charts: Chart[];
  notes: string[];
  durationMs: number;
  /** Set when the scenario failed to run to its end; its figures are then partial. */
  error?: string;
}

export interface Environment {
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    os: string;
    kernel: string;
    node: string;
    /** 1-minute load average when the run started and when it ended: how busy the (shared) machine was. */
    loadAverage: { start: number; end: number | null };
  };
  versions: Record<string, string>;
}

export interface BenchReport {
  benchmark: 'precis';
  schemaVersion: 1;
  runId: string;
  startedAt: string;
  finishedAt: string;
  smoke: boolean;
  environment: Environment;
  settings: Record<string, Setting>;
  scenarios: ScenarioResult[];
  /** Peak RSS (MB) per process per scenario. */
  memory: Record<string, Record<string, { peakMb: number; hwmMb: number; samples: number }>>;
}

/** A target check: `actual` against `bound`; unknown when nothing was measured. */
export function target(description: string, actual: Figure, comparison: '>=' | '<=', bound: number): Target {
  const met = actual === null ? null : comparison === '>=' ? actual >= bound : actual <= bound;
  return { description, actual, bound, comparison, met };
}
