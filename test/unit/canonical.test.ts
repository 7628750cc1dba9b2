import fc from 'fast-check';
import { canonicalJson, contentHash } from '../../src/pipeline/canonical';
import { demoSeries } from '../../src/sources/demo-data';

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

  it('changes when a value or an order inside an array changes', () => {
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 2 }));
    expect(contentHash([1, 2])).not.toBe(contentHash([2, 1]));
  });
});

describe('demo data', () => {
  it('is deterministic and only extends as time moves on', () => {
    const source = { type: 'demo' as const, seed: 3, base: 50, trend: 0.01, seasonality: 0.2, noise: 0.05 };
    const day = (n: number) => new Date(Date.UTC(2026, 10, n));
    const a = demoSeries(source, day(20), 86_400_000, 14);
    const b = demoSeries(source, day(20), 86_400_000, 14);
    const later = demoSeries(source, day(21), 86_400_000, 15);
    expect(a).toEqual(b);
    expect(a).toHaveLength(14);
    expect(later.slice(0, 14)).toEqual(a);
    for (const point of a) expect(Number.isFinite(point.v) && point.v > 0).toBe(true);
  });
});
