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
