import type { DemoSource } from '../domain/dashboard';
import { demoSeries } from './demo-data';
import type { CollectRequest, SourceConnector, WidgetData } from './types';

const DAY_MS = 86_400_000;

/**
 * Seeded synthetic data that looks real, for the demo dashboards and for tests. A breakdown gets one series per
 * category whose shares drift slowly, so that movers and share shifts have something to show.
 */
export function createDemoConnector(): SourceConnector<DemoSource> {
  return {
    type: 'demo',
    async collect(source: DemoSource, request: CollectRequest): Promise<WidgetData> {
      const count = Math.max(
        2,
        Math.ceil((request.asOf.getTime() - request.from.getTime()) / request.resolutionMs),
      );
      const categories = source.categories;
      if (!categories || categories.length === 0) {
        return {
          series: [
            { key: request.widget.id, points: demoSeries(source, request.asOf, request.resolutionMs, count) },
          ],
        };
      }
      const total = demoSeries(source, request.asOf, request.resolutionMs, count);
      return {
        series: categories.map((key, index) => ({
          key,
          points: total.map((point) => {
            const days = Date.parse(point.t) / DAY_MS;
            // Weights drift on a ~30-day cycle, each category out of phase with the others.
            const weight = (w: number) =>
              1 + 0.5 * Math.sin(days / 30 + (w * 2 * Math.PI) / categories.length);
            const share = weight(index) / categories.reduce((acc, _c, i) => acc + weight(i), 0);
            return { t: point.t, v: Math.round(point.v * share * 100) / 100 };
          }),
        })),
      };
    },
  };
}
