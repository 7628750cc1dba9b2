import type { InlinePayload, PendingEvent, Point } from '../domain/event';

/**
 * The freshest data that events carried for each `inline` widget. Events never travel through Temporal with
 * their data: the ingest folds a hand-over's payloads into one of these, stores it by content hash, and the
 * workflow passes only the reference.
 */
export interface InlineData {
  widgets: Record<string, { occurredAt: string; points: Point[] }>;
}

/**
 * Folds layers of inline data, in arrival order, into one: per widget the freshest `occurredAt` wins, and among
 * equal instants the later layer (Kafka keeps arrival order per dashboard). Instants are compared parsed, since
 * `occurredAt` may carry any UTC offset.
 */
export function mergeInlineData(layers: readonly InlineData[]): InlineData {
  const widgets: InlineData['widgets'] = {};
  for (const layer of layers) {
    for (const [widgetId, data] of Object.entries(layer.widgets)) {
      const current = widgets[widgetId];
      if (!current || Date.parse(data.occurredAt) >= Date.parse(current.occurredAt)) widgets[widgetId] = data;
    }
  }
  return { widgets };
}

/** The inline data of events in arrival order (see mergeInlineData); null when none carried any. */
export function inlineDataOf(
  events: readonly { occurredAt: string; payload?: InlinePayload }[],
): InlineData | null {
  const layers: InlineData[] = [];
  for (const event of events) {
    if (!event.payload) continue;
    const widgets: InlineData['widgets'] = {};
    for (const [widgetId, points] of Object.entries(event.payload.widgets))
      widgets[widgetId] = { occurredAt: event.occurredAt, points };
    layers.push({ widgets });
  }
  return layers.length === 0 ? null : mergeInlineData(layers);
}

/** Inline data as the events the inline connector reads, one per widget. */
export function inlineEvents(data: InlineData): PendingEvent[] {
  return Object.entries(data.widgets).map(([widgetId, { occurredAt, points }]) => ({
    eventId: `inline:${widgetId}`,
    occurredAt,
    payload: { widgets: { [widgetId]: points } },
  }));
}
