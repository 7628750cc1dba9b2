import type { Delivered } from '../../activities';
import { clip, currentDetails, duration, latestSummary, outcomeOf, usd } from '../../workflows/ui-details';

const stored = (extra: Partial<Extract<Delivered, { kind: 'stored' }>> = {}): Delivered => ({
  kind: 'stored',
  version: 3,
  model: 'gpt-4o',
  degraded: false,
  headline: 'Requests fell 33%',
  degradedReason: null,
  costUsd: 0.0042,
  cacheOutcome: 'miss',
  ...extra,
});

describe('what a run shows of its latest summary', () => {
  it('names how the summary came about', () => {
    expect(outcomeOf(stored(), false)).toBe('called');
    expect(outcomeOf(stored({ cacheOutcome: 'hit' }), false)).toBe('cache-hit');
    expect(outcomeOf(stored({ model: 'precis-local-extractive-v1', costUsd: 0 }), false)).toBe('local');
    expect(outcomeOf(stored({ degraded: true, degradedReason: 'breaker open' }), false)).toBe('fallback');
    expect(outcomeOf(stored(), true)).toBe('upgraded');
    expect(outcomeOf({ kind: 'touched', version: 3, cause: 'immaterial' }, false)).toBe('immaterial');
    // Results of earlier versions carry no cause.
    expect(outcomeOf({ kind: 'touched', version: 3 }, false)).toBe('unchanged');
  });

  it('keeps the headline and model of the version a run only confirmed', () => {
    const made = latestSummary(stored(), false, null);
    expect(made).toEqual({
      version: 3,
      outcome: 'called',
      headline: 'Requests fell 33%',
      model: 'gpt-4o',
      costUsd: 0.0042,
    });
    expect(latestSummary({ kind: 'touched', version: 3, cause: 'unchanged' }, false, made)).toEqual({
      version: 3,
      outcome: 'unchanged',
      headline: 'Requests fell 33%',
      model: 'gpt-4o',
      costUsd: 0,
    });
    // Another version than the one the run knows: nothing is borrowed.
    expect(latestSummary({ kind: 'touched', version: 4 }, false, made)).toEqual({
      version: 4,
      outcome: 'unchanged',
      costUsd: 0,
    });
  });

  it('states a degraded summary with its reason', () => {
    expect(
      latestSummary(stored({ degraded: true, degradedReason: 'breaker open' }), false, null),
    ).toMatchObject({
      outcome: 'fallback',
      degradedReason: 'breaker open',
    });
  });
});

describe('text for the UI', () => {
  it('fits search attribute values and reads durations and money', () => {
    expect(clip('x'.repeat(300))).toHaveLength(200);
    expect(clip('short')).toBe('short');
    expect(duration(5000)).toBe('5 s');
    expect(duration(60_000)).toBe('1 min');
    expect(duration(7_200_000)).toBe('2 h');
    expect(duration(1500)).toBe('1500 ms');
    expect(usd(0.0042)).toBe('$0.0042');
    expect(usd(1.5)).toBe('$1.50');
  });

  it('says what the run does now, with times in UTC', () => {
    const at = Date.UTC(2026, 10, 30, 15, 0, 0);
    const details = currentDetails({
      dashboardId: 'sre-checkout',
      plan: {
        title: 'Checkout service health',
        widgets: [{ widgetId: 'requests', title: 'Requests', source: 'demo' }],
      },
      quietPeriodMs: 5000,
      maxDelayMs: 60_000,
      phase: { kind: 'retrying', reason: 'Redis refused', failedAttempts: 2, nextAttemptAt: at },
      pending: 4,
      latest: { version: 7, outcome: 'fallback', model: 'precis-local-extractive-v1', costUsd: 0 },
      summariesMade: 1,
      runCostUsd: 0.01,
    });
    expect(details.split('\n')).toEqual([
      '- **Now:** retrying after Redis refused (2 failed attempts), next attempt at 2026-11-30 15:00:00 UTC',
      '- **Pending events:** 4',
      '- **Latest summary:** v7 · fallback · precis-local-extractive-v1',
      '- **This run:** 1 summary, $0.01 in model calls',
      '- **Dashboard:** Checkout service health (`sre-checkout`), quiet period 5 s, max delay 1 min',
      '- **Widgets:** Requests (demo)',
    ]);
  });
});
