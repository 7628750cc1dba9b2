/**
 * Absorption: a burst of events over the hot dashboards is written to the events topic while precis's ingest is
 * stopped; then ingest starts and the rate from Kafka to Temporal-accepted is measured by the consumer group's
 * committed offsets (ingest commits only after Temporal accepted the signal-with-start of every event in the
 * batch). Nothing lost: committed offsets reach the end on every partition, the ingest counted every message and
 * dead-lettered none, and every dashboard's pipeline produced a summary covering its last event of the burst.
 * Baseline: a bare kafkajs consumer (own group, positioned at the burst's first offsets) reading the same burst.
 */
import { consumeAll } from '../bare/kafka-consumer';
import type { BenchContext } from '../context';
import { committedOffsets, endOffsets, produceAll, sum } from '../kafka';
import { barChart } from '../report/svg';
import { type ScenarioResult, target } from '../report/types';
import { ratio, round, sleep } from '../stats';
import { dataChangedEvent } from '../workload';
import { crashCheck, drain, emptyResult } from './common';

const TAG = 'abs';

/** Reads the counters of the ingest's Prometheus text (`name value` lines, no labels). */
export async function ingestCounters(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(5000) })).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(precis_ingest_[a-z_]+)\s+([0-9.e+-]+)$/.exec(line);
    if (match?.[1] && match[2]) out[match[1]] = Number(match[2]);
  }
  return out;
}

