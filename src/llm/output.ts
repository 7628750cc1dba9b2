import { z } from 'zod';
import { SEVERITIES } from '../domain/summary';

/**
 * What the model must return, sent as a strict JSON-schema response format. Version it with the prompt: it is
 * part of the cache key. v2: same shape, but a reply is accepted only when every claim binds to a statistic of the
 * right widget (src/grounding/check.ts), so replies cached under v1 are not reused. v3: the checker also refuses
 negated figures, forecasts and figures in words that bind to nothing (claims-v2), so v2's cached replies are not.
 */
export const OUTPUT_SCHEMA_VERSION = 'summary-output-v3';

export const modelOutputSchema = z
  .object({
    headline: z.string().min(1).max(300),
    insights: z
      .array(
        z
          .object({
            widgetIds: z.array(z.string()).min(1),
            severity: z.enum(SEVERITIES),
            text: z.string().min(1).max(600),
          })
          .strict(),
      )
      .max(30),
    anomalies: z
      .array(
        z
          .object({
            widgetId: z.string(),
            at: z.string(),
            value: z.number(),
            description: z.string().max(400),
          })
          .strict(),
      )
      .max(30),
    recommendations: z.array(z.string().max(400)).max(5),
  })
  .strict();

export type ModelOutput = z.infer<typeof modelOutputSchema>;
