import type { Point } from '../domain/event';
import type { SeriesData, WidgetData } from '../sources/types';
import type { RedactionCounts } from './redact';
import type { Polarity, WidgetKind } from './widget-meta';

/** One widget's data as its source returned it, or why it could not be had. */
export type CollectedWidget =
  | { widgetId: string; status: 'ok'; data: WidgetData }
  | { widgetId: string; status: 'failed'; reason: string };

export interface CollectedDashboard {
  dashboardId: string;
  /** The instant the data was asked for. */
  asOf: string;
  widgets: CollectedWidget[];
}

/** A run of expected buckets with no data. Marked, never filled in. */
export interface Gap {
  from: string;
  to: string;
  missingBuckets: number;
}

/** A point far from the rest of its series (robust z-score). Flagged, never dropped. */
export interface Outlier {
  t: string;
  v: number;
  score: number;
}

export interface CleanedSeries extends SeriesData {
  gaps: Gap[];
  outliers: Outlier[];
}

export type CleanedWidget =
  | { widgetId: string; status: 'ok'; unit: string; series: CleanedSeries[] }
  | { widgetId: string; status: 'failed'; reason: string };

/** What cleaning changed, per rule, so that summaries and the Temporal UI can show it. */
export interface CleanReport {
  nonFinitePointsRemoved: number;
  invalidTimestampsRemoved: number;
  pointsOutsideWindowRemoved: number;
  pointsAligned: number;
  duplicatePointsMerged: number;
  unitConversions: number;
  unitMismatches: number;
  gapBucketsMarked: number;
  outliersFlagged: number;
  seriesDropped: number;
  textsSanitized: number;
  textsTruncated: number;
  redactions: RedactionCounts;
}

export interface CleanedDashboard {
  dashboardId: string;
  asOf: string;
  widgets: CleanedWidget[];
  report: CleanReport;
}

export interface SeriesStats {
  key: string;
  points: number;
  first: string;
  last: string;
  lastValue: number;
  min: number;
  max: number;
  mean: number;
  /** Mean over the current comparison window and over the one before it. */
  currentMean: number;
  previousMean: number | null;
  change: number | null;
  changePct: number | null;
  /** Least-squares trend over the current window, in units per day. */
  slopePerDay: number | null;
  gapBuckets: number;
  /** The series downsampled for the model; shortened first when the input is over its token budget. */
  recent: number[];
}

export interface Anomaly {
  seriesKey: string;
  t: string;
  v: number;
  /** Robust z-score of the point. */
  score: number;
  direction: 'spike' | 'dip';
}

export interface Mover {
  key: string;
  current: number;
  previous: number | null;
  change: number | null;
  changePct: number | null;
}

export interface ShareShift {
  key: string;
  share: number;
  previousShare: number | null;
  /** Change of the share in percentage points. */
  shiftPp: number | null;
}

export interface BreakdownStats {
  total: { current: number; previous: number | null };
  topMovers: Mover[];
  shareShifts: ShareShift[];
}

export interface EnrichedWidget {
  widgetId: string;
  title: string;
  kind: WidgetKind;
  unit: string;
  polarity: Polarity;
  comparisonWindow: string;
  series: SeriesStats[];
  breakdown?: BreakdownStats;
  anomalies: Anomaly[];
}

/** The canonical, compact model input. Its hash decides whether a new summary is needed. */
export interface EnrichedDashboard {
  dashboardId: string;
  title: string;
  description: string;
  timezone: string;
  dataAsOf: string;
  timeRange: { from: string; to: string };
  widgets: EnrichedWidget[];
  missing: { widgetId: string; reason: string }[];
  cleaning: CleanReport;
  /** What was left out to fit the token budget; nothing is dropped silently and anomalies never are. */
  truncation: { recentPoints: number; seriesDropped: string[]; overBudget: boolean };
  estimatedTokens: number;
  /** Volatile: when the data was asked for and how old it was then. Not part of the hash. */
  freshness: { asOf: string; dataAgeSeconds: number };
  inputHash: string;
}

export type { Point };
