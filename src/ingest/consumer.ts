import type { Client } from '@temporalio/client';
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { createProducer } from '../clients';
import type { Config } from '../config';
import type { Dashboard } from '../domain/dashboard';
import type { EventsHandover, PendingEvent } from '../domain/event';
import { NEWEST_EVENT_IDS } from '../domain/limits';
import type { DashboardRegistry } from '../domain/registry';
import type { Logger } from '../log';
import { emptyRedactionCounts, redactPii } from '../pipeline/redact';
import { inlineDataOf } from '../sources/inline-data';
import type { BlobStore } from '../store/blobs';
import { createIngestTracing, type IngestTracing } from '../tracing/kafka';
import type { EventDeduper } from './dedupe';
import { parseEventMessage } from './parse';
import { HandOverError, handOver } from './starter';

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
  /** Hand-overs Temporal found too large, split in two. */
  splitHandovers: number;
  pausedPartitions: number;
}

/** One valid event of the batch and the Kafka message it came in (its position, and what a dead letter keeps). */
interface Entry {
  event: PendingEvent;
  message: KafkaMessage;
}

interface Handover {
  dashboard: Dashboard;
  entries: Entry[];
  /** What the workflow gets; built once, so that a retried hand-over is the same signal. */
  signal?: EventsHandover;
  /** Set when Temporal found the signal too large: the older and the newer half, handed over in that order. */
  parts?: [Handover, Handover];
  /** Accepted by Temporal, or dead-lettered: a retry of the batch leaves it alone. */
  settled?: boolean;
}

interface DeadLetter {
  message: KafkaMessage;
  reason: string;
}

/**
 * Batches of different partitions handed over at once. A batch waits for Temporal's acceptance before the next one
 * of its partition, so this is what keeps Temporal busy while one partition waits.
 */
const PARTITIONS_IN_FLIGHT = 12;

/**
 * Thrown out of a batch to leave it uncommitted. `retriable` tells kafkajs whether to run the batch again (a
 * consumer that is stopping finds nothing to run) or to give up at once (the consumer failed for good).
 */
class BatchAbandoned extends Error {
  override readonly name = 'BatchAbandoned';
  constructor(
    message: string,
    readonly retriable: boolean,
  ) {
    super(message);
  }
}

/**
 * Consumes `dashboard.events`: validates each message, dead-letters what is unusable, drops redeliveries, and
 * hands the rest to the dashboards' workflows, one Temporal call per dashboard per Kafka batch. Offsets are
 * committed (explicitly: auto-commit is off) only after the dead letters were written and Temporal accepted every
 * signal. What Temporal refuses is handled by what the refusal means (see HandOverRefusal): while Temporal is
 * unreachable or rate limiting, the partition is paused and the hand-over retried with capped backoff, nothing
 * committed; a signal too large is split; events Temporal will never take are dead-lettered with its reason; and a
 * refusal no retry can cure (unknown namespace, no permission) stops the consumer and rejects `closed`, so the
 * process exits non-zero instead of spinning in silence. A kafkajs crash it will not recover from does the same.
 */
export class IngestConsumer {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly tracing: IngestTracing;
  readonly stats: IngestStats = {
    batches: 0,
    consumed: 0,
    deadLettered: 0,
    duplicates: 0,
    temporalCalls: 0,
    temporalFailures: 0,
    splitHandovers: 0,
    pausedPartitions: 0,
  };
  /**
   * Settles when the consumer stops: resolves after `stop()`, rejects when it stopped by itself (a fatal Temporal
   * refusal, a kafkajs crash without restart). The process exits non-zero on a rejection.
   */
  readonly closed: Promise<void>;
  private settleClosed!: { resolve: () => void; reject: (error: Error) => void };
  private inGroup = false;
  private failure: Error | null = null;
  private stopping = false;

