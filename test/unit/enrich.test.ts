import fc from 'fast-check';
import { parseDashboard } from '../../src/domain/registry';
import { cleanDashboard } from '../../src/pipeline/clean';
import { downsample, enrichDashboard } from '../../src/pipeline/enrich';
import type { CollectedDashboard, CollectedWidget } from '../../src/pipeline/types';

const dashboard = parseDashboard(
  'shop.yaml',
  `
id: shop
title: Shop
widgets:
  - id: revenue
    title: Revenue
    unit: EUR
    polarity: higher_is_better
    comparisonWindow: 3d
    resolution: 1d
    source: { type: inline }
  - id: channels
    title: Orders by channel
    kind: breakdown
    comparisonWindow: 3d
    resolution: 1d
    aggregation: sum
    source: { type: inline }
  - id: errors
    title: Errors
    source: { type: inline }
`,
);

const ASOF = '2026-11-28T12:00:00.000Z';
const day = (n: number) => `2026-11-${String(n).padStart(2, '0')}T00:00:00.000Z`;
const BUDGET = { tokenBudget: 100_000 };

function series(key: string, values: number[], firstDay = 22) {
  return { key, points: values.map((v, i) => ({ t: day(firstDay + i), v })) };
}

function collected(widgets: CollectedWidget[], asOf = ASOF): CollectedDashboard {
  return { dashboardId: 'shop', asOf, widgets };
}

const revenue: CollectedWidget = {
  widgetId: 'revenue',
  status: 'ok',
  data: { series: [series('revenue', [10, 10, 10, 20, 20, 20, 20])] },
};
const channels: CollectedWidget = {
  widgetId: 'channels',
  status: 'ok',
  data: { series: [series('web', [5, 5, 5, 10, 10, 10, 10]), series('shop', [5, 5, 5, 5, 5, 5, 5])] },
};
const errorsFailed: CollectedWidget = {
  widgetId: 'errors',
  status: 'failed',
  reason: 'HTTP 503 from source',
};

function enrich(widgets: CollectedWidget[], options = BUDGET, asOf = ASOF) {
  return enrichDashboard(dashboard, cleanDashboard(dashboard, collected(widgets, asOf)), options);
}

