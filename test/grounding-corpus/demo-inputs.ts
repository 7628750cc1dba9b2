import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DemoSource, durationMs, type Widget } from '../../src/domain/dashboard';
import { parseDashboard } from '../../src/domain/registry';
import { cleanDashboard, widgetWindow } from '../../src/pipeline/clean';
import { enrichDashboard } from '../../src/pipeline/enrich';
import type { CollectedWidget, EnrichedDashboard } from '../../src/pipeline/types';
import { createDemoConnector } from '../../src/sources/demo';

/**
 * Real enriched inputs of the demo dashboards (dashboards/*.yaml, demo source), built by the pipeline's own collect
 * (demo connector), clean and enrich steps at fixed instants, so the corpus and its test see the same data.
 */
/**
 * Widgets on live sources (the platform dashboard reads Prometheus) get a seeded demo stand-in with the same id,
 * title, kind and unit, so their units (ms, req/s) and series keys ("/api/v1/query") are in the corpus too.
 */
function sourceOf(widget: Widget, index: number): DemoSource {
  if (widget.source.type === 'demo') return widget.source;
  return {
    type: 'demo',
    seed: 900 + index,
    base: widget.kind === 'breakdown' ? 40 : 12,
    trend: 0.01,
    seasonality: 0.1,
    noise: 0.3,
    ...(widget.kind === 'breakdown' ? { categories: ['/metrics', '/api/v1/query', '/-/ready'] } : {}),
  };
}

export const CORPUS_INSTANTS = ['2026-11-28T12:00:00.000Z', '2026-11-30T06:00:00.000Z'];

export async function demoInputs(dir = 'dashboards'): Promise<EnrichedDashboard[]> {
  const connector = createDemoConnector();
  const out: EnrichedDashboard[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const dashboard = parseDashboard(file, readFileSync(join(dir, file), 'utf8'));
    for (const instant of CORPUS_INSTANTS) {
      const asOf = new Date(instant);
      const widgets: CollectedWidget[] = [];
      for (const [index, widget] of dashboard.widgets.entries()) {
        const { from } = widgetWindow(widget, asOf);
        const data = await connector.collect(sourceOf(widget, index), {
          widget,
          asOf,
          from: new Date(from),
          resolutionMs: durationMs(widget.resolution),
          events: [],
          signal: new AbortController().signal,
          heartbeat: () => {},
        });
        widgets.push({ widgetId: widget.id, status: 'ok', data });
      }
      const cleaned = cleanDashboard(dashboard, { dashboardId: dashboard.id, asOf: instant, widgets });
      out.push(enrichDashboard(dashboard, cleaned, { tokenBudget: 3000 }));
    }
  }
  return out;
}
