import type { Point } from '../domain/event';
import { type CollectRequest, type SourceConnector, SourceError, type WidgetData } from './types';

/** Data carried in the events themselves: the freshest event with data for the widget wins. */
export function createInlineConnector(): SourceConnector<{ type: 'inline' }> {
  return {
    type: 'inline',
    async collect(_source, request: CollectRequest): Promise<WidgetData> {
      // The freshest event with data wins; among events stamped with the same instant, the one that arrived last
      // (events are in arrival order, which Kafka keeps per dashboard).
      let points: Point[] | undefined;
      let newest = Number.NEGATIVE_INFINITY;
      for (const event of request.events) {
        const data = event.payload?.widgets[request.widget.id];
        // Parsed, not compared as text: occurredAt may carry any UTC offset.
        const at = Date.parse(event.occurredAt);
        if (data && at >= newest) {
          points = data;
          newest = at;
        }
      }
      // Retrying cannot make an event carry data it did not carry.
      if (!points) throw new SourceError('no event of this run carried inline data for the widget', false);
      return { series: [{ key: request.widget.id, points }] };
    },
  };
}
