/**
 * `npm run bench` (through scripts/bench.sh): runs every scenario of issue #9 against the real local stack, each
 * against a baseline measured in the same run, and writes bench/results/<timestamp>.json and .md (charts in
 * bench/results/<timestamp>/, copies as latest.json and latest.md). Options: see bench/options.ts.
 *
 * A scenario that fails is reported as failed (its partial figures kept) and the run goes on; the exit code is
 * non-zero if any failed. Missed targets are findings, not failures. Every process and resource the run created
 * is stopped and deleted at the end, whatever happened.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchContext } from './context';
import { type BenchOptions, readOptions } from './options';
import { currentLoad, describeEnvironment } from './report/environment';
import { renderMarkdown } from './report/markdown';
import type { BenchReport, Environment, ScenarioId, ScenarioResult } from './report/types';
import { absorptionScenario } from './scenarios/absorption';
import { emptyResult } from './scenarios/common';
import { freshnessScenario } from './scenarios/freshness';
import { memoryScenario } from './scenarios/memory';
import { modelCallsScenario } from './scenarios/model-calls';
import { readsScenario } from './scenarios/reads';
import { throughputScenario } from './scenarios/throughput';

const SCENARIOS: Record<
  ScenarioId,
  {
    title: string;
    run: (ctx: BenchContext, result: ScenarioResult) => Promise<ScenarioResult> | ScenarioResult;
  }
> = {
  throughput: { title: 'Summary throughput (every dashboard busy)', run: throughputScenario },
  freshness: { title: 'Freshness (event → summary readable)', run: freshnessScenario },
  absorption: { title: 'Absorption (Kafka → Temporal-accepted)', run: absorptionScenario },
  reads: { title: 'Reads (API vs bare Fastify)', run: readsScenario },
  'model-calls': { title: 'Model calls saved (bursty replay)', run: modelCallsScenario },
  memory: { title: 'Memory (peak RSS per process)', run: memoryScenario },
};

export interface BenchRun {
  report: BenchReport;
  jsonPath: string;
  markdownPath: string;
}

function headline(result: ScenarioResult): string {
  if (result.error) return `FAILED: ${result.error}`;
  const targets = result.targets
    .map((t) => `${t.description}: ${t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED'}`)
    .join('; ');
  return `${result.value ?? 'n/a'} ${result.unit} vs ${result.baseline.value ?? 'n/a'} ${result.baseline.unit} → ratio ${result.ratio ?? 'n/a'}${targets ? ` | ${targets}` : ''}`;
}

function runSettings(options: BenchOptions, ctx: BenchContext): BenchReport['settings'] {
  return {
    scenarios: options.scenarios.join(','),
    smoke: options.smoke,
    launchMode: options.mode === 'dist' ? 'node dist/… (compiled)' : 'node --import tsx (sources)',
    seed: options.seed,
    dashboardsPerKind: options.dashboards,
    drainTimeoutS: options.drainS,
    logLevel: 'warn',
    processLogs: ctx.logDir,
    redisPrefix: `precis-bench:${ctx.runId}-<group>:`,
  };
}

export async function runBench(
  options: BenchOptions,
  log: (line: string) => void = console.log,
): Promise<BenchRun> {
  const startedAt = new Date().toISOString();
  const ctx = await BenchContext.create(options, log);
  log(
    `precis benchmark ${ctx.runId}: ${options.scenarios.join(', ')}${options.smoke ? ' (smoke)' : ''}, ` +
      `precis from ${options.mode}, logs in ${ctx.logDir}`,
  );
  const stopOnSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the benchmark's processes`);
    ctx.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal).once('SIGTERM', stopOnSignal);
  const results: ScenarioResult[] = [];
  let environment: Environment;
  try {
    environment = await describeEnvironment(ctx.temporal, ctx.engines.temporal.address, ctx.redis);
    // The memory baseline is the bare worker's footprint: memory alone starts it too.
    log('starting the processes under test');
    await ctx.prestart(options.scenarios);
    for (const id of options.scenarios) {
      const { title, run } = SCENARIOS[id];
      const result = emptyResult(id, title);
      ctx.memory.enter(id);
      log(`▶ ${title}`);
      const started = Date.now();
      try {
        await run(ctx, result);
      } catch (error) {
        result.error = error instanceof Error ? error.message : String(error);
        log(`  failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
      result.durationMs = Date.now() - started;
      results.push(result);
      log(`  ${headline(result)} (${(result.durationMs / 1000).toFixed(1)} s)`);
    }
  } finally {
    log('stopping processes, deleting topics and keys');
    await ctx.close();
    process.off('SIGINT', stopOnSignal).off('SIGTERM', stopOnSignal);
  }
  environment.machine.loadAverage.end = currentLoad();
  const report: BenchReport = {
    benchmark: 'precis',
    schemaVersion: 1,
    runId: ctx.runId,
    startedAt,
    finishedAt: new Date().toISOString(),
    smoke: options.smoke,
    environment,
    settings: runSettings(options, ctx),
    scenarios: results,
    memory: ctx.memory.peaks(),
  };
  mkdirSync(options.resultsDir, { recursive: true });
  const jsonPath = join(options.resultsDir, `${ctx.stamp}.json`);
  const markdownPath = join(options.resultsDir, `${ctx.stamp}.md`);
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(markdownPath, renderMarkdown(report));
  // Copies, not links: the chart paths inside are relative to the folder, which is the same.
  copyFileSync(jsonPath, join(options.resultsDir, 'latest.json'));
  copyFileSync(markdownPath, join(options.resultsDir, 'latest.md'));
  return { report, jsonPath, markdownPath };
}

if (require.main === module) {
  const started = Date.now();
  runBench(readOptions())
    .then(({ report, jsonPath, markdownPath }) => {
      console.log(`\nresults: ${jsonPath}\nreport:  ${markdownPath}`);
      for (const s of report.scenarios) console.log(`  ${s.id.padEnd(12)} ${headline(s)}`);
      console.log(`bench finished in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
      process.exit(report.scenarios.some((s) => s.error) ? 1 : 0);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
