import { EPOCH_MILLIS_THRESHOLD, extractSeries, MAX_POINTS } from '../../src/sources/json-mapping';
import { SourceError } from '../../src/sources/types';

const flat = { items: '', time: 't', value: 'v' };

function sourceErrorOf(run: () => unknown): SourceError {
  try {
    run();
  } catch (error) {
    if (error instanceof SourceError) return error;
    throw error;
  }
  throw new Error('expected a SourceError');
}

describe('extractSeries', () => {
  it('follows a nested items path and nested fields', () => {
    const document = {
      data: {
        result: {
          rows: [
            { at: { iso: '2024-03-01T00:00:00Z' }, stats: { count: 5 } },
            { at: { iso: '2024-03-02T00:00:00Z' }, stats: { count: 7.5 } },
          ],
        },
      },
    };
    const series = extractSeries(
      document,
      { items: 'data.result.rows', time: 'at.iso', value: 'stats.count' },
      'signups',
    );
    expect(series).toEqual([
      {
        key: 'signups',
        points: [
          { t: '2024-03-01T00:00:00.000Z', v: 5 },
          { t: '2024-03-02T00:00:00.000Z', v: 7.5 },
        ],
      },
    ]);
  });

  it('uses the document itself when items is ""', () => {
    expect(extractSeries([{ t: '2024-03-01T00:00:00Z', v: 1 }], flat, 'w')).toEqual([
      { key: 'w', points: [{ t: '2024-03-01T00:00:00.000Z', v: 1 }] },
    ]);
  });

  it('reads array indexes in paths', () => {
    const document = { results: [{ values: [{ t: 1_700_000_000, v: 2 }] }] };
    const [series] = extractSeries(document, { items: 'results.0.values', time: 't', value: 'v' }, 'w');
    expect(series?.points).toEqual([{ t: '2023-11-14T22:13:20.000Z', v: 2 }]);
  });

  it.each([
    ['epoch seconds', 1_700_000_000, '2023-11-14T22:13:20.000Z'],
    ['fractional epoch seconds', 1_700_000_000.5, '2023-11-14T22:13:20.500Z'],
    ['epoch milliseconds', 1_700_000_000_123, '2023-11-14T22:13:20.123Z'],
    ['epoch seconds as a string', '1700000000', '2023-11-14T22:13:20.000Z'],
    ['epoch milliseconds as a string', '1700000000123', '2023-11-14T22:13:20.123Z'],
    ['the last number read as seconds', EPOCH_MILLIS_THRESHOLD - 1, '5138-11-16T09:46:39.000Z'],
    ['the first number read as milliseconds', EPOCH_MILLIS_THRESHOLD, '1973-03-03T09:46:40.000Z'],
    ['ISO with Z', '2024-03-01T12:30:00Z', '2024-03-01T12:30:00.000Z'],
    ['ISO with an offset', '2024-03-01T12:30:00+02:00', '2024-03-01T10:30:00.000Z'],
    ['ISO without an offset (UTC)', '2024-03-01T12:30:00', '2024-03-01T12:30:00.000Z'],
    ['ISO with a space and fractions', '2024-03-01 12:30:00.250Z', '2024-03-01T12:30:00.250Z'],
    ['a date', '2024-03-01', '2024-03-01T00:00:00.000Z'],
  ])('reads %s', (_what, time, expected) => {
    const [series] = extractSeries([{ t: time, v: 1 }], flat, 'w');
    expect(series?.points[0]?.t).toBe(expected);
  });

  it.each([
    ['42', 42],
    [' -1.5 ', -1.5],
    ['1e3', 1000],
    ['.5', 0.5],
    [0, 0],
  ])('accepts the value %j as %d', (value, expected) => {
    const [series] = extractSeries([{ t: '2024-03-01', v: value }], flat, 'w');
    expect(series?.points[0]?.v).toBe(expected);
  });

  it('groups points per series key, in order of first appearance, preserving point order', () => {
    const document = [
      { t: 1, v: 1, s: 'paid' },
      { t: 2, v: 2, s: 'organic' },
      { t: 3, v: 3, s: 'paid' },
      { t: 4, v: 4, s: 404 },
    ];
    const series = extractSeries(document, { ...flat, series: 's' }, 'w');
    expect(series.map((s) => s.key)).toEqual(['paid', 'organic', '404']);
    expect(series[0]?.points.map((p) => p.v)).toEqual([1, 3]);
    expect(series[1]?.points.map((p) => p.v)).toEqual([2]);
  });

  it('returns no series for an empty array', () => {
    expect(extractSeries({ items: [] }, { ...flat, items: 'items' }, 'w')).toEqual([]);
  });

  it.each([
    ['a missing time', [{ t: '2024-03-01', v: 1 }, { v: 2 }], /item 1: field "t" is missing/],
    ['a bad time', [{ t: 'yesterday', v: 1 }], /item 0: field "t" "yesterday" is not an ISO 8601 timestamp/],
    ['an impossible time', [{ t: 1e20, v: 1 }], /item 0: field "t" 100000000000000000000 is not/],
    ['a boolean time', [{ t: true, v: 1 }], /item 0: field "t" true is not/],
    ['a missing value', [{ t: 1 }, { t: 2, v: 3 }], /item 0: field "v" is missing/],
    [
      'a non-numeric value',
      [
        { t: 1, v: 1 },
        { t: 2, v: 2 },
        { t: 3, v: 'n/a' },
      ],
      /item 2: field "v" "n\/a" is not a number/,
    ],
    ['a hex string value', [{ t: 1, v: '0x10' }], /item 0: field "v" "0x10" is not a number/],
    ['a null value', [{ t: 1, v: null }], /item 0: field "v" null is not a number/],
    ['an empty string value', [{ t: 1, v: '' }], /item 0: field "v" "" is not a number/],
    ['an item that is not an object', [{ t: 1, v: 1 }, 7], /item 1: field "t" is missing/],
  ])('rejects the whole response for %s, naming the item', (_what, document, message) => {
    const error = sourceErrorOf(() => extractSeries(document, flat, 'w'));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(message);
  });

  it('rejects an item without its series field', () => {
    const error = sourceErrorOf(() =>
      extractSeries(
        [
          { t: 1, v: 1, s: 'a' },
          { t: 2, v: 2 },
        ],
        { ...flat, series: 's' },
        'w',
      ),
    );
    expect(error.message).toMatch(/item 1: field "s" is missing/);
  });

  it.each([
    [{ data: { items: {} } }, /at "data\.items" in the response, found object/],
    [{ data: {} }, /at "data\.items" in the response, found nothing/],
    [{ data: { items: null } }, /found null/],
    [{ data: { items: 'x' } }, /found string/],
  ])('rejects a document whose items path is not an array: %j', (document, message) => {
    const error = sourceErrorOf(() => extractSeries(document, { ...flat, items: 'data.items' }, 'w'));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(message);
  });

  it('does not walk into inherited properties', () => {
    const error = sourceErrorOf(() => extractSeries({}, { ...flat, items: 'constructor' }, 'w'));
    expect(error.message).toMatch(/found nothing/);
    expect(() => extractSeries([{ t: 1, v: 1 }], { ...flat, value: 'toString' }, 'w')).toThrow(
      /field "toString" is missing/,
    );
  });

  it(`accepts ${MAX_POINTS} points and refuses one more`, () => {
    const items = Array.from({ length: MAX_POINTS }, (_, i) => ({ t: 1_700_000_000 + i, v: i }));
    expect(extractSeries(items, flat, 'w')[0]?.points).toHaveLength(MAX_POINTS);
    items.push({ t: 1, v: 1 });
    const error = sourceErrorOf(() => extractSeries(items, flat, 'w'));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/more than the limit of 100000/);
  });
});
