import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { type DashboardEvent, dashboardEventSchema } from '../src/domain/event';
import { withTimeout } from './timeout';

/**
 * Publishes refresh requests on the events topic, keyed by dashboard id, exactly like any producer's event: the
 * ingest consumer validates, coalesces and rate-limits them with everything else, so a refresh button cannot
 * bypass the debounce. A send that times out may still land; a retried request then adds one more event, which
 * the workflow folds into the same run.
 */
export class RefreshPublisher {
  private connecting: Promise<void> | null = null;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly timeoutMs: number,
  ) {
    producer.on(producer.events.DISCONNECT, () => {
      this.connecting = null;
    });
  }

  async publish(dashboardId: string): Promise<DashboardEvent> {
    const event = dashboardEventSchema.parse({
      schemaVersion: 1,
      eventId: randomUUID(),
      type: 'dashboard.refresh_requested',
      dashboardId,
      occurredAt: new Date().toISOString(),
    });
    const send = this.connect().then(() =>
      this.producer.send({
        topic: this.topic,
        messages: [{ key: dashboardId, value: JSON.stringify(event) }],
      }),
    );
    await withTimeout(send, this.timeoutMs, 'Kafka');
    return event;
  }

  /** Connects on first use and again after a disconnect, so a Kafka outage at start-up is not permanent. */
  private connect(): Promise<void> {
    if (this.connecting === null) {
      const connecting = this.producer.connect();
      this.connecting = connecting;
      connecting.catch(() => {
        if (this.connecting === connecting) this.connecting = null;
      });
    }
    return this.connecting;
  }
}
