/**
 * The freshness baseline: the same event path as precis's, through bare parts. An event is produced to a topic,
 * a bare kafkajs consumer receives it and starts the bare one-activity workflow (without waiting for it, as
 * precis's ingest does not wait for a summary), and the event is "fresh" when that workflow completed. Nothing is
 * collected, cleaned or summarized: it is the floor Kafka + Temporal put under any event → result path here.
 */
import type { Client } from '@temporalio/client';
import type { Kafka, Producer } from 'kafkajs';
import { sleep } from '../stats';
import type { bareOneActivity } from './temporal-workflow';

export interface EventPathPhase {
  ratePerSecond: number;
  durationMs: number;
}

export interface EventPathResult {
  latenciesMs: number[];
  produced: number;
  failures: number;
}

/** Runs the phases one after the other on one consumer (one group join), one result per phase. */
export async function measureEventPath(
  kafka: Kafka,
  producer: Producer,
  client: Client,
  options: { topic: string; groupId: string; taskQueue: string; phases: EventPathPhase[] },
): Promise<EventPathResult[]> {
  const results = options.phases.map((): EventPathResult => ({ latenciesMs: [], produced: 0, failures: 0 }));
  const consumer = kafka.consumer({ groupId: options.groupId, allowAutoTopicCreation: false });
  const inFlight = new Set<Promise<void>>();
  let joined: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    joined = resolve;
  });
  consumer.on(consumer.events.GROUP_JOIN, () => joined());
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: options.topic, fromBeginning: false });
    await consumer.run({
      partitionsConsumedConcurrently: 6,
      eachMessage: async ({ message }) => {
        // key = "<phase>-<n>", value = produce time (ms since epoch)
        const id = message.key?.toString() ?? '';
        const result = results[Number(id.split('-')[0])];
        const producedAt = Number(message.value?.toString() ?? 'NaN');
        if (!result) return;
        const run = client.workflow
          .execute<typeof bareOneActivity>('bareOneActivity', {
            taskQueue: options.taskQueue,
            workflowId: `${options.groupId}-${id}`,
            args: [id],
          })
          .then(
            () => {
              result.latenciesMs.push(Date.now() - producedAt);
            },
            () => {
              result.failures++;
            },
          );
        inFlight.add(run);
        run.finally(() => inFlight.delete(run));
      },
    });
    await Promise.race([ready, sleep(30_000)]);
    // A new group starts at the log end once assigned; give the assignment a moment to settle.
    await sleep(500);
    for (const [phase, { ratePerSecond, durationMs }] of options.phases.entries()) {
      const result = results[phase];
      if (!result) continue;
      const intervalMs = 1000 / ratePerSecond;
      const start = Date.now();
      for (let n = 0; Date.now() - start < durationMs; n++) {
        const due = start + n * intervalMs;
        if (due > Date.now()) await sleep(due - Date.now());
        const producedAt = Date.now();
        await producer.send({
          topic: options.topic,
          messages: [{ key: `${phase}-${n}`, value: String(producedAt) }],
        });
        result.produced++;
      }
      const deadline = Date.now() + 30_000;
      while (result.latenciesMs.length + result.failures < result.produced && Date.now() < deadline) {
        await sleep(50);
      }
    }
    await Promise.race([Promise.allSettled([...inFlight]), sleep(5_000)]);
  } finally {
    await consumer.disconnect();
  }
  return results;
}
