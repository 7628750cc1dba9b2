/**
 * Emits "data changed" events for the sample dashboards, so that a fresh `npm start` shows summaries.
 * Every PRECIS_DEMO_INTERVAL_MS (default 15 s) each dashboard gets a small burst of events; the inline
 * `partner-reach` widget of `social-listening` carries its data in the event.
 */
import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import { createKafka, createProducer } from '../src/clients';
import type { Config } from '../src/config';
import type { DashboardEvent, InlinePayload } from '../src/domain/event';
import { DashboardRegistry } from '../src/domain/registry';
import type { Logger } from '../src/log';
import { runMain, type Service } from '../src/process';
import { startSendSpan } from '../src/tracing/kafka';
import { startTracing } from '../src/tracing/provider';

const HOUR_MS = 3_600_000;

function inlinePayload(widgetIds: string[], now: number): InlinePayload {
  const widgets: InlinePayload['widgets'] = {};
  for (const widgetId of widgetIds) {
    const points = [];
    for (let i = 47; i >= 0; i--) {
      const t = Math.floor(now / HOUR_MS) * HOUR_MS - i * HOUR_MS;
      points.push({
        t: new Date(t).toISOString(),
        v: Math.round(20_000 + 5_000 * Math.sin(t / (6 * HOUR_MS)) + (i < 24 ? 1_500 : 0)),
      });
    }
    widgets[widgetId] = points;
  }
  return { widgets };
}

export async function buildDemoProducer(config: Config, logger: Logger): Promise<Service> {
  const registry = DashboardRegistry.fromDirectory(config.dashboardsDir);
  const intervalMs = Number(process.env.PRECIS_DEMO_INTERVAL_MS ?? 15_000);
  const burst = Number(process.env.PRECIS_DEMO_BURST ?? 5);
  const producer = createProducer(createKafka(config, 'demo', logger));
  // With PRECIS_TRACING=otlp each demo event starts a trace that runs on through the ingest to its summary.
  const tracing = startTracing(config, 'precis-demo-producer', logger);
  await producer.connect();

  const emit = async (): Promise<void> => {
    const now = Date.now();
    const spans: Span[] = [];
    const messages = registry.list().flatMap((dashboard) => {
      const inline = dashboard.widgets.filter((w) => w.source.type === 'inline').map((w) => w.id);
      return Array.from({ length: burst }, () => {
        const event: DashboardEvent = {
          schemaVersion: 1,
          eventId: randomUUID(),
          type: 'dashboard.data_changed',
          dashboardId: dashboard.id,
          occurredAt: new Date(now).toISOString(),
          ...(inline.length > 0 ? { payload: inlinePayload(inline, now) } : {}),
        };
        const { span, headers } = startSendSpan(config.kafka.eventsTopic, {
          'precis.dashboard.id': dashboard.id,
          'precis.event.id': event.eventId,
        });
        spans.push(span);
        return { key: dashboard.id, value: JSON.stringify(event), headers };
      });
    });
    await producer.send({ topic: config.kafka.eventsTopic, messages }).finally(() => {
      for (const span of spans) span.end();
    });
    logger.info({ events: messages.length, dashboards: registry.list().length }, 'demo events sent');
  };

  await emit();
  const timer = setInterval(
    () => emit().catch((error: unknown) => logger.error({ err: error }, 'demo send failed')),
    intervalMs,
  );
  return {
    close: async () => {
      clearInterval(timer);
      await producer.disconnect();
      await tracing.shutdown();
    },
  };
}

if (require.main === module) runMain('demo-producer', buildDemoProducer);
