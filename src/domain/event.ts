import { z } from 'zod';

/** Dashboard and widget ids: safe in Redis keys, Temporal workflow ids, URLs and Kafka keys. */
export const idSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    'must start with a letter or digit and use only letters, digits, ".", "_" or "-"',
  );

/** One data point of a series: ISO timestamp and a number. */
export const pointSchema = z.object({ t: z.string().datetime({ offset: true }), v: z.number() });
export type Point = z.infer<typeof pointSchema>;

/** Data an event may carry inline for `inline` widgets: widget id → points. */
export const inlinePayloadSchema = z.object({
  widgets: z.record(idSchema, z.array(pointSchema).max(10_000)),
});
export type InlinePayload = z.infer<typeof inlinePayloadSchema>;

export const EVENT_TYPES = ['dashboard.data_changed', 'dashboard.refresh_requested'] as const;

/**
 * Version 1 of the event on `dashboard.events` (Kafka key = dashboard id).
 * `schemaVersion` lets later versions be told apart without guessing from the shape.
 */
export const dashboardEventSchema = z
  .object({
    schemaVersion: z.literal(1),
    eventId: z.string().min(1).max(200),
    type: z.enum(EVENT_TYPES),
    dashboardId: idSchema,
    occurredAt: z.string().datetime({ offset: true }),
    payload: inlinePayloadSchema.optional(),
  })
  .strict();
export type DashboardEvent = z.infer<typeof dashboardEventSchema>;

/** What the ingest layer hands to a workflow: enough to dedupe, order and use inline data. */
export interface PendingEvent {
  eventId: string;
  occurredAt: string;
  payload?: InlinePayload;
}

/**
 * What the ingest hands a dashboard's workflow for one Kafka batch: how many events, the newest ids and a
 * reference to their inline data. Never the events themselves, so a burst of thousands of events costs a signal
 * of a few hundred bytes and the workflow's history stays small.
 */
export interface EventsHandover {
  /**
   * Where the newest of these events sits in Kafka: `topic/partition` and its offset (decimal text). With the
   * newest event id it identifies the hand-over, so the workflow drops the same hand-over coming again (a retried
   * signal, a batch redelivered after a crash of the ingest) and traces a summary back to Kafka.
   */
  position?: { stream: string; offset: string };
  /** Events in the hand-over (after the ingest dropped redeliveries it remembered). */
  count: number;
  /** The newest event ids, oldest first (at most NEWEST_EVENT_IDS). */
  eventIds: string[];
  newestOccurredAt: string;
  /** Blob reference of the freshest inline data per widget among these events (see InlineData). */
  inlineRef?: string;
}