  constructor(private readonly deps: IngestDeps) {
    this.consumer = deps.kafka.consumer({
      groupId: deps.config.kafka.groupId,
      sessionTimeout: deps.config.kafka.sessionTimeoutMs,
      heartbeatInterval: 3_000,
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
    this.tracing = createIngestTracing(deps.config);
    this.closed = new Promise<void>((resolve, reject) => {
      this.settleClosed = { resolve, reject };
    });
    // Whoever builds the consumer may not watch `closed` (tests): a rejection is reported through it, not as an
    // unhandled rejection.
    this.closed.catch(() => undefined);
    this.watchConsumer();
  }

  /** In the group and not failed: the process's readiness. */
  get ready(): boolean {
    return this.inGroup && this.failure === null;
  }

  private watchConsumer(): void {
    const { events } = this.consumer;
    this.consumer.on(events.GROUP_JOIN, () => {
      this.inGroup = true;
    });
    this.consumer.on(events.CRASH, ({ payload }) => {
      this.inGroup = false;
      if (payload.restart) {
        this.deps.logger.warn({ err: payload.error }, 'Kafka consumer crashed: kafkajs restarts it');
        return;
      }
      this.fail(
        new Error(`Kafka consumer crashed and will not restart: ${payload.error.message}`, {
          cause: payload.error,
        }),
      );
    });
    // kafkajs stops the consumer on every crash, before it says whether it restarts: only CRASH decides.
    this.consumer.on(events.STOP, () => {
      this.inGroup = false;
    });
  }

  /** Stops for good, and says why through `closed` (the process then exits non-zero). */
  private fail(error: Error): void {
    if (this.failure || this.stopping) return;
    this.failure = error;
    this.deps.logger.fatal({ err: error }, 'ingest consumer failed');
    this.settleClosed.reject(error);
  }

  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.deps.config.kafka.eventsTopic, fromBeginning: true });
    await this.consumer.run({
      eachBatchAutoResolve: false,
      // Offsets are committed by handleBatch alone, after Temporal's acknowledgement: kafkajs's auto-commit would
      // also commit on errors and rebalances, which is right only as long as nothing resolves offsets early.
      autoCommit: false,
      // Partitions are independent (order matters only within one): let a paused one not hold up the others.
      partitionsConsumedConcurrently: PARTITIONS_IN_FLIGHT,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  /** Stops fetching, lets the batches in flight finish (or give up without committing), disconnects. */
  async stop(): Promise<void> {
    this.stopping = this.failure === null;
    await this.consumer.disconnect();
    await this.producer.disconnect();
    this.settleClosed.resolve();
  }

  /** Each message's span ends with its batch: settled, or abandoned uncommitted (then it comes again). */
  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    try {
      await this.consumeBatch(payload);
    } catch (error) {
      this.tracing.settled(payload.batch.messages, error);
      throw error;
    }
    this.tracing.settled(payload.batch.messages);
  }

  private async consumeBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, commitOffsetsIfNecessary, heartbeat } = payload;
    const { config, registry, logger } = this.deps;
    if (this.failure) throw new BatchAbandoned(`consumer failed: ${this.failure.message}`, false);
    const deadLetters: DeadLetter[] = [];
    const byDashboard = new Map<string, Handover>();

    for (const message of batch.messages) {
      const outcome = parseEventMessage(message.key, message.value, registry, config.kafka.maxEventBytes);
      this.tracing.received(batch.topic, batch.partition, message, outcome.ok ? outcome.event : undefined);
      if (!outcome.ok) {
        deadLetters.push({ message, reason: outcome.reason });
        continue;
      }
      const { eventId, occurredAt, payload: inline, dashboardId } = outcome.event;
      const dashboard = registry.get(dashboardId) as Dashboard;
      const handover = byDashboard.get(dashboardId) ?? { dashboard, entries: [] };
      handover.entries.push({
        event: inline ? { eventId, occurredAt, payload: inline } : { eventId, occurredAt },
        message,
      });
      byDashboard.set(dashboardId, handover);
    }

    await this.dropDuplicates(byDashboard);
    await this.handOver(payload, [...byDashboard.values()], deadLetters);
    await this.deadLetter(batch.topic, batch.partition, deadLetters);

