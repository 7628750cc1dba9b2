import type { Point } from '../domain/event';
import { type CollectRequest, type SourceConnector, SourceError, type WidgetData } from './types';

/** Data carried in the events themselves: the freshest event with data for the widget wins. */
export function createInlineConnector(): SourceConnector<{ type: 'inline' }> {
  return {
    type: 'inline',
    async collect(_source, request: CollectRequest): Promise<WidgetData> {
      const newestFirst = [...request.events].sort((a, b) => b.occurredAt.localeCompare(a.occurredAt));
      const points: Point[] | undefined = newestFirst.find(
        (event) => event.payload?.widgets[request.widget.id],
      )?.payload?.widgets[request.widget.id];
      // Retrying cannot make an event carry data it did not carry.
      if (!points) throw new SourceError('no event of this run carried inline data for the widget', false);
      return { series: [{ key: request.widget.id, points }] };
    },
  };
}
