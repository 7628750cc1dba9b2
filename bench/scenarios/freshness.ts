/**
 * Freshness: event produced → the dashboard's summary covering it announced (readable in the API), p50/p95/p99.
 *   (a) 10 changed dashboards/s over 100 dashboards (each changes every 10 s, events spread evenly), local summarizer
 *   (b) 1 changed dashboard/s, local summarizer
 *   (c) 1 changed dashboard/s with the test model server answering after a fixed 1 s, every event a material move
 *       (so every run calls the model, as with materiality 0); precis's own overhead = freshness − the model's
 *       time for that dashboard's calls (receipt → answer at the model server)
 * Quiet period 0 throughout. Baseline: the same event path through bare parts at the same rate (Kafka produce →
 * bare consumer → bare one-activity workflow started → completed), measured in the same run.
 */
import { measureEventPath } from '../bare/event-path';
import type { BenchContext } from '../context';
import type { DeliveryObserver } from '../observe';
import { barChart } from '../report/svg';
import { type ScenarioResult, target } from '../report/types';
import type { PrecisStack } from '../stack';
import { type Percentiles, percentiles, ratio, round } from '../stats';
import {
  type DashboardKind,
  dashboardId,
  dataChangedEvent,
  hourAnchor,
  inlinePayload,
  prng,
  shuffled,
} from '../workload';
import { crashCheck, drain, emptyResult, producePaced } from './common';

interface Variant {
  tag: string;
  label: string;
  perSecond: number;
  durationS: number;
  kind: DashboardKind;
}

interface VariantRun {
  /** Pipeline runs completed per second while the events were produced (all dashboards of the stack). */
  runsPerSecond: number;
  latency: Percentiles;
  /** Produce → broker acknowledgement of the events (part of the freshness, not precis's). */
  send: Percentiles;
  produced: number;
  uncovered: number;
  events: { index: number; producedAtMs: number; latencyMs: number }[];
}

/** Produces one event every 1/rate s, dashboards taking turns in a seeded order, and waits for coverage. */
async function runVariant(ctx: BenchContext, stack: PrecisStack, variant: Variant): Promise<VariantRun> {
  const dashboards = ctx.options.dashboards;
  const order = shuffled(
    Array.from({ length: dashboards }, (_, i) => i),
    prng(ctx.options.seed),
  );
  const seq = new Array<number>(dashboards).fill(0);
  const anchor = hourAnchor(Date.now());
  const observer: DeliveryObserver = stack.observer;
  ctx.log(
    `  precis ${variant.label}: ${variant.perSecond} changed dashboard(s)/s for ${variant.durationS} s`,
  );
  const started = Date.now();
  const paced = await producePaced(
    ctx.kafka.producer,
    stack.config.kafka.eventsTopic,
    1000 / variant.perSecond,
    variant.durationS * 1000,
    (tick) => {
      const index = order[tick % dashboards] ?? 0;
      const n = (seq[index] ?? 0) + 1;
      seq[index] = n;
      // Inline dashboards: every event moves the latest day by a new level (≥ 1 %, material), so every run needs
      // the model, as with materiality 0, and no reply is in the cache.
      const payload = variant.kind === 'inline' ? inlinePayload(index, anchor, 10 + n, 0) : undefined;
      observer.expect(variant.tag, index, n, Date.now());
      return [dataChangedEvent(variant.kind, variant.tag, index, n, payload)];
    },
  );
  const produced = Date.now();
  const runsPerSecond = observer.recordsBetween(started, produced).length / ((produced - started) / 1000);
  const uncovered = await drain(observer, variant.tag, ctx.options.drainS * 1000);
  const coverage = observer.coverage(variant.tag);
  return {
    runsPerSecond,
    latency: percentiles(coverage.latenciesMs),
    send: percentiles(paced.sendMs),
    produced: paced.produced,
    uncovered,
    events: coverage.events,
  };
}

