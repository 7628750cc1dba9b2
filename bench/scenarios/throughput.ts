/**
 * Summary throughput with every dashboard busy: events for all dashboards, continuously, so each dashboard's
 * workflow always has work pending, and completed pipeline runs per second in the steady state (every new summary
 * version and every freshness check counts as a run). One event per dashboard per second is enough to keep every
 * workflow busy (a run takes longer than that under this load) without measuring a flood of signals instead of the
 * pipeline; BENCH_THROUGHPUT_TICK_MS=100 offers ten times more (the ingest then signals every batch). Baseline: the bare one-activity workflow on the same
 * Temporal server, as many in flight as the client keeps (default 100), for the same duration, right before.
 */
import { runBareWorkflows } from '../bare/temporal-load';
import type { BenchContext } from '../context';
import { lineChart } from '../report/svg';
import { type ScenarioResult, target } from '../report/types';
import { percentiles, perSecond, ratio, round } from '../stats';
import { dataChangedEvent } from '../workload';
import { crashCheck, drain, emptyResult, ms, producePaced } from './common';

const TAG = 'tp';

export async function throughputScenario(
  ctx: BenchContext,
  result: ScenarioResult = emptyResult('throughput', 'Summary throughput'),
): Promise<ScenarioResult> {
  const { durationS, warmupS, tickMs, eventsPerTick, bareConcurrency } = ctx.options.throughput;
  const dashboards = ctx.options.dashboards;
  const steadyS = Math.max(0.5, durationS - warmupS);
  result.settings = {
    dashboards,
    widgetsPerDashboard: 3,
    summarizer: 'local (no model configured)',
    quietPeriodMs: 0,
    eventsPerDashboardPerTick: eventsPerTick,
    tickMs,
    durationS,
    warmupExcludedS: warmupS,
    bareWorkflowsInFlight: bareConcurrency,
  };
  result.unit = 'runs/s';
  result.ratioMeaning = 'precis pipeline runs/s ÷ bare one-activity workflows/s (higher is better)';

  // Baseline first, while precis is idle.
  const bare = await ctx.bareWorker();
  ctx.log(`  bare one-activity workflow: ${bareConcurrency} in flight for ${durationS} s`);
  const bareStart = Date.now();
  const bareRun = await runBareWorkflows(ctx.temporal, {
    taskQueue: bare.taskQueue,
    idPrefix: ctx.name('tp-bare'),
    concurrency: bareConcurrency,
    untilMs: bareStart + durationS * 1000,
  });
  const bareSteady = bareRun.completedAtMs.filter(
    (t) => t >= bareStart + warmupS * 1000 && t < bareStart + durationS * 1000,
  ).length;
  const bareRate = bareSteady / steadyS;
  result.baseline = {
    name: 'bare Temporal workflow with one activity',
    description:
      `One workflow calling one activity that returns a short string, on its own task queue and worker process ` +
      `(SDK defaults), ${bareConcurrency} started and awaited at a time by one client, same server, same duration.`,
    value: round(bareRate, 2),
    unit: 'workflows/s',
  };

  // precis: every dashboard gets `eventsPerTick` events every tick.
  const stack = await ctx.localStack();
  const { observer } = stack;
  const seq = new Array<number>(dashboards).fill(0);
  ctx.log(
    `  precis: ${dashboards} dashboards × ${eventsPerTick} event(s) every ${tickMs} ms for ${durationS} s`,
  );
  const start = Date.now();
  const paced = await producePaced(
    ctx.kafka.producer,
    stack.config.kafka.eventsTopic,
    tickMs,
    durationS * 1000,
    () => {
      const messages: { key: string; value: string }[] = [];
      const now = Date.now();
      for (let index = 0; index < dashboards; index++) {
        for (let k = 0; k < eventsPerTick; k++) {
          const n = (seq[index] ?? 0) + 1;
          seq[index] = n;
          observer.expect(TAG, index, n, now);
          messages.push(dataChangedEvent('demo', TAG, index, n));
        }
      }
      return messages;
    },
  );
  const end = Date.now();
  const steadyRecords = observer.recordsBetween(start + warmupS * 1000, start + durationS * 1000);
  const rate = steadyRecords.length / steadyS;
  result.value = round(rate, 2);
  result.ratio = round(ratio(rate, bareRate), 3);
  result.targets.push(
    target('summaries/s ≥ 1.0× the bare one-activity workflow rate', result.ratio, '>=', 1.0),
  );

  ctx.log(`  produced ${paced.produced} events; waiting for the pipeline to catch up`);
  const left = await drain(observer, TAG, ctx.options.drainS * 1000);
  const runs = observer.recordsOf(TAG);
  const missing = Array.from({ length: dashboards }, (_, i) => i).filter(
    (i) => observer.coveredSeq(TAG, i) < (seq[i] ?? 0),
  );
  result.checks.push(
    {
      name: 'every event covered by a summary',
      ok: left === 0,
      detail: `${paced.produced - left} of ${paced.produced} covered within ${ctx.options.drainS} s after the load`,
    },
    {
      name: "every dashboard's last event reached its summary",
      ok: missing.length === 0,
      detail:
        missing.length === 0 ? `${dashboards} of ${dashboards}` : `missing: ${missing.length} dashboards`,
    },
    crashCheck(stack),
  );
  const latency = percentiles(observer.coverage(TAG).latenciesMs);
  result.figures = {
    eventsProduced: paced.produced,
    producerMaxLagMs: paced.maxLagMs,
    runsInSteadyWindow: steadyRecords.length,
    summaryVersions: steadyRecords.filter((r) => r.kind === 'summary').length,
    freshnessChecks: steadyRecords.filter((r) => r.kind === 'freshness').length,
    runsTotal: runs.length,
    eventsPerRun: round(runs.length > 0 ? paced.produced / runs.length : null, 1),
    eventToSummaryP50Ms: latency.p50,
    eventToSummaryP99Ms: latency.p99,
    bareCompleted: bareRun.completedAtMs.length,
    bareFailures: bareRun.failures,
    bareStartToCompletionP50Ms: percentiles(bareRun.latenciesMs).p50,
  };
  result.notes.push(
    `Under saturation an event waits for the run in progress: event → summary p50 ${ms(latency.p50)}, p99 ${ms(latency.p99)} (not the freshness target, which is measured at 10 and 1 changed dashboards/s).`,
  );
  const seconds = Math.ceil(durationS);
  result.charts.push(
    ctx.writeChart(
      'throughput.svg',
      'Completed runs per second',
      lineChart({
        title: 'Completed per second: precis pipeline runs vs bare one-activity workflows',
        yLabel: 'completed / s',
        xLabel: 'seconds since the load started',
        series: [
          {
            name: 'precis runs',
            values: perSecond(
              observer.recordsBetween(start, end).map((r) => r.arrivedAtMs),
              start,
              start + seconds * 1000,
            ),
          },
          {
            name: 'bare workflows',
            values: perSecond(bareRun.completedAtMs, bareStart, bareStart + seconds * 1000),
          },
        ],
      }),
    ),
  );
  return result;
}
