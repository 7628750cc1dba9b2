import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { EventsHandover, PendingEvent } from '../src/domain/event';
import type { LatestSummary } from './ui-details';

export type { LatestSummary, RunOutcome } from './ui-details';

/** What a dashboard's workflow reports of itself (the `state` query). */
export interface DashboardWorkflowState {
  /** Events waiting for the next summary. */
  pending: number;
  summariesMade: number;
  lastVersion: number | null;
  /**
   * `retrying`: the last attempt could not make a summary; its events wait for the next attempt (see `failure`).
   * `abandoned`: the dashboard is no longer configured; its waiting events were dropped (see `failure`).
   */
  status: 'waiting' | 'summarizing' | 'idle' | 'retrying' | 'abandoned';
  /** Why the latest attempt made no summary, while it is being retried (absent once one succeeds). */
  failure?: RunFailure;
  /** The latest summary this run (or the one it continued) delivered: headline, model, outcome, cost. */
  latest?: LatestSummary;
  /** USD this run spent on model calls. */
  costUsd?: number;
}

export interface RunFailure {
  reason: string;
  /** Attempts in a row that made no summary. */
  failedAttempts: number;
  /** When the next attempt starts (ISO 8601); absent when none follows (abandoned). */
  nextAttemptAt?: string;
}

/** Events handed over whole: what precis 0.1's ingest sends, and a convenient way for tests to send a few. */
export const eventsArrivedSignal = defineSignal<[PendingEvent[]]>('eventsArrived');
/** Events handed over by count, newest ids and references: what the ingest sends. */
export const eventsHandedOverSignal = defineSignal<[EventsHandover]>('eventsHandedOver');
export const stateQuery = defineQuery<DashboardWorkflowState>('state');
