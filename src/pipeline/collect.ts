import { type Dashboard, durationMs, type Widget } from '../domain/dashboard';
import type { PendingEvent, Point } from '../domain/event';
import { demoSeries } from './demo-data';
import type { CollectedDashboard, CollectedWidget } from './types';

/**
 * Collects every widget of a dashboard. Sources that fail are reported per widget, never thrown, so that one bad
 * source costs only its widget. Inline data comes from the freshest event that carries data for the widget.
 */
export function collectDashboard(
  dashboard: Dashboard,
  asOf: Date,
  events: PendingEvent[],
): CollectedDashboard {
  const newestFirst = [...events].sort((a, b) => b.occurredAt.localeCompare(a.occurredAt));
  return {
    dashboardId: dashboard.id,
    asOf: asOf.toISOString(),
    widgets: dashboard.widgets.map((widget) => collectWidget(widget, asOf, newestFirst)),
  };
}

function collectWidget(widget: Widget, asOf: Date, newestFirst: PendingEvent[]): CollectedWidget {
  switch (widget.source.type) {
    case 'demo': {
      const resolution = durationMs(widget.resolution);
      // Two comparison windows: the current one and the one it is compared with.
      const count = Math.max(2, Math.ceil((2 * durationMs(widget.comparisonWindow)) / resolution));
      return {
        widgetId: widget.id,
        status: 'ok',
        points: demoSeries(widget.source, asOf, resolution, count),
      };
    }
    case 'inline': {
      const points: Point[] | undefined = newestFirst.find((event) => event.payload?.widgets[widget.id])
        ?.payload?.widgets[widget.id];
      return points
        ? { widgetId: widget.id, status: 'ok', points }
        : { widgetId: widget.id, status: 'failed', reason: 'no event carried inline data for this widget' };
    }
    default:
      return {
        widgetId: widget.id,
        status: 'failed',
        reason: `source type ${widget.source.type} is not wired yet`,
      };
  }
}
