/**
 * The benchmark's smoke run (BENCH_SMOKE=1: every scenario for a few seconds, 10 dashboards, small counts) on the
 * real engines, so `npm run bench` never rots. It checks structure and correctness only: every scenario ran, has a
 * same-run baseline and a ratio, nothing was lost, every event reached a summary, no process crashed, and the
 * JSON, Markdown and charts were written. No timing or ratio is asserted: a smoke run's figures mean nothing.
 * precis runs from its TypeScript sources (BENCH_MODE=source), so no build is needed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOptions } from '../../bench/options';
import type { BenchReport } from '../../bench/report/types';
import { SCENARIO_IDS } from '../../bench/report/types';
import { type BenchRun, runBench } from '../../bench/run';

const resultsDir = mkdtempSync(join(tmpdir(), 'precis-bench-smoke-'));
const lines: string[] = [];
let run: BenchRun;

beforeAll(async () => {
  run = await runBench(
    readOptions({
      BENCH_SMOKE: '1',
      BENCH_MODE: 'source',
      BENCH_RESULTS_DIR: resultsDir,
    }),
    (line) => lines.push(line),
  );
}, 240_000);

afterAll(() => {
  rmSync(resultsDir, { recursive: true, force: true });
});

describe('npm run bench, smoke mode', () => {
  it('runs every scenario to its end', () => {
    const failed = run.report.scenarios.filter((s) => s.error).map((s) => `${s.id}: ${s.error}`);
    expect(failed).toEqual([]);
    expect(run.report.scenarios.map((s) => s.id)).toEqual([...SCENARIO_IDS]);
    expect(run.report.smoke).toBe(true);
  });

  it('reports every scenario against a baseline measured in the same run, with a ratio and targets', () => {
    for (const scenario of run.report.scenarios) {
      expect({ id: scenario.id, baseline: scenario.baseline.name.length > 0 }).toEqual({
        id: scenario.id,
        baseline: true,
      });
      expect({ id: scenario.id, baseline: typeof scenario.baseline.value }).toEqual({
        id: scenario.id,
        baseline: 'number',
      });
      expect({ id: scenario.id, ratio: typeof scenario.ratio }).toEqual({ id: scenario.id, ratio: 'number' });
      expect(scenario.targets.length).toBeGreaterThan(0);
    }
  });

  it('loses nothing: every check passes (every event reached a summary, offsets committed, no crash)', () => {
    const failing = run.report.scenarios.flatMap((s) =>
      s.checks.filter((c) => !c.ok).map((c) => `${s.id}: ${c.name} (${c.detail})`),
    );
    expect(failing).toEqual([]);
    const byId = new Map(run.report.scenarios.map((s) => [s.id, s]));
    expect(byId.get('throughput')?.checks.map((c) => c.name)).toContain(
      "every dashboard's last event reached its summary",
    );
    const absorption = byId.get('absorption');
    expect(absorption?.figures.absorbed).toBeGreaterThanOrEqual(Number(absorption?.settings.events));
    expect(absorption?.figures.deadLettered).toBe(0);
    const modelCalls = byId.get('model-calls');
    expect(modelCalls?.figures.events).toBeGreaterThan(0);
    // Every run is accounted for by one cause, and the causes add up to the runs.
    const f = modelCalls?.figures ?? {};
    expect(
      (f.unchanged ?? 0) + (f.immaterial ?? 0) + (f.cacheHits ?? 0) + (f.modelCalls ?? 0),
    ).toBeLessThanOrEqual(f.runs ?? 0);
  });

  it('measures the peak RSS of every precis process', () => {
    const memory = run.report.scenarios.find((s) => s.id === 'memory');
    const processes = Object.keys(memory?.figures ?? {});
    for (const role of ['pipeline', 'llm', 'ingest', 'api']) {
      expect(processes.some((name) => name.endsWith(`/${role}`))).toBe(true);
    }
  });

  it('writes the JSON, the Markdown report with machine, versions and settings, and the charts', () => {
    const json = JSON.parse(readFileSync(run.jsonPath, 'utf8')) as BenchReport;
    expect(json.runId).toBe(run.report.runId);
    expect(JSON.parse(readFileSync(join(resultsDir, 'latest.json'), 'utf8'))).toEqual(json);
    const markdown = readFileSync(run.markdownPath, 'utf8');
    for (const heading of ['## Summary', '## Machine and versions', '## Run settings']) {
      expect(markdown).toContain(heading);
    }
    for (const scenario of json.scenarios) {
      expect(markdown).toContain(`## ${scenario.title}`);
      for (const chart of scenario.charts) {
        expect(markdown).toContain(`](${chart.file})`);
        expect(readFileSync(join(resultsDir, chart.file), 'utf8')).toMatch(/^<svg /);
      }
    }
    expect(json.environment.machine.cpus).toBeGreaterThan(0);
    expect(Object.keys(json.environment.versions)).toEqual(
      expect.arrayContaining(['precisCommit', 'temporalServer', 'kafka', 'redis']),
    );
    expect(existsSync(join(resultsDir, 'latest.md'))).toBe(true);
  });
});
