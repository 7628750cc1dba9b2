/**
 * Reads: the read benchmark (bench/api-read.ts) against the API process of the local precis, serving a summary
 * the pipeline made, with auth and the per-key rate limit on (limit out of reach), against a bare Fastify route
 * sending the same bytes, alternating rounds, autocannon in its own process.
 */
import { measureReads } from '../api-read';
import type { BenchContext } from '../context';
import { barChart } from '../report/svg';
import { type ScenarioResult, target } from '../report/types';
import { round } from '../stats';
import { dashboardId, dataChangedEvent } from '../workload';
import { crashCheck, drain, emptyResult } from './common';

const TAG = 'rd';

export async function readsScenario(
  ctx: BenchContext,
  result: ScenarioResult = emptyResult('reads', 'Reads (API vs bare Fastify)'),
): Promise<ScenarioResult> {
  const stack = await ctx.localStack();
  // One fresh summary to serve (the scenario may run alone).
  stack.observer.expect(TAG, 0, 1, Date.now());
  await ctx.kafka.producer.send({
    topic: stack.config.kafka.eventsTopic,
    messages: [dataChangedEvent('demo', TAG, 0, 1)],
  });
  const left = await drain(stack.observer, TAG, ctx.options.drainS * 1000);
  if (left > 0) throw new Error('no summary to serve: the pipeline did not summarize the dashboard');

  const { durationS, rounds, connections, warmupS } = ctx.options.reads;
  const route = `/v1/dashboards/${dashboardId('demo', 0)}/summary`;
  result.settings = {
    route: `GET ${route}`,
    connections,
    roundsPerTarget: rounds,
    roundDurationS: durationS,
    warmupS,
    auth: 'API key, rate limit on (out of reach)',
    loadGenerator: 'autocannon, own process',
  };
  const reads = await measureReads({
    durationS,
    rounds,
    connections,
    warmupS,
    api: { url: `${stack.apiUrl}${route}`, headers: { authorization: `Bearer ${stack.apiKey}` } },
    log: ctx.log,
  });
  result.unit = 'req/s';
  result.value = round(reads.api.requestsPerSecond, 0);
  result.baseline = {
    name: 'bare Fastify constant JSON route',
    description: `A Fastify app with one route returning the API's response body as a constant object (${reads.bareBodyBytes} B), in the benchmark's process.`,
    value: round(reads.bare.requestsPerSecond, 0),
    unit: 'req/s',
  };
  result.ratio = reads.ratio;
  result.ratioMeaning = 'API req/s ÷ bare route req/s (higher is better)';
  result.targets.push(
    target('≥ 0.9× bare Fastify requests/s', reads.ratio, '>=', 0.9),
    target("API p99 within 1.2× the bare route's p99", reads.p99Factor, '<=', 1.2),
  );
  result.checks.push(
    {
      name: 'every API response was 2xx',
      ok: reads.api.non2xx === 0 && reads.api.errors === 0,
      detail: `non-2xx ${reads.api.non2xx}, errors ${reads.api.errors} of ${reads.api.requests}`,
    },
    crashCheck(stack),
  );
  result.figures = {
    apiP50Ms: reads.api.p50Ms,
    apiP99Ms: reads.api.p99Ms,
    bareP50Ms: reads.bare.p50Ms,
    bareP99Ms: reads.bare.p99Ms,
    p99Factor: reads.p99Factor,
    bodyBytes: reads.bodyBytes,
    apiRequests: reads.api.requests,
  };
  result.tables.rounds = [
    ['round', 'API req/s', 'API p99 ms', 'bare req/s', 'bare p99 ms'],
    ...reads.perRound.map((r, i) => [
      i + 1,
      Math.round(r.api.requestsPerSecond),
      r.api.p99Ms,
      Math.round(r.bare.requestsPerSecond),
      r.bare.p99Ms,
    ]),
  ];
  result.charts.push(
    ctx.writeChart(
      'reads.svg',
      'Reads',
      barChart({
        title: 'Requests/s: API summary route vs bare Fastify route',
        yLabel: 'requests / s',
        categories: ['API', 'bare Fastify'],
        series: [{ name: 'req/s', values: [result.value, result.baseline.value] }],
      }),
    ),
  );
  return result;
}
