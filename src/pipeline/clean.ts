import type { Point } from '../domain/event';
import type { CleanedDashboard, CleanReport, CollectedDashboard, CollectedWidget } from './types';

/**
 * Cleans collected data deterministically: timestamps to UTC ISO form, points in time order, duplicate
 * timestamps collapsed (the later-reported value wins), non-finite values removed. Counts what each rule changed.
 */
export function cleanDashboard(collected: CollectedDashboard): CleanedDashboard {
  const report: CleanReport = { duplicatePointsRemoved: 0, nonFinitePointsRemoved: 0, pointsReordered: 0 };
  const widgets = collected.widgets.map((widget): CollectedWidget => {
    if (widget.status !== 'ok') return widget;
    return { ...widget, points: cleanPoints(widget.points, report) };
  });
  return { ...collected, widgets, report };
}

function cleanPoints(points: Point[], report: CleanReport): Point[] {
  const byTime = new Map<number, number>();
  let previous = Number.NEGATIVE_INFINITY;
  for (const point of points) {
    const time = Date.parse(point.t);
    if (!Number.isFinite(point.v) || !Number.isFinite(time)) {
      report.nonFinitePointsRemoved++;
      continue;
    }
    if (time < previous) report.pointsReordered++;
    previous = time;
    if (byTime.has(time)) report.duplicatePointsRemoved++;
    byTime.set(time, point.v);
  }
  return [...byTime.entries()]
    .sort(([a], [b]) => a - b)
    .map(([time, v]) => ({ t: new Date(time).toISOString(), v }));
}
