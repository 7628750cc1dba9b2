/**
 * The API's request and response shapes: the one source of its TypeScript types, its input validation and its
 * OpenAPI document. Schemas with an `id` in `apiSchemas` become named components of the OpenAPI document.
 */
import { z } from 'zod';
import { EVENT_TYPES, idSchema } from '../src/domain/event';
import { groundingSchema, summarySchema } from '../src/domain/summary';

export const apiSchemas = z.registry<{ id: string; description?: string }>();

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    checks: z.record(z.string(), z.enum(['up', 'down'])).optional(),
  })
  .register(apiSchemas, { id: 'Problem', description: 'RFC 9457 problem details' });

// ---------------------------------------------------------------------------------------------------------------
// Stored documents, as the pipeline writes them to Redis (read on cache misses only)
// ---------------------------------------------------------------------------------------------------------------

/** A stored summary; `stale: true` is how a writer can mark a summary it knows to be out of date. */
export const storedSummarySchema = summarySchema.extend({ stale: z.boolean().optional() });
export type StoredSummary = z.infer<typeof storedSummarySchema>;

/** The freshness record `SummaryStore.touch` writes when a newer input did not need a new summary. */
export const freshnessSchema = z.object({
  version: z.number().int(),
  checkedAt: z.string(),
  dataAsOf: z.string(),
  cause: z.enum(['unchanged', 'immaterial']),
});
export type FreshnessRecord = z.infer<typeof freshnessSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

export const dashboardParamsSchema = z.object({ id: idSchema.describe('Dashboard id') });

export const historyQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(20)
    .describe('How many summaries, newest first (1-100)'),
  before: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Only versions lower than this one (the `next` cursor of the previous page)'),
});

export const workflowParamsSchema = z.object({
  workflowId: z
    .string()
    .min(1)
    .max(400)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .describe('Temporal workflow id of a dashboard (prefix + dashboard id)'),
});

export const ifNoneMatchSchema = z.string().describe('An ETag from an earlier response: 304 when unchanged');
export const lastEventIdSchema = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a summary version')
  .describe('Resume after this summary version (sent by EventSource on reconnect)');

// ---------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------

const runLinkSchema = z.string().url().describe('The run in the Temporal UI');

/** Exposed so a reader or an auditor can see why a sentence was trusted. */
const groundingViewSchema = groundingSchema
  .optional()
  .describe(
    'Which claims of the text were checked and how: each figure with the widget, series and statistic it was bound to, stated vs actual (absent in summaries written before the claim checker)',
  );

export const summaryViewSchema = summarySchema
  .extend({
    checkedAt: z.string().describe('When the data was last checked against this summary'),
    reusedBecause: z
      .enum(['unchanged', 'immaterial'])
      .optional()
      .describe('Why newer data did not need a new summary'),
    stale: z
      .boolean()
      .describe('True when checkedAt is older than the staleness age, or the summary is marked'),
    links: z.object({ temporalRun: runLinkSchema }),
    grounding: groundingViewSchema,
  })
  .register(apiSchemas, { id: 'Summary', description: 'The latest summary of a dashboard' });
export type SummaryView = z.infer<typeof summaryViewSchema>;

export const historyItemSchema = summarySchema
  .extend({ links: z.object({ temporalRun: runLinkSchema }), grounding: groundingViewSchema })
  .register(apiSchemas, { id: 'SummaryVersion', description: 'One stored version of a summary' });
export type HistoryItem = z.infer<typeof historyItemSchema>;

export const historySchema = z
  .object({
    dashboardId: idSchema,
    summaries: z.array(historyItemSchema),
    next: z.number().int().nullable().describe('Pass as `before` for the next page; null on the last page'),
    links: z.object({ next: z.string().nullable() }),
  })
  .register(apiSchemas, { id: 'SummaryHistory' });

export const summaryStatusSchema = z.object({
  version: z.number().int(),
  generatedAt: z.string(),
  checkedAt: z.string(),
  headline: z.string(),
  degraded: z.boolean(),
  model: z.string(),
  stale: z.boolean(),
});

export const dashboardListSchema = z
  .object({
    dashboards: z.array(
      z.object({
        id: idSchema,
        title: z.string(),
        description: z.string(),
        summary: summaryStatusSchema.nullable().describe('null until the first summary is stored'),
        links: z.object({ summary: z.string(), history: z.string(), stream: z.string() }),
      }),
    ),
  })
  .register(apiSchemas, { id: 'DashboardList' });
export type DashboardList = z.infer<typeof dashboardListSchema>;

export const refreshAcceptedSchema = z
  .object({
    eventId: z.string().uuid(),
    type: z.enum(EVENT_TYPES),
    workflowId: z.string(),
    links: z.object({
      summary: z.string(),
      stream: z.string(),
      workflow: z.string(),
      temporalRun: z.string().url().describe("The dashboard's workflow in the Temporal UI"),
    }),
  })
  .register(apiSchemas, { id: 'RefreshAccepted' });
export type RefreshAccepted = z.infer<typeof refreshAcceptedSchema>;

export const WORKFLOW_STATUSES = [
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TERMINATED',
  'CONTINUED_AS_NEW',
  'TIMED_OUT',
  'PAUSED',
  'UNKNOWN',
  'UNSPECIFIED',
] as const;

export const workflowStatusSchema = z
  .object({
    workflowId: z.string(),
    runId: z.string(),
    type: z.string(),
    status: z.enum(WORKFLOW_STATUSES),
    taskQueue: z.string(),
    startTime: z.string(),
    closeTime: z.string().nullable(),
    historyLength: z.number().int(),
    searchAttributes: z.object({
      DashboardId: z.string().nullable(),
      PrecisStatus: z.string().nullable(),
      /** The latest summary of the run, as the Temporal UI's list shows it (runs of precis 0.4 and later). */
      PrecisOutcome: z.string().nullable(),
      PrecisHeadline: z.string().nullable(),
      PrecisModel: z.string().nullable(),
      PrecisCostUsd: z.number().nullable(),
    }),
    links: z.object({ temporalRun: runLinkSchema }),
  })
  .register(apiSchemas, { id: 'WorkflowStatus' });
export type WorkflowStatus = z.infer<typeof workflowStatusSchema>;

export const healthSchema = z.object({ status: z.literal('ok') });
export const readinessSchema = z.object({
  status: z.literal('ready'),
  checks: z.record(z.string(), z.enum(['up', 'down'])),
});
