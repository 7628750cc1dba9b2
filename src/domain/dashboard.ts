import { z } from 'zod';
import { idSchema } from './event';

export const WIDGET_KINDS = ['timeseries', 'breakdown', 'kpi', 'table'] as const;
export const POLARITIES = ['higher_is_better', 'higher_is_worse', 'neutral'] as const;

const durationSchema = z
  .string()
  .regex(/^\d+[smhdw]$/, 'must be a duration like "30s", "15m", "24h", "7d" or "2w"');

const demoSourceSchema = z
  .object({
    type: z.literal('demo'),
    /** Seed of the synthetic series, so the same dashboard always shows the same shape. */
    seed: z.number().int().default(1),
    /** Level around which the series moves. */
    base: z.number().default(100),
    /** Relative daily trend, e.g. 0.01 = +1 %/day. */
    trend: z.number().default(0),
    /** Relative weekly seasonality amplitude. */
    seasonality: z.number().min(0).default(0.1),
    /** Relative noise amplitude. */
    noise: z.number().min(0).default(0.03),
  })
  .strict();

const inlineSourceSchema = z.object({ type: z.literal('inline') }).strict();

export const sourceSchema = z.discriminatedUnion('type', [demoSourceSchema, inlineSourceSchema]);
export type Source = z.infer<typeof sourceSchema>;
export type DemoSource = z.infer<typeof demoSourceSchema>;

export const widgetSchema = z
  .object({
    id: idSchema,
    title: z.string().min(1).max(200),
    kind: z.enum(WIDGET_KINDS).default('timeseries'),
    unit: z.string().max(32).default(''),
    polarity: z.enum(POLARITIES).default('neutral'),
    /** Compare the last `window` with the `window` before it. */
    comparisonWindow: durationSchema.default('7d'),
    /** Bucket width of collected points. */
    resolution: durationSchema.default('1d'),
    source: sourceSchema,
  })
  .strict();
export type Widget = z.infer<typeof widgetSchema>;

export const dashboardSchema = z
  .object({
    id: idSchema,
    title: z.string().min(1).max(200),
    description: z.string().max(2000).default(''),
    timezone: z.string().default('UTC'),
    refresh: z
      .object({ quietPeriod: durationSchema.optional(), maxDelay: durationSchema.optional() })
      .strict()
      .default({}),
    widgets: z.array(widgetSchema).min(1).max(100),
  })
  .strict()
  .superRefine((dashboard, ctx) => {
    const seen = new Set<string>();
    dashboard.widgets.forEach((widget, index) => {
      if (seen.has(widget.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['widgets', index, 'id'],
          message: `duplicate widget id "${widget.id}"`,
        });
      }
      seen.add(widget.id);
    });
  });
export type Dashboard = z.infer<typeof dashboardSchema>;

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** Parses a validated duration like "7d" into milliseconds. */
export function durationMs(duration: string): number {
  const unit = duration.at(-1) as keyof typeof UNIT_MS;
  return Number(duration.slice(0, -1)) * UNIT_MS[unit];
}
