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

/** One claim the grounding checker read in a summary, and what it bound it to (see src/grounding/check.ts). */
export const groundingClaimSchema = z.object({
  field: z.string(),
  text: z.string(),
  stated: z.number().nullable(),
  widgetId: z.string().nullable(),
  seriesKey: z.string().nullable(),
  statistic: z.string().nullable(),
  actual: z.number().nullable(),
  ok: z.boolean(),
  reason: z.string().optional(),
});

/** Which claims of a summary were checked and how, so that a reader can see why a sentence was trusted. */
export const groundingSchema = z.object({
  checker: z.string(),
  grounded: z.boolean(),
  claims: z.array(groundingClaimSchema),
  /** Parts the local summarizer left out because they failed a check (with why); absent when nothing was. */
  omitted: z.array(z.string()).optional(),
});
export type SummaryGrounding = z.infer<typeof groundingSchema>;

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
  /** The claim check of this summary's text (absent in summaries of older precis versions). */
  grounding: groundingSchema.optional(),
});
export type Summary = z.infer<typeof summarySchema>;

/** A summary before the store assigns its version. */
export type SummaryDraft = Omit<Summary, 'version'>;

/**
 * What summaries written by an older precis lack, filled in on read: these fields were added later, and their
 * absence says nothing bad about the summary (a migration, not a degradation).
 */
const ADDED_LATER: Partial<Summary> = {
  anomalies: [],
  recommendations: [],
  missingWidgets: [],
  degradedReason: null,
  cacheOutcome: 'none',
  inputHash: '',
  eventIds: [],
};

/** What a field that cannot be read is shown as; the summary is then labelled degraded, naming the fields. */
const UNREADABLE: Omit<Summary, 'dashboardId' | 'version'> = {
  generatedAt: '',
  dataAsOf: '',
  headline: 'Summary unavailable: it was stored in a form this version of precis cannot read',
  insights: [],
  anomalies: [],
  recommendations: [],
  missingWidgets: [],
  model: 'unknown',
  degraded: true,
  degradedReason: 'stored summary unreadable',
  usage: { promptTokens: 0, completionTokens: 0, costUsd: 0 },
  cacheOutcome: 'none',
  inputHash: '',
  eventIds: [],
  workflowId: '',
  runId: '',
};

export interface ReadSummary {
  summary: Summary;
  /** Fields (or list items, as `insights[2]`) that could not be read and were replaced; empty when all was read. */
  unreadable: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads a stored summary of any shape without failing: what this version's schema accepts is kept, fields added
 * since the summary was written are filled in, list items that cannot be read are dropped, and any other field that
 * cannot be read is replaced and named in `unreadable`, with the summary labelled degraded. A schema change thus
 * costs old summaries a label, never every read of their dashboard.
 */
export function readSummary(value: unknown, known: { dashboardId: string; version: number }): ReadSummary {
  const strict = summarySchema.safeParse(value);
  if (strict.success) return { summary: strict.data, unreadable: [] };
  const raw = isRecord(value) ? value : {};
  const unreadable: string[] = [];
  const read: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(summarySchema.shape)) {
    const field = raw[key];
    const parsed = schema.safeParse(field);
    if (parsed.success) {
      read[key] = parsed.data;
      continue;
    }
    if (schema instanceof z.ZodArray && Array.isArray(field)) {
      const items = field.filter((item) => schema.element.safeParse(item).success);
      field.forEach((item, index) => {
        if (!schema.element.safeParse(item).success) unreadable.push(`${key}[${index}]`);
      });
      read[key] = items;
      continue;
    }
    if (field === undefined && key in ADDED_LATER) {
      read[key] = ADDED_LATER[key as keyof Summary];
      continue;
    }
    if (key === 'dashboardId' || key === 'version') {
      read[key] = known[key];
      if (field !== undefined && field !== known[key]) unreadable.push(key);
      continue;
    }
    read[key] = UNREADABLE[key as keyof typeof UNREADABLE];
    unreadable.push(key);
  }
  if (unreadable.length > 0) {
    read.degraded = true;
    read.degradedReason = `stored summary partly unreadable (${unreadable.join(', ')})`;
  }
  // Every value above passed its field's schema or is a default that does; parse makes the type say so.
  const summary = summarySchema.safeParse(read);
  if (summary.success) return { summary: summary.data, unreadable };
  return {
    summary: { ...UNREADABLE, dashboardId: known.dashboardId, version: known.version },
    unreadable: ['(document)'],
  };
}
