import type { Client } from '@temporalio/client';
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { createProducer } from '../clients';
import type { Config } from '../config';
import type { PendingEvent } from '../domain/event';
import type { DashboardRegistry } from '../domain/registry';
import type { Logger } from '../log';
import { parseEventMessage } from './parse';
import { signalDashboard } from './starter';

export interface IngestDeps {
  kafka: Kafka;
  temporal: Client;
  registry: DashboardRegistry;
  config: Config;
  logger: Logger;
}

/** Headers added to a dead-lettered message; the original key, value and headers are kept as they were. */
export const DLQ_HEADERS = {
  reason: 'precis-dlq-reason',
  topic: 'precis-source-topic',
  partition: 'precis-source-partition',
  offset: 'precis-source-offset',
} as const;

/**
 * Consumes `dashboard.events`: validates each message, dead-letters what is unusable, and hands the rest to the
 * dashboards' workflows, one Temporal call per dashboard per Kafka batch. Offsets are committed only after the
 * dead letters were written and Temporal accepted every signal, so a crash anywhere replays instead of losing.
 */
export class IngestConsumer {
  private readonly consumer: Consumer;
  private readonly producer: Producer;

  constructor(private readonly deps: IngestDeps) {
    this.consumer = deps.kafka.consumer({
      groupId: deps.config.kafka.groupId,
      allowAutoTopicCreation: false,
    });
    this.producer = createProducer(deps.kafka);
  }

  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.deps.config.kafka.eventsTopic, fromBeginning: true });
    await this.consumer.run({
      eachBatchAutoResolve: false,
      autoCommit: true,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  async stop(): Promise<void> {
    // disconnect() lets the batch in flight finish and commits what it resolved.
    await this.consumer.disconnect();
    await this.producer.disconnect();
  }

  private async handleBatch({
    batch,
    resolveOffset,
    commitOffsetsIfNecessary,
    heartbeat,
  }: EachBatchPayload): Promise<void> {
    const { config, registry, logger } = this.deps;
    const deadLetters: { message: KafkaMessage; reason: string }[] = [];
    const byDashboard = new Map<string, PendingEvent[]>();

    for (const message of batch.messages) {
      const outcome = parseEventMessage(message.key, message.value, registry, config.kafka.maxEventBytes);
      if (!outcome.ok) {
        deadLetters.push({ message, reason: outcome.reason });
        continue;
      }
      const { eventId, occurredAt, payload } = outcome.event;
      const events = byDashboard.get(outcome.event.dashboardId) ?? [];
      events.push(payload ? { eventId, occurredAt, payload } : { eventId, occurredAt });
      byDashboard.set(outcome.event.dashboardId, events);
    }

    if (deadLetters.length > 0) {
      await this.producer.send({
        topic: config.kafka.deadLetterTopic,
        messages: deadLetters.map(({ message, reason }) => ({
          key: message.key,
          value: message.value,
          headers: {
            ...(message.headers as IHeaders | undefined),
            [DLQ_HEADERS.reason]: reason,
            [DLQ_HEADERS.topic]: batch.topic,
            [DLQ_HEADERS.partition]: String(batch.partition),
            [DLQ_HEADERS.offset]: message.offset,
          },
        })),
      });
      for (const { message, reason } of deadLetters) {
        logger.warn({ partition: batch.partition, offset: message.offset, reason }, 'event dead-lettered');
      }
    }

    await Promise.all(
      [...byDashboard].map(async ([dashboardId, events]) => {
        const dashboard = registry.get(dashboardId);
        if (dashboard) await signalDashboard(this.deps.temporal, config, dashboard, events);
      }),
    );
    await heartbeat();

    const last = batch.messages.at(-1);
    if (last) resolveOffset(last.offset);
    await commitOffsetsIfNecessary();
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
}
