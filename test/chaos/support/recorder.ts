/**
 * Everything the chaos suite needs to judge a scenario afterwards: each event it produced (counted only once Kafka
 * acknowledged it), every dead letter (with its reason), and every message on the summaries topic.
 */
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { SUMMARY_VERSION_HEADER } from '../../../src/delivery/publisher';
import { DLQ_HEADERS } from '../../../src/ingest/consumer';

export interface DeadLetter {
  eventId: string | null;
  reason: string | null;
}

export interface PublishedSummary {
  dashboardId: string;
  version: string;
}

export class Recorder {
  /** Event ids Kafka acknowledged, per dashboard, in production order. */
  readonly produced = new Map<string, string[]>();
  readonly invalidProduced = new Map<string, string[]>();
  readonly deadLetters: DeadLetter[] = [];
  readonly published: PublishedSummary[] = [];
  private readonly consumers: Consumer[] = [];
  /** `topic/partition/offset` of every message read: a reader that re-reads after a broker restart counts once. */
  private readonly seen = new Set<string>();

  constructor(
    private readonly kafka: Kafka,
    private readonly producer: Producer,
    private readonly topics: { events: string; deadLetters: string; summaries: string },
    private readonly groupPrefix: string,
  ) {}

  /** Starts reading the dead-letter and summaries topics from their beginning. */
  async start(): Promise<void> {
    await this.read(this.topics.deadLetters, 'dlq', (value, headers) => {
      this.deadLetters.push({ eventId: eventIdOf(value), reason: headers[DLQ_HEADERS.reason] ?? null });
    });
    await this.read(this.topics.summaries, 'summaries', (_value, headers, key) => {
      this.published.push({ dashboardId: key, version: headers[SUMMARY_VERSION_HEADER] ?? '?' });
    });
  }

  /**
   * Sends one event, retrying until Kafka acknowledges it (a broker restart makes sends fail for a while). A send
   * that failed may still have landed: the same event then exists twice, which precis must absorb.
   */
  async send(
    dashboardId: string,
    event: { eventId: string },
    valid = true,
    timeoutMs = 90_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.producer.send({
          topic: this.topics.events,
          messages: [{ key: dashboardId, value: JSON.stringify(event) }],
        });
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    const into = valid ? this.produced : this.invalidProduced;
    const list = into.get(dashboardId) ?? [];
    list.push(event.eventId);
    into.set(dashboardId, list);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.consumers.map((consumer) => consumer.disconnect()));
  }

  private async read(
    topic: string,
    name: string,
    onMessage: (value: string, headers: Record<string, string>, key: string) => void,
  ): Promise<void> {
    const consumer = this.kafka.consumer({ groupId: `${this.groupPrefix}-${name}-reader` });
    this.consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const position = `${topic}/${partition}/${message.offset}`;
        if (this.seen.has(position)) return;
        this.seen.add(position);
        const headers: Record<string, string> = {};
        for (const [header, value] of Object.entries(message.headers ?? {})) headers[header] = String(value);
        onMessage(String(message.value ?? ''), headers, String(message.key ?? ''));
      },
    });
  }
}

function eventIdOf(value: string): string | null {
  try {
    const parsed: unknown = JSON.parse(value);
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'eventId' in parsed &&
      typeof parsed.eventId === 'string'
    )
      return parsed.eventId;
  } catch {
    // Not JSON: the dead letter is counted, it just names no event.
  }
  return null;
}
