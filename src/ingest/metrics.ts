import type { Kafka } from 'kafkajs';
import { Counter, Gauge, type Registry } from 'prom-client';
import { processRegistry } from '../metrics/process';
import type { IngestStats } from './consumer';

/**
 * The ingest process's Prometheus metrics, read from the consumer's counters and, for lag, from the broker at
 * scrape time (log-end offset minus the group's committed offset, per partition), with the process's default
 * metrics. Served by src/metrics/server.ts.
 */
export function createIngestMetrics(options: {
  kafka: Kafka;
  groupId: string;
  topic: string;
  stats: () => IngestStats;
  /** In the consumer group and not failed (see IngestConsumer.ready). */
  ready?: () => boolean;
}): { registry: Registry; close: () => Promise<void> } {
  const registry = processRegistry();
  const counter = (name: string, help: string, pick: (s: IngestStats) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(pick(options.stats()));
      },
    });
  counter('precis_ingest_messages_consumed_total', 'Messages read from the events topic.', (s) => s.consumed);
  counter(
    'precis_ingest_messages_dead_lettered_total',
    'Invalid messages sent to the dead-letter topic.',
    (s) => s.deadLettered,
  );
  counter('precis_ingest_duplicates_total', 'Redelivered events dropped.', (s) => s.duplicates);
  counter(
    'precis_ingest_temporal_calls_total',
    'Signal-with-start calls Temporal accepted.',
    (s) => s.temporalCalls,
  );
  counter(
    'precis_ingest_temporal_failures_total',
    'Signal-with-start calls that failed and were retried.',
    (s) => s.temporalFailures,
  );
  counter(
    'precis_ingest_split_handovers_total',
    'Hand-overs Temporal found too large, split in two.',
    (s) => s.splitHandovers,
  );
  const ready = options.ready;
  if (ready)
    new Gauge({
      name: 'precis_ingest_ready',
      help: '1 while the consumer is in its group and has not failed.',
      registers: [registry],
      collect() {
        this.set(ready() ? 1 : 0);
      },
    });
  new Gauge({
    name: 'precis_ingest_coalescing_ratio',
    help: 'Valid events per Temporal call since start (first-level coalescing).',
    registers: [registry],
    collect() {
      const s = options.stats();
      const valid = s.consumed - s.deadLettered - s.duplicates;
      this.set(s.temporalCalls === 0 ? 0 : valid / s.temporalCalls);
    },
  });
  new Gauge({
    name: 'precis_ingest_paused_partitions',
    help: 'Partitions paused because Temporal is unreachable.',
    registers: [registry],
    collect() {
      this.set(options.stats().pausedPartitions);
    },
  });
  const admin = options.kafka.admin();
  let connected: Promise<void> | null = null;
  new Gauge({
    name: 'precis_ingest_consumer_lag',
    help: 'Messages not yet committed by the consumer group, per partition.',
    labelNames: ['partition'],
    registers: [registry],
    async collect() {
      connected ??= admin.connect();
      await connected;
      const [ends, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(options.topic),
        admin.fetchOffsets({ groupId: options.groupId, topics: [options.topic] }),
      ]);
      this.reset();
      for (const end of ends) {
        const done = committed?.partitions.find((p) => p.partition === end.partition);
        const position = Math.max(0, Number(done?.offset ?? 0));
        this.set({ partition: String(end.partition) }, Math.max(0, Number(end.high) - position));
      }
    },
  });
  return {
    registry,
    close: async () => {
      if (connected) await admin.disconnect();
    },
  };
}
