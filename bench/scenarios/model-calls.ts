/**
 * Model calls saved: a bursty replay (Zipf dashboard popularity, bursts of events, mostly immaterial nudges, some
 * exact repeats, now and then a material move) against precis with the test model server as its model (fast, fixed
 * delay). Model calls per event against one call per event, by cause: coalescing (events folded into another run),
 * unchanged input, immaterial change, reply-cache hit, model call; and the freshness kept meanwhile.
 */

import { CostLedger } from '../../src/llm/cost';
import type { BenchContext } from '../context';
import { barChart } from '../report/svg';
import { type ScenarioResult, target } from '../report/types';
import { percentiles, ratio, round } from '../stats';
import { burstyReplay, dashboardId, dataChangedEvent, hourAnchor, inlinePayload } from '../workload';
import { crashCheck, drain, emptyResult, producePaced } from './common';

const TAG = 'mc';

export async function modelCallsScenario(
  ctx: BenchContext,
  result: ScenarioResult = emptyResult('model-calls', 'Model calls saved (bursty replay)'),
): Promise<ScenarioResult> {
  const { durationS, modelDelayMs } = ctx.options.modelCalls;
  const dashboards = ctx.options.dashboards;
  const replayOptions = {
    seed: ctx.options.seed,
    dashboards,
    durationMs: durationS * 1000,
    burstsPerSecond: 2,
    burstSize: [3, 15] as [number, number],
    burstSpreadMs: 200,
    zipfExponent: 1.1,
    materialShare: 0.08,
    repeatShare: 0.15,
  };
  const replay = burstyReplay(replayOptions);
  result.settings = {
    dashboards,
    widgetsPerDashboard: 3,
    source: 'inline (data in the events)',
    durationS,
    burstsPerSecond: replayOptions.burstsPerSecond,
    burstSize: `${replayOptions.burstSize[0]}–${replayOptions.burstSize[1]} events over ${replayOptions.burstSpreadMs} ms`,
    zipfExponent: replayOptions.zipfExponent,
    materialShare: replayOptions.materialShare,
    repeatShare: replayOptions.repeatShare,
    immaterialMove: '≤ 0.04 % (materiality 1 %)',
    materialMove: 'latest day ±10–20 % (one of three levels)',
    modelDelayMs,
    materialityPct: 1,
    seed: ctx.options.seed,
  };

  const model = await ctx.model();
  model.setDelay(modelDelayMs);
  const stack = await ctx.modelStack();
  const ledger = new CostLedger(ctx.redis, stack.config.redis.keyPrefix);
  // The stack may have served the freshness scenario before: count only what this replay caused.
  const outcomesBefore = await ledger.outcomes();
  const requestsBefore = model.server.requests.length;
  const { observer } = stack;
  // Freshness records of skipped runs: announced on pub/sub, or else polled from their key.
  observer.pollFreshness(
    Array.from({ length: dashboards }, (_, i) => dashboardId('inline', i)),
    50,
  );
  const anchor = hourAnchor(Date.now());
  const seq = new Array<number>(dashboards).fill(0);
  let next = 0;
  const start = Date.now();
  ctx.log(`  replaying ${replay.length} events in bursts over ${durationS} s`);
  const paced = await producePaced(
    ctx.kafka.producer,
    stack.config.kafka.eventsTopic,
    20,
    durationS * 1000 + 20,
    () => {
      const messages: { key: string; value: string }[] = [];
      const elapsed = Date.now() - start;
      while (next < replay.length && (replay[next]?.atMs ?? Number.POSITIVE_INFINITY) <= elapsed) {
        const event = replay[next++];
        if (!event) break;
        const n = (seq[event.index] ?? 0) + 1;
        seq[event.index] = n;
        observer.expect(TAG, event.index, n, Date.now());
        messages.push(
          dataChangedEvent(
            'inline',
            TAG,
            event.index,
            n,
            inlinePayload(event.index, anchor, event.level, event.jitter),
          ),
        );
      }
      return messages;
    },
  );
  const left = await drain(observer, TAG, ctx.options.drainS * 1000);
  const outcomesAfter = await ledger.outcomes();
  const outcomes: Record<string, number> = {};
  for (const [name, n] of Object.entries(outcomesAfter)) outcomes[name] = n - (outcomesBefore[name] ?? 0);
  const count = (name: string) => outcomes[name] ?? 0;
  const events = paced.produced;
  const runs = Object.values(outcomes).reduce((total, n) => total + n, 0);
  const modelRequests = model.server.requests.length - requestsBefore;
  const calls = count('model_call') + count('fallback_model');
  const latency = percentiles(observer.coverage(TAG).latenciesMs);
  const perEvent = ratio(modelRequests, events);
  result.value = round(perEvent, 4);
  result.unit = 'model calls per event';
  result.baseline = {
    name: 'one model call per event',
    description:
      'A summarizer without coalescing, change detection or cache calls the model once per event: the events produced in this run.',
    value: events,
    unit: 'calls',
  };
  result.ratio = round(perEvent, 4);
  result.ratioMeaning = 'model requests ÷ events (lower is better; 0.10 = 90 % fewer calls)';
  result.targets.push(target('≥ 90 % fewer model calls than one per event', round(perEvent, 4), '<=', 0.1));
  result.checks.push(
    {
      name: 'every event covered by a summary or freshness record',
      ok: left === 0 && events > 0,
      detail: `${events - left} of ${events} covered`,
    },
    {
      name: 'every pipeline run accounted for by a cause',
      ok: runs > 0 && runs <= events,
      detail: `${runs} runs for ${events} events`,
    },
    crashCheck(stack),
  );
  const moves = (kind: string) => replay.filter((e) => e.move === kind).length;
  result.tables.causes = [
    ['cause', 'events or runs', 'share of events'],
    ['events produced', events, '100 %'],
    ['coalesced (folded into another run)', events - runs, pct(events - runs, events)],
    ['pipeline runs', runs, pct(runs, events)],
    ['  unchanged input (no call)', count('unchanged'), pct(count('unchanged'), events)],
    ['  immaterial change (no call)', count('immaterial'), pct(count('immaterial'), events)],
    ['  reply cache hit (no call)', count('cache_hit'), pct(count('cache_hit'), events)],
    ['  model call', calls, pct(calls, events)],
    ['  local summarizer (degraded)', count('local_fallback'), pct(count('local_fallback'), events)],
    ['model requests at the server (repairs included)', modelRequests, pct(modelRequests, events)],
  ];
  result.tables.workload = [
    ['move the generator made', 'events'],
    ['material', moves('material')],
    ['immaterial', moves('immaterial')],
    ['exact repeat', moves('repeat')],
  ];
  result.figures = {
    events,
    runs,
    coalesced: events - runs,
    unchanged: count('unchanged'),
    immaterial: count('immaterial'),
    cacheHits: count('cache_hit'),
    modelCalls: calls,
    modelRequests,
    callsSavedPct: round(perEvent === null ? null : (1 - perEvent) * 100, 1),
    freshnessP50Ms: latency.p50,
    freshnessP99Ms: latency.p99,
    materialMoves: moves('material'),
  };
  result.charts.push(
    ctx.writeChart(
      'model-calls.svg',
      'Model calls by cause',
      barChart({
        title: 'What became of the events (count)',
        yLabel: 'events / runs',
        categories: ['events', 'coalesced', 'unchanged', 'immaterial', 'cache hit', 'model call'],
        series: [
          {
            name: 'count',
            values: [
              events,
              events - runs,
              count('unchanged'),
              count('immaterial'),
              count('cache_hit'),
              calls,
            ],
          },
        ],
      }),
    ),
  );
  return result;
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(1)} %` : 'n/a';
}
