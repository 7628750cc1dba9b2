/**
 * The absorption baseline: a bare kafkajs consumer (its own group, from the beginning, eachBatch, default
 * auto-commit) that only counts what it reads, until it has read `expected` messages or `timeoutMs` passed.
 */
import type { Kafka } from 'kafkajs';

export interface BareConsumeResult {
  messages: number;
  /** From the first batch read to the last (the reading itself, without group join). */
  readMs: number;
  /** From connect to the last message (group join included). */
  totalMs: number;
  eventsPerSecond: number;
}

export async function consumeAll(
  kafka: Kafka,
  options: { topic: string; groupId: string; expected: number; timeoutMs: number },
): Promise<BareConsumeResult> {
  const consumer = kafka.consumer({ groupId: options.groupId, allowAutoTopicCreation: false });
  const t0 = Date.now();
  let first = 0;
  let firstBatch = 0;
  let last = 0;
  let count = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const timer = setTimeout(() => finish(), options.timeoutMs);
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        if (first === 0) {
          first = Date.now();
          firstBatch = batch.messages.length;
        }
        count += batch.messages.length;
        last = Date.now();
        if (count >= options.expected) finish();
      },
    });
    await done;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  const readMs = Math.max(1, last - first);
  return {
    messages: count,
    readMs,
    totalMs: last - t0,
    // The first batch was read before the clock started: only what came after it counts for the rate.
    eventsPerSecond: (count - firstBatch) / (readMs / 1000),
  };
}
