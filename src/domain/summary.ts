import { z } from 'zod';
import { idSchema } from './event';

export const SEVERITIES = ['info', 'notice', 'warning', 'critical'] as const;

export const insightSchema = z.object({
  widgetIds: z.array(idSchema).min(1),
  severity: z.enum(SEVERITIES),
  text: z.string().min(1).max(600),
});

export const anomalySchema = z.object({
  widgetId: idSchema,
  at: z.string(),
  value: z.number(),
  description: z.string().max(400),
});

/** The summary precis stores, serves and publishes. */
export const summarySchema = z.object({
  dashboardId: idSchema,
  version: z.number().int().min(1),
  generatedAt: z.string(),
  dataAsOf: z.string(),
  headline: z.string().min(1).max(300),
  insights: z.array(insightSchema),
  anomalies: z.array(anomalySchema),
  recommendations: z.array(z.string().max(400)),
  missingWidgets: z.array(z.object({ widgetId: idSchema, reason: z.string() })),
  model: z.string(),
  degraded: z.boolean(),
  degradedReason: z.string().nullable(),
  usage: z.object({
    promptTokens: z.number().int().min(0),
    /** Prompt tokens the provider served from its prompt cache (billed at the cached rate). */
    cachedTokens: z.number().int().min(0).optional(),
    completionTokens: z.number().int().min(0),
    costUsd: z.number().min(0),
  }),
  cacheOutcome: z.enum(['miss', 'hit', 'unchanged', 'none']),
  inputHash: z.string(),
  /** The newest events this summary folded in (at most NEWEST_EVENT_IDS, oldest first). */
  eventIds: z.array(z.string()),
  /** How many events this summary folded in (absent in summaries of older precis versions). */
  eventCount: z.number().int().min(0).optional(),
  workflowId: z.string(),
  runId: z.string(),
});
export type Summary = z.infer<typeof summarySchema>;

/** A summary before the store assigns its version. */
export type SummaryDraft = Omit<Summary, 'version'>;
