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
    /** Breakdown categories: one series each, with shares that drift over time. */
    categories: z.array(z.string().min(1).max(100)).max(50).optional(),
  })
  .strict();

const inlineSourceSchema = z.object({ type: z.literal('inline') }).strict();

/** Dotted path into a JSON document ("" = the document itself), e.g. "data.items". */
const jsonPathSchema = z
  .string()
  .regex(/^$|^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'must be a dotted path like "data.items"');

const httpSourceSchema = z
  .object({
    type: z.literal('http'),
    /** http(s) URL; its host must be allow-listed (PRECIS_HTTP_ALLOWED_HOSTS). */
    url: z.string().url(),
    headers: z.record(z.string(), z.string()).default({}),
    timeout: durationSchema.default('10s'),
    /** Responses larger than this are refused. */
    maxBytes: z
      .number()
      .int()
      .min(1)
      .max(64 * 1024 * 1024)
      .default(5 * 1024 * 1024),
    /** Where the points are in the JSON response and which fields hold time, value and (optionally) series. */
    mapping: z
      .object({
        items: jsonPathSchema.default(''),
        time: jsonPathSchema.default('t'),
        value: jsonPathSchema.default('v'),
        series: jsonPathSchema.optional(),
      })
      .strict()
      .default({ items: '', time: 't', value: 'v' }),
    /** Unit the source reports values in, when it differs from the widget's unit (converted while cleaning). */
    unit: z.string().max(32).optional(),
  })
  .strict();

const prometheusSourceSchema = z
  .object({
    type: z.literal('prometheus'),
    /** PromQL range query. */
    query: z.string().min(1).max(4000),
    /** Label whose value names each series (default: all labels, formatted). */
    seriesLabel: z.string().optional(),
    /** Server URL; default PRECIS_PROMETHEUS_URL. */
    url: z.string().url().optional(),
    timeout: durationSchema.default('30s'),
    unit: z.string().max(32).optional(),
  })
  .strict();

const postgresSourceSchema = z
  .object({
    type: z.literal('postgres'),
    /** Name of a connection in PRECIS_POSTGRES_URLS. */
    database: z.string().min(1).default('default'),
    /**
     * Read-only SQL returning columns `t` (timestamp), `v` (number) and optionally `series` (text).
     * Parameters: $1 = window start, $2 = window end (timestamptz).
     */
    query: z.string().min(1).max(20_000),
    timeout: durationSchema.default('10s'),
    unit: z.string().max(32).optional(),
  })
  .strict();

export const sourceSchema = z.discriminatedUnion('type', [
  demoSourceSchema,
  inlineSourceSchema,
  httpSourceSchema,
  prometheusSourceSchema,
  postgresSourceSchema,
]);
export type Source = z.infer<typeof sourceSchema>;
export type HttpSource = z.infer<typeof httpSourceSchema>;
export type PrometheusSource = z.infer<typeof prometheusSourceSchema>;
export type PostgresSource = z.infer<typeof postgresSourceSchema>;
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
    /** How several points that fall into one bucket become one. */
    aggregation: z.enum(['last', 'mean', 'sum', 'min', 'max']).default('last'),
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
