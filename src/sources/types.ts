import type { Source, Widget } from '../domain/dashboard';
import type { PendingEvent, Point } from '../domain/event';

/** One named series of points; a time-series or KPI widget has one, a breakdown one per category. */
export interface SeriesData {
  key: string;
  points: Point[];
}

/** What a source returns for one widget. */
export interface WidgetData {
  series: SeriesData[];
  /** The unit the values are in, when the source says so and it may differ from the widget's unit. */
  unit?: string;
}

export interface CollectRequest {
  widget: Widget;
  /** The instant to collect up to (decided by the workflow, so a retry asks for the same data). */
  asOf: Date;
  /** Start of the data wanted: two comparison windows before `asOf`. */
  from: Date;
  /** Bucket width the widget wants. */
  resolutionMs: number;
  /** Events of this run in arrival order (inline data). */
  events: PendingEvent[];
  /** Aborted when the activity is cancelled or times out. */
  signal: AbortSignal;
  /** Tells Temporal the collection is alive; call it while waiting on a slow source. */
  heartbeat: (details?: unknown) => void;
}

/**
 * Why a widget could not be collected. `retryable` is decided where the error is known: a timeout or a 503 may
 * pass, a 404, a refused address or a response that does not match the mapping will not.
 */
export class SourceError extends Error {
  override readonly name = 'SourceError';
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** One connector per source type; built once per worker with the clients it needs. */
export interface SourceConnector<S extends Source = Source> {
  readonly type: S['type'];
  collect(source: S, request: CollectRequest): Promise<WidgetData>;
  /** Releases pools and sockets when the worker shuts down. */
  close?(): Promise<void>;
}