/** The bare event path at 10/s, then at 1/s, on one consumer. */
async function bareEventPaths(ctx: BenchContext): Promise<[Percentiles, Percentiles]> {
  const bare = await ctx.bareWorker();
  const topic = await ctx.createTopic('fresh-bare');
  const durationMs = ctx.options.freshness.bareS * 1000;
  ctx.log(`  bare event path: 10 events/s, then 1 event/s, ${ctx.options.freshness.bareS} s each`);
  const [fast, slow] = await measureEventPath(ctx.kafka.kafka, ctx.kafka.producer, ctx.temporal, {
    topic,
    groupId: ctx.name('fresh-bare'),
    taskQueue: bare.taskQueue,
    phases: [
      { ratePerSecond: 10, durationMs },
      { ratePerSecond: 1, durationMs },
    ],
  });
  return [percentiles(fast?.latenciesMs ?? []), percentiles(slow?.latenciesMs ?? [])];
}

const row = (name: string, p: Percentiles, n: number | string = p.count) => [
  name,
  n,
  p.p50 ?? 'n/a',
  p.p95 ?? 'n/a',
  p.p99 ?? 'n/a',
  p.max ?? 'n/a',
];

export async function freshnessScenario(
  ctx: BenchContext,
  result: ScenarioResult = emptyResult('freshness', 'Freshness (event → summary readable)'),
): Promise<ScenarioResult> {
  const { fastS, slowS, bareS, modelDelayMs } = ctx.options.freshness;
  const dashboards = ctx.options.dashboards;
  result.settings = {
    dashboards,
    quietPeriodMs: 0,
    fastRatePerSecond: 10,
    fastDurationS: fastS,
    slowRatePerSecond: 1,
    slowDurationS: slowS,
    modelDelayMs,
    modelVariantMoves: 'every event a material move (new level, ≥ 1 %): every run calls the model',
    bareDurationS: bareS,
    arrival:
      'Redis pub/sub announcement of the summary or freshness record (published right after the write)',
  };
  result.unit = 'ms (p50 at 10/s)';
  result.ratioMeaning =
    'precis p50 ÷ bare event-path p50 at 10 events/s (lower is better; precis does real work)';

  const [bareFast, bareSlow] = await bareEventPaths(ctx);
  result.baseline = {
    name: 'bare event path (Kafka → consumer → one-activity workflow completed)',
    description:
      'Each event is produced to its own topic, read by a bare kafkajs consumer that starts the bare one-activity ' +
      'workflow; fresh when the workflow completed. Same rates, same engines, same run.',
    value: bareFast.p50,
    unit: 'ms p50 at 10/s',
  };

  const local = await ctx.localStack();
  // Work the previous scenario left (its drain timed out) competes with these events: say so.
  const backlog = local.observer.uncoveredTotal();
  result.figures.backlogAtStart = backlog;
  if (backlog > 0) {
    result.notes.push(
      `${backlog} events of the previous scenario were still pending when (a) started (its drain timed out): ` +
        '(a) and (b) ran on a busy pipeline.',
    );
  }
  const fast = await runVariant(ctx, local, {
    tag: 'f10',
    label: '(a) local',
    perSecond: 10,
    durationS: fastS,
    kind: 'demo',
  });
  const slow = await runVariant(ctx, local, {
    tag: 'f1',
    label: '(b) local',
    perSecond: 1,
    durationS: slowS,
    kind: 'demo',
  });
  result.checks.push(crashCheck(local));

  // (c) with the model at a fixed latency, on the precis that has a model configured (it is per process). If it
  // cannot run, (a) and (b) are still reported.
  const model = await ctx.model();
  model.setDelay(modelDelayMs);
  let withModel: VariantRun = {
    runsPerSecond: 0,
    latency: percentiles([]),
    send: percentiles([]),
    produced: 0,
    uncovered: 0,
    events: [],
  };
  let overhead = percentiles([]);
  try {
    const modelStack = await ctx.modelStack();
    const cStart = Date.now();
    withModel = await runVariant(ctx, modelStack, {
      tag: 'fm',
      label: `(c) model ${modelDelayMs} ms`,
      perSecond: 1,
      durationS: slowS,
      kind: 'inline',
    });
    result.checks.push(crashCheck(modelStack));
    overhead = percentiles(
      withModel.events.map(
        (e) =>
          e.latencyMs -
          model.modelTimeMs(dashboardId('inline', e.index), e.producedAtMs, e.producedAtMs + e.latencyMs),
      ),
    );
    result.figures.modelCallsInC = model.calls.filter((c) => c.answeredAtMs >= cStart).length;
  } catch (error) {
    result.error = `(c) with the model failed: ${error instanceof Error ? error.message : String(error)}`;
  }

  result.value = fast.latency.p50;
  result.ratio = round(ratio(fast.latency.p50, bareFast.p50), 2);
  result.targets.push(
    target('p50 ≤ 1 s at 10 changed dashboards/s', fast.latency.p50, '<=', 1000),
    target('p99 ≤ 3 s at 10 changed dashboards/s', fast.latency.p99, '<=', 3000),
    target('p50 ≤ 300 ms at 1 changed dashboard/s', slow.latency.p50, '<=', 300),
    target(`precis overhead over a ${modelDelayMs} ms model ≤ 250 ms p50`, overhead.p50, '<=', 250),
  );
  for (const [name, run] of [
    ['(a) 10/s', fast],
    ['(b) 1/s', slow],
    ['(c) 1/s, 1 s model', withModel],
  ] as const) {
    result.checks.push({
      name: `${name}: every event covered by a summary`,
      ok: run.uncovered === 0 && run.produced > 0,
      detail: `${run.produced - run.uncovered} of ${run.produced} covered`,
    });
  }
  result.tables.latency = [
    ['path', 'events', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
    row('precis (a) 10 changed dashboards/s, local summarizer', fast.latency),
    row('precis (b) 1 changed dashboard/s, local summarizer', slow.latency),
    row(`precis (c) 1/s, model ${modelDelayMs} ms: total`, withModel.latency),
    row(`precis (c) overhead = total − model time`, overhead),
    row('bare event path at 10/s', bareFast),
    row('bare event path at 1/s', bareSlow),
  ];
  result.figures = {
    ...result.figures,
    fastP50Ms: fast.latency.p50,
    fastP95Ms: fast.latency.p95,
    fastP99Ms: fast.latency.p99,
    slowP50Ms: slow.latency.p50,
    slowP99Ms: slow.latency.p99,
    modelTotalP50Ms: withModel.latency.p50,
    modelOverheadP50Ms: overhead.p50,
    modelOverheadP99Ms: overhead.p99,
    bareFastP50Ms: bareFast.p50,
    bareFastP99Ms: bareFast.p99,
    bareSlowP50Ms: bareSlow.p50,
    slowRatioToBare: round(ratio(slow.latency.p50, bareSlow.p50), 2),
    fastRunsPerSecond: round(fast.runsPerSecond, 2),
    produceAckP50MsAt10: fast.send.p50,
    produceAckP99MsAt10: fast.send.p99,
  };
  if (fast.runsPerSecond < 9) {
    result.notes.push(
      `At 10 changed dashboards/s precis completed ${fast.runsPerSecond.toFixed(1)} runs/s: below the offered rate, ` +
        'so pending work grew for the whole run and (a)’s latencies grow with its duration (no steady state).',
    );
  }
  result.charts.push(
    ctx.writeChart(
      'freshness.svg',
      'Freshness percentiles',
      barChart({
        title: 'Event → summary readable (ms)',
        yLabel: 'ms',
        categories: ['(a) 10/s', '(b) 1/s', '(c) model: overhead', 'bare 10/s', 'bare 1/s'],
        series: (['p50', 'p95', 'p99'] as const).map((p) => ({
          name: p,
          values: [fast.latency[p], slow.latency[p], overhead[p], bareFast[p], bareSlow[p]],
        })),
        references: [
          { value: 1000, label: 'p50 target at 10/s (1 s)' },
          { value: 3000, label: 'p99 target at 10/s (3 s)' },
        ],
      }),
    ),
  );
  return result;
}
