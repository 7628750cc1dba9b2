import type { Redis } from 'ioredis';
import type { Producer } from 'kafkajs';
import type { Summary } from '../domain/summary';

/** Header carrying the summary version: consumers of the summaries topic dedupe on (key, version). */
export const SUMMARY_VERSION_HEADER = 'precis-summary-version';

/**
 * Publishes each stored summary version to the summaries topic (key = dashboard id) once. A marker in Redis,
 * written after Kafka acknowledged the send, makes a retried activity skip what was already published. The one
 * window left (a crash between the acknowledgement and the marker) republishes the same version with the same
 * header, which consumers recognise; an idempotent producer removes the broker-level duplicates.
 */
export class SummaryPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly topic: string,
  ) {}

  private marker(summary: Pick<Summary, 'dashboardId' | 'version'>): string {
    return `${this.keyPrefix}published:${summary.dashboardId}:${summary.version}`;
  }

  /** Returns false when this version had been published already. */
  async publish(summary: Summary): Promise<boolean> {
    if ((await this.redis.exists(this.marker(summary))) === 1) return false;
    await this.producer.send({
      topic: this.topic,
      messages: [
        {
          key: summary.dashboardId,
          value: JSON.stringify(summary),
          headers: { [SUMMARY_VERSION_HEADER]: String(summary.version) },
        },
      ],
    });
    await this.redis.set(this.marker(summary), '1', 'EX', 30 * 86_400);
    return true;
  }
}