    const last = batch.messages.at(-1);
    if (last) {
      resolveOffset(last.offset);
      // The next offset to read: everything up to `last` was handed over or dead-lettered.
      const next = (BigInt(last.offset) + 1n).toString();
      await commitOffsetsIfNecessary({
        topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }],
      });
    }
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

  /** Events already handed over (redeliveries) are dropped; duplicates within the batch too (the first stays). */
  private async dropDuplicates(byDashboard: Map<string, Handover>): Promise<void> {
    const ids = [...byDashboard.values()].flatMap((h) => h.entries.map((e) => e.event.eventId));
    const seen = await this.deps.deduper.seen(ids);
    for (const [dashboardId, handover] of byDashboard) {
      const unique = new Map<string, Entry>();
      for (const entry of handover.entries)
        if (!seen.has(entry.event.eventId) && !unique.has(entry.event.eventId))
          unique.set(entry.event.eventId, entry);
        else this.tracing.duplicate(entry.message);
      this.stats.duplicates += handover.entries.length - unique.size;
      if (unique.size === 0) byDashboard.delete(dashboardId);
      else handover.entries = [...unique.values()];
    }
  }

  /**
   * One signal-with-start per dashboard. While Temporal does not answer, the partition is paused (no more
   * fetching) and what is still missing retried with capped, jittered backoff; the group heartbeat keeps the
   * partition. A fatal refusal abandons the batch, uncommitted, and fails the consumer.
   */
  private async handOver(
    { batch, heartbeat, pause, isRunning, isStale }: EachBatchPayload,
    handovers: Handover[],
    deadLetters: DeadLetter[],
  ): Promise<void> {
    let remaining = handovers;
    let delay = this.backoff.initialMs;
    let resume: (() => void) | null = null;
    try {
      for (;;) {
        const accepted: PendingEvent[] = [];
        const results = await Promise.allSettled(
          remaining.map((h) => this.deliver(batch.topic, batch.partition, h, accepted, deadLetters)),
        );
        await this.deps.deduper.remember(accepted.map((e) => e.eventId));
        const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        const fatal = errors.find((e) => e instanceof HandOverError && e.refusal === 'fatal');
        if (fatal) {
          this.fail(fatal as HandOverError);
          // Stopping waits for this batch, so it is not awaited here; the batch ends below, uncommitted.
          void this.consumer.stop().catch(() => undefined);
          throw new BatchAbandoned(`batch left uncommitted: ${(fatal as Error).message}`, false);
        }
        remaining = remaining.filter((h) => !h.settled);
        if (remaining.length === 0) return;

        this.stats.temporalFailures += remaining.length;
        if (!resume) {
          resume = pause();
          this.stats.pausedPartitions++;
          this.deps.logger.warn(
            { partition: batch.partition, dashboards: remaining.length, error: String(errors[0]) },
            'Temporal unavailable: partition paused, retrying',
          );
        }
        await heartbeat();
        if (!isRunning() || isStale())
          throw new BatchAbandoned('consumer stopping: batch left uncommitted', true);
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
   * Hands one dashboard's events over. Too large for Temporal: split in halves, handed over older half first, down
   * to single events; an event Temporal refuses alone, or rejects for good, is dead-lettered with Temporal's reason.
   * Transient and fatal refusals are thrown for the caller; what was settled stays settled across its retries.
   */
  private async deliver(
    topic: string,
    partition: number,
    handover: Handover,
    accepted: PendingEvent[],
    deadLetters: DeadLetter[],
  ): Promise<void> {
    if (handover.settled) return;
    if (handover.parts) {
      for (const part of handover.parts) await this.deliver(topic, partition, part, accepted, deadLetters);
      handover.settled = true;
      return;
    }
    handover.signal ??= await this.handoverOf(topic, partition, handover.entries);
    const { dashboard, signal } = handover;
    try {
      await this.tracing.handOver(
        dashboard.id,
        handover.entries.map((e) => e.message),
        () => handOver(this.deps.temporal, this.deps.config, dashboard, signal),
      );
      this.stats.temporalCalls++;
      accepted.push(...handover.entries.map((e) => e.event));
      handover.settled = true;
    } catch (error) {
      if (!(error instanceof HandOverError)) throw error;
      if (error.refusal === 'too-large' && handover.entries.length > 1) {
        const middle = Math.ceil(handover.entries.length / 2);
        const { dashboard, entries } = handover;
        handover.parts = [
          { dashboard, entries: entries.slice(0, middle) },
          { dashboard, entries: entries.slice(middle) },
        ];
        this.stats.splitHandovers++;
        await this.deliver(topic, partition, handover, accepted, deadLetters);
        return;
      }
      if (error.refusal === 'too-large' || error.refusal === 'rejected') {
        for (const { message } of handover.entries) deadLetters.push({ message, reason: error.message });
        handover.settled = true;
        return;
      }
      throw error;
    }
  }

  /**
   * The signal for one dashboard's events of a batch: count, newest ids, the Kafka position of the newest (the
   * workflow drops a redelivered position) and the inline data by reference.
   */
  private async handoverOf(topic: string, partition: number, entries: Entry[]): Promise<EventsHandover> {
    const events = entries.map((e) => e.event);
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
    const last = entries.at(-1)?.message;
    return {
      ...(last ? { position: { stream: `${topic}/${partition}`, offset: last.offset } } : {}),
      count: events.length,
      eventIds: events.slice(-NEWEST_EVENT_IDS).map((event) => event.eventId),
      newestOccurredAt,
      ...(inline ? { inlineRef: await this.deps.blobs.put(inline) } : {}),
    };
  }

  private async deadLetter(topic: string, partition: number, deadLetters: DeadLetter[]) {
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
    // The reason may quote the message (a JSON parse error does, so does a key mismatch): logged redacted. The
    // dead letter itself keeps the original bytes and reason, in the operator's own Kafka.
    for (const { message, reason } of deadLetters) {
      this.tracing.deadLettered(message);
      const logged = redactPii(reason, emptyRedactionCounts());
      this.deps.logger.warn({ partition, offset: message.offset, reason: logged }, 'event dead-lettered');
    }
  }
}
