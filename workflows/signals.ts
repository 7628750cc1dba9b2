import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { EventsHandover, PendingEvent } from '../src/domain/event';

/** What a dashboard's workflow reports of itself (the `state` query). */
export interface DashboardWorkflowState {
  /** Events waiting for the next summary. */
  pending: number;
  summariesMade: number;
  lastVersion: number | null;
  status: 'waiting' | 'summarizing' | 'idle';
}

/** Events handed over whole: what precis 0.1's ingest sends, and a convenient way for tests to send a few. */
export const eventsArrivedSignal = defineSignal<[PendingEvent[]]>('eventsArrived');
/** Events handed over by count, newest ids and references: what the ingest sends. */
export const eventsHandedOverSignal = defineSignal<[EventsHandover]>('eventsHandedOver');
export const stateQuery = defineQuery<DashboardWorkflowState>('state');
