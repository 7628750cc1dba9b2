/**
 * What the chaos scenarios produce: dashboards of their own (unique per scenario, so one scenario's leftovers never
 * satisfy another's invariants) and events whose inline data changes materially with every event, so that each
 * summary is real work for the pipeline and for the model (no unchanged-input shortcut hides a lost event).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INLINE_WIDGETS, inlinePayload } from '../../../bench/workload';
import type { DashboardEvent } from '../../../src/domain/event';

/** Few events per dashboard and scenario: a summary names its newest 20 event ids, so every event stays visible. */
export const MAX_EVENTS_PER_DASHBOARD = 20;

export interface ScenarioDashboards {
  scenario: string;
  ids: string[];
}

/** `chaos-<scenario>-03`: zero-padded so that no id is a prefix of another (request bodies are matched by id). */
export function chaosDashboardId(scenario: string, index: number): string {
  return `chaos-${scenario}-${String(index).padStart(2, '0')}`;
}

export function scenarioDashboards(scenario: string, count: number): ScenarioDashboards {
  return { scenario, ids: Array.from({ length: count }, (_, i) => chaosDashboardId(scenario, i)) };
}

const REFRESH = { quietPeriod: '1s', maxDelay: '5s' };

/** Three inline widgets (the benchmark's) whose data every event carries. */
export function inlineDashboard(id: string): Record<string, unknown> {
  return {
    id,
    title: `Chaos ${id}`,
    refresh: REFRESH,
    widgets: INLINE_WIDGETS.map((widget) => ({
      id: widget,
      title: widget,
      unit: widget,
      polarity: 'higher_is_better',
      comparisonWindow: '1d',
      resolution: '1h',
      source: { type: 'inline' },
    })),
  };
}

/** One `http` widget reading `url` (a server the test controls, to make the source fail and recover). */
export function httpDashboard(id: string, url: string): Record<string, unknown> {
  return {
    id,
    title: `Chaos ${id}`,
    refresh: REFRESH,
    widgets: [
      {
        id: 'backlog',
        title: 'Backlog',
        unit: 'items',
        polarity: 'higher_is_worse',
        comparisonWindow: '1d',
        resolution: '1h',
        source: { type: 'http', url, timeout: '2s' },
      },
    ],
  };
}

export function writeDashboards(dir: string, definitions: Record<string, unknown>[]): void {
  mkdirSync(dir, { recursive: true });
  for (const definition of definitions) {
    writeFileSync(join(dir, `${String(definition.id)}.json`), `${JSON.stringify(definition, null, 2)}\n`);
  }
}

const HOUR_MS = 3_600_000;

/** `<dashboard>~<seq>`: the id alone says which dashboard and which of its events it is. */
export function chaosEventId(dashboardId: string, seq: number): string {
  return `${dashboardId}~${seq}`;
}

/** A valid event; with `inline`, its data moves by 10 % per seq (far above the 1 % materiality threshold). */
export function dataChanged(dashboardId: string, seq: number, inline: boolean): DashboardEvent {
  const anchorMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  return {
    schemaVersion: 1,
    eventId: chaosEventId(dashboardId, seq),
    type: 'dashboard.data_changed',
    dashboardId,
    occurredAt: new Date().toISOString(),
    ...(inline ? { payload: inlinePayload(seq, anchorMs, seq, 0) } : {}),
  };
}

/** An event that breaks the schema (unknown type) but carries an id: it must end in the dead-letter topic. */
export function invalidEvent(dashboardId: string, seq: number): Record<string, unknown> {
  return { ...dataChanged(dashboardId, seq, false), type: 'dashboard.exploded' };
}