describe('enrich', () => {
  it('computes series statistics, change over the comparison window and trend', () => {
    const enriched = enrich([revenue]);
    expect(enriched.widgets[0]?.series[0]).toMatchObject({
      key: 'revenue',
      points: 7,
      lastValue: 20,
      min: 10,
      max: 20,
      currentMean: 20,
      previousMean: 13.3333,
      change: 6.66667,
      changePct: 50,
      slopePerDay: 0,
    });
    expect(enriched.dataAsOf).toBe(day(28));
    expect(enriched.timeRange).toEqual({ from: day(22), to: day(28) });
    expect(enriched.freshness).toEqual({ asOf: ASOF, dataAgeSeconds: 12 * 3600 });
  });

  it('gives breakdown totals, top movers and share shifts', () => {
    const widget = enrich([channels]).widgets[0];
    expect(widget?.breakdown).toEqual({
      // Current window: the 3 days up to the last point (26–28); previous: 23–25.
      total: { current: 45, previous: 35 },
      topMovers: [{ key: 'web', current: 30, previous: 20, change: 10, changePct: 50 }],
      shareShifts: [
        { key: 'shop', share: 33.33, previousShare: 42.86, shiftPp: -9.52 },
        { key: 'web', share: 66.67, previousShare: 57.14, shiftPp: 9.52 },
      ],
    });
  });

  it('reports anomalies with the points that triggered them', () => {
    const spiky: CollectedWidget = {
      widgetId: 'revenue',
      status: 'ok',
      data: { series: [series('revenue', [10, 11, 10, 9, 80, 10, 11])] },
    };
    expect(enrich([spiky]).widgets[0]?.anomalies).toEqual([
      { seriesKey: 'revenue', t: day(26), v: 80, score: expect.any(Number), direction: 'spike' },
    ]);
  });

  it('lists missing widgets with the reason', () => {
    expect(enrich([revenue, errorsFailed]).missing).toEqual([
      { widgetId: 'errors', reason: 'HTTP 503 from source' },
    ]);
  });

  it('hashes only the data: not the collection instant, not key order', () => {
    const a = enrich([revenue, channels]);
    const later = enrich([revenue, channels], BUDGET, '2026-11-28T18:00:00.000Z');
    const reordered = enrich([channels, revenue].reverse().map((w) => JSON.parse(JSON.stringify(w))));
    expect(later.inputHash).toBe(a.inputHash);
    expect(later.freshness).not.toEqual(a.freshness);
    expect(reordered.inputHash).toBe(a.inputHash);
    const changed = enrich([
      {
        widgetId: 'revenue',
        status: 'ok',
        data: { series: [series('revenue', [10, 10, 10, 20, 20, 20, 21])] },
      },
      channels,
    ]);
    expect(changed.inputHash).not.toBe(a.inputHash);
  });

  it('shrinks to the token budget: shorter sparklines first, then least-changed series, never an anomaly', () => {
    const many: CollectedWidget = {
      widgetId: 'channels',
      status: 'ok',
      data: {
        series: Array.from({ length: 40 }, (_, i) =>
          series(
            `channel-${i}`,
            i === 7 ? [10, 11, 10, 9, 10, 300, 10] : [10, 10, 10, 10 + i, 10 + i, 10 + i, 10 + i],
          ),
        ),
      },
    };
    const roomy = enrich([many]);
    expect(roomy.truncation).toEqual({ recentPoints: 24, seriesDropped: [], overBudget: false });

    const tight = enrich([many], { tokenBudget: 2500 });
    expect(tight.estimatedTokens).toBeLessThanOrEqual(2500);
    expect(tight.truncation.recentPoints).toBe(0);
    expect(tight.truncation.seriesDropped.length).toBeGreaterThan(0);
    const kept = tight.widgets[0]?.series.map((s) => s.key) ?? [];
    expect(kept).toContain('channel-7'); // the anomalous one
    expect(tight.widgets[0]?.anomalies.map((a) => a.seriesKey)).toEqual(['channel-7']);
    // Least changed go first: channel-1 (tiny change) is dropped before channel-39.
    expect(tight.truncation.seriesDropped).toContain('channels/channel-1');
    expect(kept).toContain('channel-39');
    for (const key of tight.truncation.seriesDropped) expect(kept).not.toContain(key.split('/')[1]);

    const impossible = enrich([many], { tokenBudget: 200 });
    expect(impossible.truncation.overBudget).toBe(true);
  });

  it('handles empty, single-point and constant series', () => {
    const empty: CollectedWidget = {
      widgetId: 'revenue',
      status: 'ok',
      data: { series: [{ key: 'revenue', points: [] }] },
    };
    expect(enrich([empty]).missing).toEqual([
      { widgetId: 'revenue', reason: 'no data points in the comparison windows' },
    ]);

    const single: CollectedWidget = {
      widgetId: 'revenue',
      status: 'ok',
      data: { series: [series('revenue', [5], 28)] },
    };
    expect(enrich([single]).widgets[0]?.series[0]).toMatchObject({
      lastValue: 5,
      previousMean: null,
      change: null,
      changePct: null,
      slopePerDay: null,
    });

    const constant: CollectedWidget = {
      widgetId: 'revenue',
      status: 'ok',
      data: { series: [series('revenue', [7, 7, 7, 7, 7, 7, 7])] },
    };
    const widget = enrich([constant]).widgets[0];
    expect(widget?.anomalies).toEqual([]);
    expect(widget?.series[0]).toMatchObject({ change: 0, changePct: 0, slopePerDay: 0 });
  });

  it('never produces non-finite numbers, whatever the values (property)', () => {
    const value = fc.oneof(
      fc.double({ min: -1e12, max: 1e12, noNaN: true }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
    );
    fc.assert(
      fc.property(fc.array(value, { minLength: 0, maxLength: 7 }), (values) => {
        const widget: CollectedWidget = {
          widgetId: 'revenue',
          status: 'ok',
          data: { series: [series('revenue', values)] },
        };
        const enriched = enrich([widget]);
        const json = JSON.stringify(enriched);
        expect(json).not.toMatch(/NaN|Infinity/);
        expect(JSON.parse(json)).toEqual(enriched);
      }),
    );
  });
});

describe('downsample', () => {
  it('averages into at most the target length and keeps short series as they are', () => {
    expect(downsample([1, 2, 3, 4], 2)).toEqual([1.5, 3.5]);
    expect(downsample([1, 2], 5)).toEqual([1, 2]);
    expect(downsample([1, 2], 0)).toEqual([]);
  });
});
