import { type Client, isGrpcServiceError } from '@temporalio/client';
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { createProducer } from '../clients';
import type { Config } from '../config';
import type { Dashboard } from '../domain/dashboard';
import type { EventsHandover, PendingEvent } from '../domain/event';
import { NEWEST_EVENT_IDS } from '../domain/limits';
import type { DashboardRegistry } from '../domain/registry';
import type { Logger } from '../log';
import { inlineDataOf } from '../sources/inline-data';
import type { BlobStore } from '../store/blobs';
import type { EventDeduper } from './dedupe';
import { parseEventMessage } from './parse';
import { handOver } from './starter';

export interface IngestDeps {
  kafka: Kafka;
  temporal: Client;
  registry: DashboardRegistry;
  deduper: EventDeduper;
  /** Where inline event data goes, so that only its reference travels through Temporal. */
  blobs: BlobStore;
  config: Config;
  logger: Logger;
  /** Backoff while Temporal is unreachable; defaults suit production, tests shorten them. */
  backoff?: { initialMs: number; maxMs: number };
}

/** Headers added to a dead-lettered message; the original key, value and headers are kept as they were. */
export const DLQ_HEADERS = {
  reason: 'precis-dlq-reason',
  topic: 'precis-source-topic',
  partition: 'precis-source-partition',
  offset: 'precis-source-offset',
} as const;

/** What the consumer did since it started; the source of its metrics. */
export interface IngestStats {
  batches: number;
  consumed: number;
  deadLettered: number;
  duplicates: number;
  /** Signal-with-start calls Temporal accepted: consumed ÷ this is the first-level coalescing ratio. */
  temporalCalls: number;
  temporalFailures: number;
  pausedPartitions: number;
}

interface Handover {
  dashboard: Dashboard;
  events: PendingEvent[];
  messages: KafkaMessage[];
  /** What the workflow gets; built once, so that a retried hand-over is the same signal. */
  signal?: EventsHandover;
}

/**
 * Batches of different partitions handed over at once. A batch waits for Temporal's acceptance before the next one
 * of its partition, so this is what keeps Temporal busy while one partition waits.
 */
const PARTITIONS_IN_FLIGHT = 12;

class ConsumerStopping extends Error {
  override readonly name = 'ConsumerStopping';
}

/** gRPC INVALID_ARGUMENT: Temporal will never accept this call, so retrying it would block the partition forever. */
function isPermanentTemporalError(error: unknown): boolean {
  const candidates = [error, error instanceof Error ? error.cause : undefined];
  return candidates.some((e) => isGrpcServiceError(e) && e.code === 3);
}

/**
 * Consumes `dashboard.events`: validates each message, dead-letters what is unusable, drops redeliveries, and
 * hands the rest to the dashboards' workflows, one Temporal call per dashboard per Kafka batch. Offsets are
 * committed only after the dead letters were written and Temporal accepted every signal. While Temporal is
 * unreachable the partition is paused and the hand-over retried with backoff; nothing is committed, so nothing is
 * lost, and a crash anywhere replays instead.
 */
export class IngestConsumer {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly backoff: { initialMs: number; maxMs: number };
  readonly stats: IngestStats = {
    batches: 0,
    consumed: 0,
    deadLettered: 0,
    duplicates: 0,
    temporalCalls: 0,
    temporalFailures: 0,
    pausedPartitions: 0,
  };

