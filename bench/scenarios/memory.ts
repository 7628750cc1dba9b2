/**
 * Memory: peak resident set of every precis process over the scenarios (VmHWM and sampled VmRSS from /proc, see
 * bench/memory.ts), per scenario. Baseline: the bare Temporal worker process of the same run (a TypeScript worker
 * running a one-activity workflow), the floor of any Temporal worker here.
 */
import type { BenchContext } from '../context';
import { barChart } from '../report/svg';
import { type ScenarioResult, target } from '../report/types';
import { ratio, round } from '../stats';
import { emptyResult } from './common';

const LIMIT_MB = 250;

export function memoryScenario(
  ctx: BenchContext,
  result: ScenarioResult = emptyResult('memory', 'Memory (peak RSS per process)'),
): ScenarioResult {
  const overall = ctx.memory.overall();
  const peaks = ctx.memory.peaks();
  const precis = Object.entries(overall).filter(([, p]) => p.precis);
  const bare = Object.entries(overall).find(
    ([name, p]) => !p.precis && name.includes('temporal-worker'),
  )?.[1];
  const worst = precis.reduce<[string, number] | null>(
    (max, [name, p]) => (max === null || p.peakMb > max[1] ? [name, p.peakMb] : max),
    null,
  );
  result.settings = {
    sampleIntervalMs: 1000,
    source: '/proc/<pid>/status VmHWM and VmRSS',
    limitMb: LIMIT_MB,
  };
  result.unit = 'MB (worst precis process)';
  result.value = worst?.[1] ?? null;
  result.baseline = {
    name: 'bare Temporal worker process',
    description:
      'Peak RSS of the bare one-activity Temporal worker of this run (started from the same build mode).',
    value: bare?.peakMb ?? null,
    unit: 'MB',
  };
  result.ratio = round(ratio(result.value, result.baseline.value), 2);
  result.ratioMeaning = 'worst precis process peak ÷ bare Temporal worker peak (lower is better)';
  result.targets.push(
    target(
      `≤ ${LIMIT_MB} MB peak RSS per process (worst: ${worst?.[0] ?? 'n/a'})`,
      result.value,
      '<=',
      LIMIT_MB,
    ),
  );
  for (const [name, p] of precis) result.figures[name] = p.peakMb;
  result.checks.push({
    name: 'every precis process was sampled',
    ok: precis.length > 0,
    detail: `${precis.length} processes`,
  });
  const scenarios = [...new Set(Object.values(peaks).flatMap((byScenario) => Object.keys(byScenario)))];
  result.tables.peakRssMb = [
    ['process', ...scenarios, 'overall'],
    ...Object.entries(peaks).map(([name, byScenario]) => [
      name,
      ...scenarios.map((s) => byScenario[s]?.peakMb ?? '–'),
      overall[name]?.peakMb ?? '–',
    ]),
  ];
  const names = Object.keys(overall);
  result.charts.push(
    ctx.writeChart(
      'memory.svg',
      'Peak RSS per process',
      barChart({
        title: 'Peak RSS per process over the run (MB)',
        yLabel: 'MB',
        categories: names,
        series: [{ name: 'peak RSS', values: names.map((n) => overall[n]?.peakMb ?? null) }],
        references: [{ value: LIMIT_MB, label: `limit ${LIMIT_MB} MB` }],
      }),
    ),
  );
  return result;
}