export async function absorptionScenario(
  ctx: BenchContext,
  result: ScenarioResult = emptyResult('absorption', 'Absorption (Kafka → Temporal-accepted)'),
): Promise<ScenarioResult> {
  const total = ctx.options.absorption.events;
  const dashboards = ctx.options.dashboards;
  const stack = await ctx.localStack();
  const { admin, kafka, producer } = ctx.kafka;
  const topic = stack.config.kafka.eventsTopic;
  const groupId = stack.config.kafka.groupId;
  const timeoutMs = Math.max(60_000, ctx.options.drainS * 1000 + total);
  result.settings = {
    events: total,
    hotDashboards: dashboards,
    partitions: stack.config.kafka.topicPartitions,
    eventsPerDashboard: Math.ceil(total / dashboards),
    pipelineWorkerRunning: true,
    offsetPollMs: 100,
  };
  result.unit = 'events/s';
  result.ratioMeaning = 'precis ingest events/s ÷ bare kafkajs consumer events/s (higher is better)';

  ctx.log('  stopping ingest; producing the burst');
  await stack.stopRole('ingest');
  const before = await endOffsets(admin, topic);
  const committedBefore = await committedOffsets(admin, groupId, topic);
  const seq = new Array<number>(dashboards).fill(0);
  const messages = Array.from({ length: total }, (_, n) => {
    const index = n % dashboards;
    const s = (seq[index] ?? 0) + 1;
    seq[index] = s;
    return dataChangedEvent('demo', TAG, index, s);
  });
  const producedAt = Date.now();
  seq.forEach((last, index) => {
    if (last > 0) stack.observer.expect(TAG, index, last, producedAt);
  });
  await produceAll(producer, topic, messages);
  const produceMs = Date.now() - producedAt;
  const after = await endOffsets(admin, topic);
  const burst = sum(after) - sum(before);
  ctx.log(`  produced ${burst} events in ${(produceMs / 1000).toFixed(1)} s`);

  // Baseline: its own group, positioned where the burst begins, so it reads exactly the burst.
  const bareGroup = ctx.name('abs-bare');
  await admin.setOffsets({
    groupId: bareGroup,
    topic,
    partitions: [...before].map(([partition, offset]) => ({ partition, offset: String(offset) })),
  });
  const bare = await consumeAll(kafka, { topic, groupId: bareGroup, expected: burst, timeoutMs });
  ctx.log(`  bare consumer: ${bare.messages} messages, ${Math.round(bare.eventsPerSecond)} events/s`);
  result.baseline = {
    name: 'bare kafkajs consumer',
    description:
      'kafkajs consumer with default options and its own group, eachBatch counting messages, reading the same burst ' +
      'from the same topic right before precis.',
    value: round(bare.eventsPerSecond, 0),
    unit: 'events/s',
  };

  // precis: start ingest and follow the group's committed offsets.
  const start = sum(committedBefore);
  const end = sum(after);
  const samples: { at: number; committed: number }[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const committed = sum(
        await committedOffsets(admin, groupId, topic).catch(() => new Map<number, number>()),
      );
      samples.push({ at: Date.now(), committed });
      if (committed >= end) return;
      await sleep(100);
    }
  })();
  const ingestStart = Date.now();
  await stack.startRole('ingest');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && (samples.at(-1)?.committed ?? 0) < end) await sleep(100);
  polling = false;
  await poller;
  const firstMove = samples.findIndex((s) => s.committed > start);
  const done = samples.find((s) => s.committed >= end);
  // The last sample before the first commit bounds when consumption began (conservative by up to one poll).
  const began = firstMove > 0 ? samples[firstMove - 1]?.at : ingestStart;
  const absorbed = end - start;
  const rate = done && began !== undefined ? absorbed / (Math.max(1, done.at - began) / 1000) : null;
  result.value = round(rate, 0);
  result.ratio = round(ratio(rate, bare.eventsPerSecond), 3);
  result.targets.push(target('≥ 20,000 events/s with 100 hot dashboards', result.value, '>=', 20_000));

  const counters = await ingestCounters(stack.metricsUrl).catch(() => ({}) as Record<string, number>);
  const committedAfter = await committedOffsets(admin, groupId, topic);
  const behind = [...after].filter(([partition, offset]) => (committedAfter.get(partition) ?? 0) < offset);
  ctx.log('  waiting for every dashboard to summarize its last event of the burst');
  const left = await drain(stack.observer, TAG, ctx.options.drainS * 1000);
  const consumed = counters.precis_ingest_messages_consumed_total ?? null;
  const deadLettered = counters.precis_ingest_messages_dead_lettered_total ?? null;
  const temporalCalls = counters.precis_ingest_temporal_calls_total ?? null;
  result.checks.push(
    {
      name: 'committed offsets reached the end of every partition (all accepted by Temporal)',
      ok: behind.length === 0,
      detail:
        behind.length === 0
          ? `${absorbed} events committed`
          : `partitions behind: ${behind.map(([p]) => p).join(', ')}`,
    },
    {
      name: 'ingest consumed every message, dead-lettered none',
      ok: consumed !== null && consumed >= absorbed && deadLettered === 0,
      detail: `consumed ${consumed ?? 'n/a'} of ${absorbed}, dead-lettered ${deadLettered ?? 'n/a'}`,
    },
    {
      name: "every dashboard's pipeline covered its last event of the burst (reached the workflows)",
      ok: left === 0,
      detail: `${dashboards - left} of ${dashboards} dashboards`,
    },
    {
      name: 'bare consumer read the whole burst',
      ok: bare.messages >= burst,
      detail: `${bare.messages} of ${burst}`,
    },
    crashCheck(stack),
  );
  result.figures = {
    burstEvents: burst,
    produceSeconds: round(produceMs / 1000, 1),
    absorbed,
    absorbSeconds: done && began !== undefined ? round((done.at - began) / 1000, 2) : null,
    fromIngestStartSeconds: done ? round((done.at - ingestStart) / 1000, 2) : null,
    eventsPerSecondFromIngestStart: done ? round(absorbed / ((done.at - ingestStart) / 1000), 0) : null,
    consumed,
    deadLettered,
    duplicates: counters.precis_ingest_duplicates_total ?? null,
    temporalCalls,
    eventsPerTemporalCall: round(ratio(absorbed, temporalCalls), 1),
    temporalFailures: counters.precis_ingest_temporal_failures_total ?? null,
    bareEventsPerSecond: round(bare.eventsPerSecond, 0),
    bareReadSeconds: round(bare.readMs / 1000, 2),
  };
  if (!done) result.notes.push(`The ingest did not commit the whole burst within ${timeoutMs / 1000} s.`);
  result.notes.push(
    'The pipeline worker keeps running during the burst (the workflows the ingest signals start at once), so the ' +
      'ingest shares the 2 cores with it, as it would in production.',
  );
  result.charts.push(
    ctx.writeChart(
      'absorption.svg',
      'Absorption rate',
      barChart({
        title: 'Events/s from Kafka: precis ingest (to Temporal-accepted) vs bare consumer',
        yLabel: 'events / s',
        categories: ['precis ingest', 'bare kafkajs consumer'],
        series: [{ name: 'events/s', values: [result.value, round(bare.eventsPerSecond, 0)] }],
        references: [{ value: 20_000, label: 'target 20,000/s' }],
      }),
    ),
  );
  return result;
}
