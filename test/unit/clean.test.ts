import fc from 'fast-check';
import type { Point } from '../../src/domain/event';
import { parseDashboard } from '../../src/domain/registry';
import { cleanDashboard, MAX_SERIES_PER_WIDGET } from '../../src/pipeline/clean';
import type { CollectedDashboard, CollectedWidget } from '../../src/pipeline/types';

const dashboard = parseDashboard(
  'shop.yaml',
  `
id: shop
title: Shop
widgets:
  - id: latency
    title: Latency
    unit: ms
    comparisonWindow: 6h
    resolution: 1h
    aggregation: mean
    source: { type: inline }
  - id: orders
    title: Orders by country
    kind: breakdown
    comparisonWindow: 2h
    resolution: 1h
    aggregation: sum
    source: { type: inline }
`,
);

const ASOF = '2026-11-28T12:00:00.000Z';
const hour = (h: number, minute = 0) =>
  `2026-11-28T${String(h).padStart(2, '0')}:${String(minute).padStart(2, '0')}:00.000Z`;

function collected(widgets: CollectedWidget[]): CollectedDashboard {
  return { dashboardId: 'shop', asOf: ASOF, widgets };
}

function latency(points: Point[], unit?: string): CollectedWidget {
  return {
    widgetId: 'latency',
    status: 'ok',
    data: { series: [{ key: 'latency', points }], ...(unit ? { unit } : {}) },
  };
}

describe('clean', () => {
  it('aligns to buckets, merges a bucket with the widget aggregation, and counts each rule', () => {
    const cleaned = cleanDashboard(
      dashboard,
      collected([
        latency([
          { t: '2026-11-28T10:30:00+01:00', v: 100 }, // 09:30 UTC → bucket 09:00
          { t: hour(9, 10), v: 200 }, // same bucket
          { t: hour(10), v: Number.NaN },
          { t: 'not a time', v: 1 },
          { t: hour(11), v: 300 },
          { t: hour(13), v: 5 }, // after asOf
          { t: '2026-11-27T20:00:00.000Z', v: 5 }, // before the two comparison windows
        ]),
      ]),
    );
    const widget = cleaned.widgets[0];
    if (widget?.status !== 'ok') throw new Error('expected data');
    expect(widget.series[0]?.points).toEqual([
      { t: hour(9), v: 150 },
      { t: hour(11), v: 300 },
    ]);
    expect(widget.series[0]?.gaps).toEqual([{ from: hour(10), to: hour(10), missingBuckets: 1 }]);
    expect(cleaned.report).toMatchObject({
      pointsAligned: 2,
      duplicatePointsMerged: 1,
      nonFinitePointsRemoved: 1,
      invalidTimestampsRemoved: 1,
      pointsOutsideWindowRemoved: 2,
      gapBucketsMarked: 1,
    });
  });

  it('converts source units to the widget unit, and reports units it cannot convert', () => {
    const seconds = cleanDashboard(dashboard, collected([latency([{ t: hour(11), v: 0.25 }], 's')]));
    const widget = seconds.widgets[0];
    expect(widget?.status === 'ok' && widget.series[0]?.points[0]?.v).toBe(250);
    expect(seconds.report.unitConversions).toBe(1);
    const bytes = cleanDashboard(dashboard, collected([latency([{ t: hour(11), v: 3 }], 'MB')]));
    expect(bytes.report).toMatchObject({ unitConversions: 0, unitMismatches: 1 });
  });

  it('flags an outlier and keeps it', () => {
    const points = [10, 11, 9, 10, 12, 10, 95, 11, 10].map((v, i) => ({ t: hour(3 + i), v }));
    const cleaned = cleanDashboard(dashboard, collected([latency(points)]));
    const widget = cleaned.widgets[0];
    if (widget?.status !== 'ok') throw new Error('expected data');
    expect(widget.series[0]?.points).toHaveLength(9);
    expect(widget.series[0]?.outliers.map((o) => [o.t, o.v])).toEqual([[hour(9), 95]]);
    expect(cleaned.report.outliersFlagged).toBe(1);
  });

  it('sanitizes, caps and redacts series names', () => {
    const orders: CollectedWidget = {
      widgetId: 'orders',
      status: 'ok',
      data: {
        series: [
          { key: 'DE\u0000\u202E', points: [{ t: hour(11), v: 1 }] },
          { key: 'buyer jane.doe@example.com', points: [{ t: hour(11), v: 2 }] },
          { key: 'y'.repeat(500), points: [{ t: hour(11), v: 3 }] },
        ],
      },
    };
    const cleaned = cleanDashboard(dashboard, collected([orders]));
    const widget = cleaned.widgets[0];
    if (widget?.status !== 'ok') throw new Error('expected data');
    expect(widget.series.map((s) => s.key.slice(0, 20))).toEqual(['DE', 'buyer [email]', 'y'.repeat(20)]);
    expect(widget.series[2]?.key.length).toBe(120);
    expect(cleaned.report).toMatchObject({ textsSanitized: 2, textsTruncated: 1, redactions: { emails: 1 } });
  });

  it('keeps the largest series of a huge breakdown and counts the rest', () => {
    const series = Array.from({ length: MAX_SERIES_PER_WIDGET + 7 }, (_, i) => ({
      key: `c${i}`,
      points: [{ t: hour(11), v: i }],
    }));
    const cleaned = cleanDashboard(
      dashboard,
      collected([{ widgetId: 'orders', status: 'ok', data: { series } }]),
    );
    const widget = cleaned.widgets[0];
    expect(widget?.status === 'ok' && widget.series).toHaveLength(MAX_SERIES_PER_WIDGET);
    expect(widget?.status === 'ok' && widget.series.some((s) => s.key === 'c0')).toBe(false);
    expect(cleaned.report.seriesDropped).toBe(7);
  });

  it('passes failed widgets through with their reason', () => {
    const cleaned = cleanDashboard(
      dashboard,
      collected([{ widgetId: 'orders', status: 'failed', reason: 'HTTP 503' }]),
    );
    expect(cleaned.widgets).toEqual([{ widgetId: 'orders', status: 'failed', reason: 'HTTP 503' }]);
  });

  it('is deterministic and never invents points, whatever the input (property)', () => {
    const point = fc.record({
      t: fc
        .integer({ min: Date.parse(hour(0)), max: Date.parse(hour(12)) })
        .map((ms) => new Date(ms).toISOString()),
      v: fc.oneof(fc.double(), fc.constant(Number.NaN), fc.constant(Number.POSITIVE_INFINITY)),
    });
    fc.assert(
      fc.property(fc.array(point, { maxLength: 60 }), (points) => {
        const first = cleanDashboard(dashboard, collected([latency(points)]));
        const again = cleanDashboard(dashboard, collected([latency(points)]));
        expect(again).toEqual(first);
        const widget = first.widgets[0];
        if (widget?.status !== 'ok') throw new Error('expected data');
        const out = widget.series[0]?.points ?? [];
        expect(out.length).toBeLessThanOrEqual(points.length);
        for (const p of out) expect(Number.isFinite(p.v)).toBe(true);
        const times = out.map((p) => p.t);
        expect([...times].sort()).toEqual(times);
        expect(new Set(times).size).toBe(times.length);
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 100) },
    );
  });
});
