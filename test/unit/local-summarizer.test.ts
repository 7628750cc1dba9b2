import type { EnrichedDashboard, WidgetStats } from '../../src/pipeline/types';
import { summarizeLocally } from '../../src/summarize/local';

function stats(overrides: Partial<WidgetStats>): WidgetStats {
  return {
    widgetId: 'w',
    title: 'W',
    kind: 'timeseries',
    unit: '',
    polarity: 'neutral',
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
    ...overrides,
  };
}

function dashboard(widgets: WidgetStats[], missing: EnrichedDashboard['missing'] = []): EnrichedDashboard {
  return { dashboardId: 'd', title: 'Shop', description: '', dataAsOf: '', widgets, missing, inputHash: 'h' };
}

describe('local summarizer', () => {
  const errors = stats({
    widgetId: 'errors',
    title: 'Error rate',
    unit: '%',
    polarity: 'higher_is_worse',
    currentMean: 1.3,
    previousMean: 1,
    change: 0.3,
    changePct: 30,
  });
  const revenue = stats({
    widgetId: 'revenue',
    title: 'Revenue',
    unit: 'EUR',
    polarity: 'higher_is_better',
    currentMean: 1300,
    previousMean: 1000,
    change: 300,
    changePct: 30,
  });
  const flat = stats({ widgetId: 'visits', title: 'Visits', changePct: 1, change: 1, currentMean: 101 });

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
