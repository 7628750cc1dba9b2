import type { Point } from '../domain/event';
import type { Polarity, WidgetKind } from './widget-meta';

/** One widget's data as a source returned it, or why it could not be had. */
export type CollectedWidget =
  | { widgetId: string; status: 'ok'; points: Point[] }
  | { widgetId: string; status: 'failed'; reason: string };

export interface CollectedDashboard {
  dashboardId: string;
  /** The instant the data was asked for; demo data is generated up to it. */
  asOf: string;
  widgets: CollectedWidget[];
}

/** What cleaning changed, per rule, so that summaries and the Temporal UI can show it. */
export interface CleanReport {
  duplicatePointsRemoved: number;
  nonFinitePointsRemoved: number;
  pointsReordered: number;
}

export interface CleanedDashboard extends CollectedDashboard {
  report: CleanReport;
}

export interface WidgetStats {
  widgetId: string;
  title: string;
  kind: WidgetKind;
  unit: string;
  polarity: Polarity;
  points: number;
  first: string;
  last: string;
  lastValue: number;
  min: number;
  max: number;
  mean: number;
  /** Mean over the current comparison window and the one before it. */
  currentMean: number;
  previousMean: number | null;
  change: number | null;
  changePct: number | null;
}

/** The canonical, compact model input. Its hash decides whether a new summary is needed. */
export interface EnrichedDashboard {
  dashboardId: string;
  title: string;
  description: string;
  dataAsOf: string;
  widgets: WidgetStats[];
  missing: { widgetId: string; reason: string }[];
  inputHash: string;
}