  constructor(private readonly deps: IngestDeps) {
    this.consumer = deps.kafka.consumer({
      groupId: deps.config.kafka.groupId,
      allowAutoTopicCreation: false,
      // Larger fetches than kafkajs's default under a backlog: a batch becomes one signal per dashboard, so the more
      // events a batch holds, the fewer Temporal calls per event. Bounded, because every partition's batch is in
      // memory at once, decoded (8 MiB per partition ran the process out of its 160 MB heap on a 200,000-event
      // burst). Light traffic still gets small batches at once (minBytes 1).
      maxBytesPerPartition: 2 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
    });
    this.producer = createProducer(deps.kafka);
    this.backoff = deps.backoff ?? { initialMs: 250, maxMs: 15_000 };
  }

  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.deps.config.kafka.eventsTopic, fromBeginning: true });
    await this.consumer.run({
      eachBatchAutoResolve: false,
      autoCommit: true,
      // Partitions are independent (order matters only within one): let a paused one not hold up the others.
      partitionsConsumedConcurrently: PARTITIONS_IN_FLIGHT,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  /** Stops fetching, lets the batches in flight finish (or give up without committing), commits, disconnects. */
  async stop(): Promise<void> {
    await this.consumer.disconnect();
    await this.producer.disconnect();
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, commitOffsetsIfNecessary, heartbeat } = payload;
    const { config, registry, logger } = this.deps;
    const deadLetters: { message: KafkaMessage; reason: string }[] = [];
    const byDashboard = new Map<string, Handover>();

    for (const message of batch.messages) {
      const outcome = parseEventMessage(message.key, message.value, registry, config.kafka.maxEventBytes);
      if (!outcome.ok) {
        deadLetters.push({ message, reason: outcome.reason });
        continue;
      }
      const { eventId, occurredAt, payload: inline, dashboardId } = outcome.event;
      const dashboard = registry.get(dashboardId) as Dashboard;
      const handover = byDashboard.get(dashboardId) ?? { dashboard, events: [], messages: [] };
      handover.events.push(inline ? { eventId, occurredAt, payload: inline } : { eventId, occurredAt });
      handover.messages.push(message);
      byDashboard.set(dashboardId, handover);
    }

    await this.dropDuplicates(byDashboard);
    await this.handOver(payload, byDashboard, deadLetters);
    await this.deadLetter(batch.topic, batch.partition, deadLetters);

    const last = batch.messages.at(-1);
    if (last) resolveOffset(last.offset);
    await commitOffsetsIfNecessary();
    await heartbeat();
    this.stats.batches++;
    this.stats.consumed += batch.messages.length;
    logger.debug(
      {
        partition: batch.partition,
        messages: batch.messages.length,
        dashboards: byDashboard.size,
        deadLettered: deadLetters.length,
      },
      'batch handed to Temporal',
    );
  }

  /** Events already handed over (redeliveries) are dropped; duplicates within the batch too. */
  private async dropDuplicates(byDashboard: Map<string, Handover>): Promise<void> {
    const ids = [...byDashboard.values()].flatMap((h) => h.events.map((e) => e.eventId));
    const seen = await this.deps.deduper.seen(ids);
    for (const [dashboardId, handover] of byDashboard) {
      const unique = new Map<string, PendingEvent>();
      for (const event of handover.events) if (!seen.has(event.eventId)) unique.set(event.eventId, event);
      this.stats.duplicates += handover.events.length - unique.size;
      if (unique.size === 0) byDashboard.delete(dashboardId);
      else handover.events = [...unique.values()];
    }
  }

  /**
   * One signal-with-start per dashboard. While Temporal does not answer, the partition is paused (no more
   * fetching) and the hand-over retried with capped, jittered backoff; the group heartbeat keeps the partition.
   */
  private async handOver(
    { batch, heartbeat, pause, isRunning, isStale }: EachBatchPayload,
    byDashboard: Map<string, Handover>,
    deadLetters: { message: KafkaMessage; reason: string }[],
  ): Promise<void> {
    // Only what is still missing is retried: accepted dashboards are not signalled twice.
    const remaining = new Map(byDashboard);
    let delay = this.backoff.initialMs;
    let resume: (() => void) | null = null;
    try {
      for (;;) {
        const results = await Promise.allSettled(
          [...remaining.values()].map(async (h) => {
            h.signal ??= await this.handoverOf(batch.topic, batch.partition, h);
            await handOver(this.deps.temporal, this.deps.config, h.dashboard, h.signal);
          }),
        );
        const failed: [string, unknown][] = [];
        const accepted: PendingEvent[] = [];
        [...remaining.entries()].forEach(([dashboardId, handover], i) => {
          const result = results[i];
          if (result?.status === 'fulfilled') {
            this.stats.temporalCalls++;
            accepted.push(...handover.events);
          } else if (result?.status === 'rejected') failed.push([dashboardId, result.reason]);
        });
        for (const [dashboardId] of remaining)
          if (!failed.some(([id]) => id === dashboardId)) remaining.delete(dashboardId);
        for (const [dashboardId, error] of failed) {
          if (!isPermanentTemporalError(error)) continue;
          for (const message of remaining.get(dashboardId)?.messages ?? []) {
            deadLetters.push({ message, reason: `Temporal refused the event: ${(error as Error).message}` });
          }
          remaining.delete(dashboardId);
        }
        await this.deps.deduper.remember(accepted.map((e) => e.eventId));
        if (remaining.size === 0) return;

        this.stats.temporalFailures += remaining.size;
        if (!resume) {
          resume = pause();
          this.stats.pausedPartitions++;
          this.deps.logger.warn(
            { partition: batch.partition, dashboards: remaining.size, error: String(failed[0]?.[1]) },
            'Temporal unreachable: partition paused, retrying',
          );
        }
        await heartbeat();
        if (!isRunning() || isStale())
          throw new ConsumerStopping('consumer stopping: batch left uncommitted');
        await new Promise((resolve) => setTimeout(resolve, delay * (0.8 + Math.random() * 0.4)));
        delay = Math.min(delay * 2, this.backoff.maxMs);
      }
    } finally {
      if (resume) {
        resume();
        this.stats.pausedPartitions--;
        this.deps.logger.info({ partition: batch.partition }, 'partition resumed');
      }
    }
  }

  /**
   * The signal for one dashboard's events of a batch: count, newest ids, the Kafka position of the newest (the
   * workflow drops a redelivered position) and the inline data by reference.
   */
  private async handoverOf(topic: string, partition: number, handover: Handover): Promise<EventsHandover> {
    const { events, messages } = handover;
    let newest = Number.NEGATIVE_INFINITY;
    let newestOccurredAt = '';
    for (const event of events) {
      const at = Date.parse(event.occurredAt);
      if (at >= newest) {
        newest = at;
        newestOccurredAt = event.occurredAt;
      }
    }
    const inline = inlineDataOf(events);
    const last = messages.at(-1);
    return {
      ...(last ? { position: { stream: `${topic}/${partition}`, offset: last.offset } } : {}),
      count: events.length,
      eventIds: events.slice(-NEWEST_EVENT_IDS).map((event) => event.eventId),
      newestOccurredAt,
      ...(inline ? { inlineRef: await this.deps.blobs.put(inline) } : {}),
    };
  }

  private async deadLetter(
    topic: string,
    partition: number,
    deadLetters: { message: KafkaMessage; reason: string }[],
  ) {
    if (deadLetters.length === 0) return;
    await this.producer.send({
      topic: this.deps.config.kafka.deadLetterTopic,
      messages: deadLetters.map(({ message, reason }) => ({
        key: message.key,
        value: message.value,
        headers: {
          ...(message.headers as IHeaders | undefined),
          [DLQ_HEADERS.reason]: reason,
          [DLQ_HEADERS.topic]: topic,
          [DLQ_HEADERS.partition]: String(partition),
          [DLQ_HEADERS.offset]: message.offset,
        },
      })),
    });
    this.stats.deadLettered += deadLetters.length;
    for (const { message, reason } of deadLetters) {
      this.deps.logger.warn({ partition, offset: message.offset, reason }, 'event dead-lettered');
    }
  }
}
