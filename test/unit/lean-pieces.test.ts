import fc from 'fast-check';
import { type InlineData, inlineDataOf, inlineEvents, mergeInlineData } from '../../src/sources/inline-data';

describe('inline data', () => {
  const points = (v: number) => [{ t: '2026-11-30T00:00:00Z', v }];

  it('keeps the freshest data per widget; a later arrival wins a tie', () => {
    const data = inlineDataOf([
      { occurredAt: '2026-11-30T10:00:00Z', payload: { widgets: { a: points(1), b: points(1) } } },
      { occurredAt: '2026-11-30T09:00:00Z', payload: { widgets: { a: points(2) } } },
      { occurredAt: '2026-11-30T10:00:00Z', payload: { widgets: { b: points(3) } } },
      { occurredAt: '2026-11-30T11:00:00Z' },
    ]);
    expect(data?.widgets.a?.points).toEqual(points(1));
    expect(data?.widgets.b?.points).toEqual(points(3));
  });

  it('compares instants, not text, across UTC offsets', () => {
    const merged = mergeInlineData([
      { widgets: { a: { occurredAt: '2026-11-30T10:30:00+01:00', points: points(1) } } },
      { widgets: { a: { occurredAt: '2026-11-30T09:45:00Z', points: points(2) } } },
    ]);
    // 10:30+01:00 is 09:30Z: the second layer is fresher.
    expect(merged.widgets.a?.points).toEqual(points(2));
  });

  it('is null when no event carried data, and reads back as one event per widget', () => {
    expect(inlineDataOf([{ occurredAt: '2026-11-30T10:00:00Z' }])).toBeNull();
    const events = inlineEvents({
      widgets: { a: { occurredAt: '2026-11-30T10:00:00Z', points: points(5) } },
    });
    expect(events).toEqual([
      { eventId: 'inline:a', occurredAt: '2026-11-30T10:00:00Z', payload: { widgets: { a: points(5) } } },
    ]);
  });

  it('merging layers one by one equals merging them at once', () => {
    const layer = fc.record({
      widgets: fc.dictionary(
        fc.constantFrom('a', 'b', 'c'),
        fc.record({
          occurredAt: fc
            .integer({ min: 0, max: 10 })
            .map((h) => new Date(Date.UTC(2026, 10, 30, h)).toISOString()),
          points: fc.array(fc.record({ t: fc.constant('2026-11-30T00:00:00Z'), v: fc.integer() }), {
            maxLength: 2,
          }),
        }),
      ),
    });
    fc.assert(
      fc.property(fc.array(layer, { maxLength: 6 }), (layers) => {
        const empty: InlineData = { widgets: {} };
        const stepwise = layers.reduce((acc, next) => mergeInlineData([acc, next]), empty);
        expect(stepwise).toEqual(mergeInlineData(layers));
      }),
    );
  });
});
