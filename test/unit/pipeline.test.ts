import fc from 'fast-check';
import { parseDashboard } from '../../src/domain/registry';
import { canonicalJson, contentHash } from '../../src/pipeline/canonical';
import { cleanDashboard } from '../../src/pipeline/clean';
import { collectDashboard } from '../../src/pipeline/collect';
import { demoSeries } from '../../src/pipeline/demo-data';
import { enrichDashboard } from '../../src/pipeline/enrich';
import type { CollectedDashboard } from '../../src/pipeline/types';

const dashboard = parseDashboard(
  'shop.yaml',
  `
id: shop
title: Shop
widgets:
  - id: orders
    title: Orders
    unit: orders
    polarity: higher_is_better
    comparisonWindow: 2d
    resolution: 1d
    source: { type: inline }
  - id: visits
    title: Visits
    source: { type: demo, seed: 7, base: 1000 }
`,
);

const day = (n: number) => `2026-11-${String(n).padStart(2, '0')}T00:00:00.000Z`;

describe('canonical JSON and content hash', () => {
  it('is independent of key order at every depth', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(object));
        expect(contentHash({ b: 1, a: { d: 2, c: [object] } })).toBe(
          contentHash({ a: { c: [reversed], d: 2 }, b: 1 }),
        );
      }),
    );
  });

  it('changes when a value changes', () => {
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 2 }));
    expect(contentHash([1, 2])).not.toBe(contentHash([2, 1]));
  });
});

describe('demo data', () => {
  it('is deterministic and only extends as time moves on', () => {
    const source = { type: 'demo' as const, seed: 3, base: 50, trend: 0.01, seasonality: 0.2, noise: 0.05 };
    const a = demoSeries(source, new Date(day(20)), 86_400_000, 14);
    const b = demoSeries(source, new Date(day(20)), 86_400_000, 14);
    const later = demoSeries(source, new Date(day(21)), 86_400_000, 15);
    expect(a).toEqual(b);
    expect(a).toHaveLength(14);
    expect(later.slice(0, 14)).toEqual(a);
    for (const point of a) expect(Number.isFinite(point.v) && point.v > 0).toBe(true);
  });
});

describe('collect', () => {
  it('takes inline data from the freshest event that carries it and reports widgets without data', () => {
    const older = {
      eventId: 'a',
      occurredAt: day(1),
      payload: { widgets: { orders: [{ t: day(1), v: 1 }] } },
    };
    const newer = {
      eventId: 'b',
      occurredAt: day(2),
      payload: { widgets: { orders: [{ t: day(2), v: 2 }] } },
    };
    const collected = collectDashboard(dashboard, new Date(day(3)), [newer, older]);
    expect(collected.widgets.find((w) => w.widgetId === 'orders')).toEqual({
      widgetId: 'orders',
      status: 'ok',
      points: [{ t: day(2), v: 2 }],
    });
    const withoutData = collectDashboard(dashboard, new Date(day(3)), [{ eventId: 'c', occurredAt: day(2) }]);
    expect(withoutData.widgets.find((w) => w.widgetId === 'orders')).toMatchObject({ status: 'failed' });
  });
});

describe('clean', () => {
  it('sorts, collapses duplicate timestamps, drops non-finite values and counts each rule', () => {
    const collected: CollectedDashboard = {
      dashboardId: 'shop',
      asOf: day(10),
      widgets: [
        {
          widgetId: 'orders',
          status: 'ok',
          points: [
            { t: '2026-11-03T01:00:00+01:00', v: 3 },
            { t: day(1), v: 1 },
            { t: day(2), v: Number.NaN },
            { t: day(3), v: 4 },
          ],
        },
        { widgetId: 'visits', status: 'failed', reason: 'timeout' },
      ],
    };
    const cleaned = cleanDashboard(collected);
    expect(cleaned.widgets[0]).toEqual({
      widgetId: 'orders',
      status: 'ok',
      points: [
        { t: day(1), v: 1 },
        { t: day(3), v: 4 },
      ],
    });
    expect(cleaned.widgets[1]).toEqual(collected.widgets[1]);
    expect(cleaned.report).toEqual({
      duplicatePointsRemoved: 1,
      nonFinitePointsRemoved: 1,
      pointsReordered: 1,
    });
  });
});

describe('enrich', () => {
  const points = [1, 2, 3, 4, 10, 20].map((v, i) => ({ t: day(i + 1), v }));
  const cleaned = cleanDashboard({
    dashboardId: 'shop',
    asOf: day(7),
    widgets: [
      { widgetId: 'orders', status: 'ok', points },
      { widgetId: 'visits', status: 'failed', reason: 'source timed out' },
    ],
  });

  it('computes statistics and the change over the comparison window', () => {
    const enriched = enrichDashboard(dashboard, cleaned);
    expect(enriched.widgets).toHaveLength(1);
    expect(enriched.widgets[0]).toMatchObject({
      widgetId: 'orders',
      points: 6,
      lastValue: 20,
      min: 1,
      max: 20,
      mean: 6.66667,
      currentMean: 15,
      previousMean: 3.5,
      change: 11.5,
      changePct: 328.6,
    });
    expect(enriched.missing).toEqual([{ widgetId: 'visits', reason: 'source timed out' }]);
    expect(enriched.dataAsOf).toBe(day(6));
  });

  it('hashes the same data the same way whenever it was collected', () => {
    const again = cleanDashboard({ ...cleaned, asOf: day(9) });
    expect(enrichDashboard(dashboard, again).inputHash).toBe(enrichDashboard(dashboard, cleaned).inputHash);
    const changed = cleanDashboard({
      ...cleaned,
      widgets: [{ widgetId: 'orders', status: 'ok', points: points.map((p) => ({ ...p, v: p.v + 1 })) }],
    });
    expect(enrichDashboard(dashboard, changed).inputHash).not.toBe(
      enrichDashboard(dashboard, cleaned).inputHash,
    );
  });

  it('has no previous window for a single point', () => {
    const single = cleanDashboard({
      dashboardId: 'shop',
      asOf: day(2),
      widgets: [{ widgetId: 'orders', status: 'ok', points: [{ t: day(1), v: 5 }] }],
    });
    expect(enrichDashboard(dashboard, single).widgets[0]).toMatchObject({
      lastValue: 5,
      previousMean: null,
      change: null,
      changePct: null,
    });
  });
});
