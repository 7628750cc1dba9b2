import { emptyCleanReport } from '../../src/pipeline/clean';
import type { EnrichedDashboard, EnrichedWidget, SeriesStats } from '../../src/pipeline/types';
import { summarizeLocally } from '../../src/summarize/local';

function stats(overrides: Partial<SeriesStats>): SeriesStats {
  return {
    key: 'w',
    points: 14,
    first: '2026-11-01T00:00:00.000Z',
    last: '2026-11-14T00:00:00.000Z',
    lastValue: 100,
    min: 90,
    max: 110,
    mean: 100,
    currentMean: 100,
    previousMean: 100,
    change: 0,
    changePct: 0,
    slopePerDay: 0,
    gapBuckets: 0,
    recent: [],
    ...overrides,
  };
}

function widget(
  widgetId: string,
  title: string,
  unit: string,
  polarity: EnrichedWidget['polarity'],
  series: Partial<SeriesStats>,
): EnrichedWidget {
  return {
    widgetId,
    title,
    kind: 'timeseries',
    unit,
    polarity,
    comparisonWindow: '7d',
    series: [stats({ key: widgetId, ...series })],
    anomalies: [],
  };
}

function dashboard(widgets: EnrichedWidget[], missing: EnrichedDashboard['missing'] = []): EnrichedDashboard {
  return {
    dashboardId: 'd',
    title: 'Shop',
    description: '',
    timezone: 'UTC',
    dataAsOf: '',
    timeRange: { from: '', to: '' },
    widgets,
    missing,
    cleaning: emptyCleanReport(),
    truncation: { recentPoints: 0, seriesDropped: [], overBudget: false },
    estimatedTokens: 0,
    freshness: { asOf: '', dataAgeSeconds: 0 },
    inputHash: 'h',
  };
}

describe('local summarizer', () => {
  const errors = widget('errors', 'Error rate', '%', 'higher_is_worse', {
    currentMean: 1.3,
    previousMean: 1,
    change: 0.3,
    changePct: 30,
  });
  const revenue = widget('revenue', 'Revenue', 'EUR', 'higher_is_better', {
    currentMean: 1300,
    previousMean: 1000,
    change: 300,
    changePct: 30,
  });
  const flat = widget('visits', 'Visits', '', 'neutral', { changePct: 1, change: 1, currentMean: 101 });

  it('judges a move by the widget polarity and leads with the worst news', () => {
    const summary = summarizeLocally(dashboard([revenue, flat, errors]));
    expect(summary.insights.map((i) => [i.widgetIds[0], i.severity])).toEqual([
      ['errors', 'critical'],
      ['revenue', 'notice'],
      ['visits', 'info'],
    ]);
    expect(summary.headline).toBe('Shop: Error rate rose 30.0% to 1.30% (previous window 1.00%).');
    expect(summary.insights[2]?.text).toBe('Visits is stable at 101 (previous window 100).');
    expect(summary.recommendations).toEqual([
      'Investigate Error rate: it moved 30.0% in the wrong direction.',
    ]);
  });

  it('describes breakdown movers and share shifts, and lists anomalies', () => {
    const channels: EnrichedWidget = {
      ...widget('channels', 'Orders by channel', 'orders', 'neutral', {
        key: 'web',
        changePct: 100,
        change: 15,
        currentMean: 10,
        previousMean: 5,
      }),
      kind: 'breakdown',
      breakdown: {
        total: { current: 45, previous: 25 },
        topMovers: [{ key: 'web', current: 30, previous: 15, change: 15, changePct: 100 }],
        shareShifts: [{ key: 'web', share: 66.67, previousShare: 60, shiftPp: 6.67 }],
      },
      anomalies: [{ seriesKey: 'web', t: '2026-11-26T00:00:00.000Z', v: 80, score: 9.1, direction: 'spike' }],
    };
    const summary = summarizeLocally(dashboard([channels]));
    expect(summary.insights[0]?.text).toBe(
      'Orders by channel rose 80.0% to 45.00 orders (previous window 25.00 orders). Orders by channel: largest move: web +15.00 orders; web share +6.7 pp to 66.7%.',
    );
    expect(summary.anomalies).toEqual([
      {
        widgetId: 'channels',
        at: '2026-11-26T00:00:00.000Z',
        value: 80,
        description: 'Orders by channel: spike to 80.00 orders on 2026-11-26 00:00 UTC',
      },
    ]);
  });

  it('says which widgets are missing', () => {
    const summary = summarizeLocally(dashboard([], [{ widgetId: 'orders', reason: 'source timed out' }]));
    expect(summary.headline).toBe('Shop: no widget data available (1 missing).');
    expect(summary.insights).toEqual([]);
    expect(summary.recommendations).toEqual(['Check the source of widget orders: source timed out.']);
  });

  it('only states numbers that are in its input', () => {
    const summary = summarizeLocally(dashboard([revenue, errors]));
    const text = [summary.headline, ...summary.insights.map((i) => i.text), ...summary.recommendations].join(
      ' ',
    );
    const allowed = ['1300', '1000', '1.30', '1.00', '30.0'];
    for (const number of text.match(/\d+(\.\d+)?/g) ?? []) expect(allowed).toContain(number);
  });
});
