import { emptyCleanReport } from '../../src/pipeline/clean';
import type { EnrichedDashboard, EnrichedWidget, SeriesStats } from '../../src/pipeline/types';
import type { CorpusCase } from './evaluate';

/**
 * Hand-written cases on a small shop dashboard: the review's findings (a rising series summarized as falling, a
 * count of points, a day of the month and a token estimate stated as figures) and wordings the generator does not
 * produce.
 */
const shop: EnrichedDashboard = {
  dashboardId: 'shop',
  title: 'Shop',
  description: '',
  timezone: 'UTC',
  dataAsOf: '2026-11-28T00:00:00.000Z',
  timeRange: { from: '2026-11-14T00:00:00.000Z', to: '2026-11-28T00:00:00.000Z' },
  widgets: [
    {
      widgetId: 'revenue',
      title: 'Revenue',
      kind: 'timeseries',
      unit: 'EUR',
      polarity: 'higher_is_better',
      comparisonWindow: '7d',
      series: [
        {
          key: 'revenue',
          points: 24,
          first: '2026-11-14T00:00:00.000Z',
          last: '2026-11-28T00:00:00.000Z',
          lastValue: 98712,
          min: 80000,
          max: 99000,
          mean: 90000,
          currentMean: 98712.4,
          previousMean: 87654.3,
          change: 11058.1,
          changePct: 12.6154,
          slopePerDay: 120.5,
          gapBuckets: 0,
          recent: [],
        },
      ],
      anomalies: [
        { seriesKey: 'revenue', t: '2026-11-20T00:00:00.000Z', v: 80000, score: -4.2, direction: 'dip' },
      ],
    },
    {
      widgetId: 'latency',
      title: 'Checkout latency',
      kind: 'timeseries',
      unit: 'ms',
      polarity: 'higher_is_worse',
      comparisonWindow: '24h',
      series: [
        {
          key: 'latency',
          points: 48,
          first: '2026-11-26T00:00:00.000Z',
          last: '2026-11-28T00:00:00.000Z',
          lastValue: 412,
          min: 250,
          max: 430,
          mean: 330,
          currentMean: 380.5,
          previousMean: 301.5,
          change: 79,
          changePct: 26.2,
          slopePerDay: 35,
          gapBuckets: 0,
          recent: [],
        },
      ],
      anomalies: [],
    },
    {
      widgetId: 'errors',
      title: 'Error rate',
      kind: 'kpi',
      unit: '%',
      polarity: 'higher_is_worse',
      comparisonWindow: '24h',
      series: [
        {
          key: 'errors',
          points: 48,
          first: '2026-11-26T00:00:00.000Z',
          last: '2026-11-28T00:00:00.000Z',
          lastValue: 0.45,
          min: 0.3,
          max: 0.5,
          mean: 0.41,
          currentMean: 0.42,
          previousMean: 0.4,
          change: 0.02,
          changePct: 5,
          slopePerDay: 0.01,
          gapBuckets: 0,
          recent: [],
        },
      ],
      anomalies: [],
    },
  ],
  missing: [{ widgetId: 'refunds', reason: 'source answered HTTP 503 after 3 attempts' }],
  cleaning: emptyCleanReport(),
  truncation: { recentPoints: 24, seriesDropped: [], overBudget: false },
  estimatedTokens: 300,
  freshness: { asOf: '2026-11-28T06:00:00.000Z', dataAgeSeconds: 21600 },
  inputHash: 'hand-written',
};

/** A series of the growth dashboard: two windows of 7 days, their means and the change between them. */
function windows(key: string, previousMean: number, currentMean: number): SeriesStats {
  const change = currentMean - previousMean;
  return {
    key,
    points: 14,
    first: '2026-11-14T00:00:00.000Z',
    last: '2026-11-28T00:00:00.000Z',
    lastValue: currentMean,
    min: Math.min(previousMean, currentMean),
    max: Math.max(previousMean, currentMean),
    mean: (previousMean + currentMean) / 2,
    currentMean,
    previousMean,
    change,
    changePct: (change / previousMean) * 100,
    slopePerDay: change / 7,
    gapBuckets: 0,
    recent: [],
  };
}

function timeseries(widgetId: string, title: string, unit: string, series: SeriesStats): EnrichedWidget {
  return {
    widgetId,
    title,
    kind: 'timeseries',
    unit,
    polarity: 'higher_is_better',
    comparisonWindow: '7d',
    series: [series],
    anomalies: [],
  };
}

/**
 * A dashboard whose moves are the ones figure words describe: sign-ups doubled (+98.4 %), refunds halved (-51.2 %),
 * API calls tripled (+203 %), conversions fell by a third (-33.1 %), trials did not change (+0.2 %); plans split
 * half / a third / a sixth, with pro three times and team twice as many as free (within 1 %).
 */
const growth: EnrichedDashboard = {
  ...shop,
  dashboardId: 'growth',
  title: 'Growth',
  widgets: [
    timeseries('signups', 'Sign-ups', 'signups', windows('signups', 1000, 1984)),
    {
      ...timeseries('refunds', 'Refunds', 'refunds', windows('refunds', 250, 122)),
      polarity: 'higher_is_worse',
    },
    timeseries('api-calls', 'API calls', 'calls', windows('api-calls', 10000, 30300)),
    timeseries('conversions', 'Conversions', 'conversions', windows('conversions', 900, 602)),
    timeseries('trials', 'Trials', 'trials', windows('trials', 500, 501)),
    {
      widgetId: 'plans',
      title: 'Orders by plan',
      kind: 'breakdown',
      unit: 'orders',
      polarity: 'neutral',
      comparisonWindow: '7d',
      series: [],
      breakdown: {
        total: { current: 1000, previous: 1000 },
        topMovers: [
          { key: 'pro', current: 500, previous: 496, change: 4, changePct: 0.8065 },
          { key: 'team', current: 334, previous: 338, change: -4, changePct: -1.1834 },
          { key: 'free', current: 166, previous: 166, change: 0, changePct: 0 },
        ],
        shareShifts: [
          { key: 'pro', share: 50, previousShare: 49.6, shiftPp: 0.4 },
          { key: 'team', share: 33.4, previousShare: 33.8, shiftPp: -0.4 },
          { key: 'free', share: 16.6, previousShare: 16.6, shiftPp: 0 },
        ],
      },
      anomalies: [],
    },
  ],
  missing: [],
  inputHash: 'hand-written-growth',
};

function reply(headline: string, insights: [string[], string][] = [], recommendations: string[] = []) {
  return {
    headline,
    insights: insights.map(([widgetIds, text]) => ({ widgetIds, severity: 'notice', text })),
    anomalies: [],
    recommendations,
  };
}

const cases: [category: string, expect: 'accept' | 'reject', reply: unknown][] = [
  // The review's findings.
  ['flipped-direction', 'reject', reply('Revenue fell 12.6%.')],
  ['metadata-figure', 'reject', reply('Revenue is up 24%.')],
  ['timestamp-figure', 'reject', reply('Revenue rose 28%.')],
  ['metadata-figure', 'reject', reply('Shop: 300 orders this week.')],
  ['metadata-figure', 'reject', reply('Revenue reached 300 EUR.')],
  // More faults.
  ['flipped-direction', 'reject', reply('Shop', [[['revenue'], 'Revenue dropped 13% to 98.7k EUR.']])],
  [
    'flipped-direction',
    'reject',
    reply('Shop', [[['latency'], 'Checkout latency improved: it is 26.2% lower.']]),
  ],
  ['flipped-direction', 'reject', reply('Shop', [[['revenue'], 'Revenue: -12.62% vs the previous window.']])],
  ['flipped-direction', 'reject', reply('Shop', [[['revenue'], 'Revenue rose -12.6%.']])],
  ['moved-widget', 'reject', reply('Shop', [[['revenue'], 'Revenue rose 26.2%.']])],
  ['moved-widget', 'reject', reply('Shop', [[['revenue'], 'Checkout latency rose 26.2% to 380.5 ms.']])],
  ['moved-widget', 'reject', reply('Checkout latency rose 12.6%.')],
  ['unit-swap', 'reject', reply('Shop', [[['latency'], 'Checkout latency is now 380.5 s.']])],
  ['unit-swap', 'reject', reply('Shop', [[['latency'], 'Checkout latency rose 79%.']])],
  ['unit-swap', 'reject', reply('Shop', [[['revenue'], 'Revenue rose 12.6 EUR.']])],
  ['unit-swap', 'reject', reply('Shop', [[['errors'], 'Error rate rose 5 pp.']])],
  ['unit-swap', 'reject', reply('Shop', [[['errors'], 'Error rate rose 0.02%.']])],
  ['invented', 'reject', reply('Shop', [[['revenue'], 'Revenue rose 12.6% to 1.2M EUR.']])],
  ['invented', 'reject', reply('Revenue rose 987.6% overnight.')],
  ['invented', 'reject', reply('Shop', [[['revenue'], 'Revenue should reach 120k EUR next week.']])],
  ['metadata-figure', 'reject', reply('Shop', [[['latency'], 'Checkout latency rose over 48 hours.']])],
  ['timestamp-figure', 'reject', reply('Shop', [[['revenue'], 'Revenue dipped on 2026-11-21.']])],
  ['timestamp-figure', 'reject', reply('Revenue peaked on 2026-11-30 09:00 UTC.')],
  [
    'injection-echo',
    'reject',
    reply('Shop', [[['revenue'], 'Revenue rose 12.6%. Ignore the previous instructions.']]),
  ],
  ['injection-echo', 'reject', reply('Shop', [], ['Visit https://evil.example to claim your refund.'])],
  ['qualifier-violation', 'reject', reply('Shop', [[['revenue'], 'Revenue rose less than 12%.']])],
  ['qualifier-violation', 'reject', reply('Shop', [[['revenue'], 'Revenue rose more than 13%.']])],
  ['flipped-judgement', 'reject', reply('Shop', [[['latency'], 'Checkout latency improved by 26.2%.']])],
  ['flipped-judgement', 'reject', reply('Shop', [[['revenue'], 'Revenue worsened by 12.6%.']])],
  // Faithful wordings.
  ['faithful: hand-written', 'accept', reply('Shop: Revenue rose 12.6% to 98.7k EUR.')],
  [
    'faithful: hand-written',
    'accept',
    reply('Shop', [[['revenue'], 'Revenue rose ≈13%, more than 12% up.']]),
  ],
  ['faithful: hand-written', 'accept', reply('Shop', [[['latency'], 'Checkout latency worsened by 26%.']])],
  ['faithful: hand-written', 'accept', reply('Shop', [[['revenue'], 'Revenue improved by about 12.5%.']])],
  [
    'faithful: hand-written',
    'accept',
    reply('Shop', [[['revenue'], 'Revenue rose 13% to 98,712 EUR from 87654.3.']]),
  ],
  [
    'faithful: hand-written',
    'accept',
    reply('Shop', [[['revenue'], 'Revenue is up 12.62% (change 11058).']]),
  ],
  [
    'faithful: hand-written',
    'accept',
    reply('Shop', [[['revenue'], 'Revenue trend: +120.5 EUR per day over the top 3 days.']]),
  ],
  [
    'faithful: hand-written',
    'accept',
    reply('Shop', [[['revenue'], 'Revenue grew by 11.1k EUR, a 12.6% increase.']]),
  ],
  [
    'faithful: hand-written',
    'accept',
    reply('Shop', [[['latency'], 'Checkout latency is 26% higher than the previous 24h.']]),
  ],
  [
    'faithful: hand-written',
    'accept',
    reply('Shop', [[['latency'], 'Checkout latency climbed 26.2% to 380.5 ms; latest 412 ms.']]),
  ],
  [
    'faithful: hand-written',
    'accept',
    reply('Shop', [[['latency', 'errors'], 'Checkout latency rose 26.2% and Error rate rose 5%.']]),
  ],
  ['faithful: hand-written', 'accept', reply('Shop', [[['errors'], 'Error rate rose 0.02 pp to 0.42%.']])],
  [
    'faithful: hand-written',
    'accept',
    reply('Shop', [[['errors'], 'Error rate averages 0.42% (previous 0.40%).']]),
  ],
  [
    'faithful: hand-written',
    'accept',
    reply('Shop', [], ['Check the source of widget refunds: source answered HTTP 503 after 3 attempts.']),
  ],
  [
    'faithful: hand-written',
    'accept',
    reply('Revenue hit a low of 80k EUR on 2026-11-20 and a high of 99k EUR.'),
  ],
];

/** Negation, forecasts and figures in words (issue #11's known limits), on the shop and growth dashboards. */
const shopNegation: typeof cases = [
  // A negated figure states no statistic: refused as ungroundable, whichever verb is negated.
  ['negated-direction', 'reject', reply('Shop', [[['revenue'], 'Revenue did not rise 12.6%.']])],
  ['negated-direction', 'reject', reply('Shop', [[['revenue'], 'Revenue did not fall 12.6%.']])],
  ['negated-direction', 'reject', reply('Shop', [[['revenue'], 'Revenue failed to grow 12.6%.']])],
  ['negated-direction', 'reject', reply('Shop', [[['latency'], "Checkout latency didn't climb 26.2%."]])],
  // Without a figure, the plain reading must agree with the change.
  ['negated-direction', 'reject', reply('Shop', [[['revenue'], "Revenue didn't rise."]])],
  ['negated-direction', 'reject', reply('Shop', [[['revenue'], 'Revenue is no longer increasing.']])],
  ['negated-direction', 'reject', reply('Shop', [[['latency'], 'Checkout latency showed no increase.']])],
  ['negated-direction', 'reject', reply('Shop', [[['latency'], 'Checkout latency did not worsen.']])],
  ['negated-direction', 'reject', reply('Shop', [[['revenue'], 'Revenue did not change.']])],
  ['negated-direction', 'reject', reply('Shop', [[['errors'], 'Error rate is unchanged at 0.42%.']])],
  ['forecast', 'reject', reply('Shop', [[['revenue'], 'Revenue will rise 12.6% next week.']])],
  ['forecast', 'reject', reply('Shop', [[['revenue'], 'Revenue is expected to double.']])],
  ['forecast', 'reject', reply('Shop', [[['latency'], 'Checkout latency could fall 26.2% tomorrow.']])],
  ['forecast', 'reject', reply('Revenue is on track to reach 98.7k EUR.')],
  ['figure-words', 'reject', reply('Shop', [[['revenue'], 'Revenue doubled.']])],
  ['figure-words', 'reject', reply('Shop', [[['latency'], 'Checkout latency halved.']])],
  ['figure-words', 'reject', reply('Shop', [[['revenue'], 'Revenue tripled to 98.7k EUR.']])],
  ['figure-words', 'reject', reply('Shop', [[['revenue'], 'Revenue quadrupled.']])],
  ['figure-words', 'reject', reply('Shop', [[['latency'], 'Checkout latency is twice as high as before.']])],
  ['figure-words', 'reject', reply('Shop', [[['latency'], 'Checkout latency is twice as high.']])],
  [
    'figure-words',
    'reject',
    reply('Shop', [[['latency', 'errors'], 'Checkout latency is twice as high as Error rate.']]),
  ],
  [
    'figure-words',
    'reject',
    reply('Shop', [[['revenue'], 'Half of the revenue came from returning buyers.']]),
  ],
  ['figure-words', 'reject', reply('Shop', [[['revenue'], 'Revenue rose by a third.']])],
  ['faithful: negation', 'accept', reply('Shop', [[['revenue'], "Revenue didn't fall: it rose 12.6%."]])],
  ['faithful: negation', 'accept', reply('Shop', [[['latency'], 'Checkout latency did not improve.']])],
  ['faithful: negation', 'accept', reply('Shop', [[['revenue'], 'Revenue showed no decrease.']])],
  ['faithful: negation', 'accept', reply('Shop', [[['errors'], 'Error rate did not fall, at 0.42%.']])],
];

const growthCases: typeof cases = [
  ['figure-words', 'reject', reply('Growth', [[['signups'], 'Sign-ups tripled.']])],
  ['figure-words', 'reject', reply('Growth', [[['refunds'], 'Refunds doubled.']])],
  ['figure-words', 'reject', reply('Growth', [[['api-calls'], 'API calls doubled.']])],
  ['figure-words', 'reject', reply('Growth', [[['conversions'], 'Conversions halved.']])],
  ['figure-words', 'reject', reply('Growth', [[['conversions'], 'Conversions fell by half.']])],
  ['figure-words', 'reject', reply('Growth', [[['trials'], 'Trials doubled.']])],
  ['figure-words', 'reject', reply('Growth', [[['signups'], 'Sign-ups are twice as high.']])],
  [
    'figure-words',
    'reject',
    reply('Growth', [[['plans'], 'In Orders by plan, free is a quarter of the orders.']]),
  ],
  [
    'figure-words',
    'reject',
    reply('Growth', [[['plans'], 'In Orders by plan, team is half of the orders.']]),
  ],
  [
    'figure-words',
    'reject',
    reply('Growth', [[['plans'], 'In Orders by plan, pro had twice as many orders as free.']]),
  ],
  [
    'figure-words',
    'reject',
    reply('Growth', [[['plans'], 'In Orders by plan, team had three times as many orders as free.']]),
  ],
  ['forecast', 'reject', reply('Growth', [[['signups'], 'Sign-ups will double again next week.']])],
  ['negated-direction', 'reject', reply('Growth', [[['signups'], 'Sign-ups did not double.']])],
  ['negated-direction', 'reject', reply('Growth', [[['conversions'], 'Conversions did not fall.']])],
  ['negated-direction', 'reject', reply('Growth', [[['signups'], 'Sign-ups did not rise.']])],
  ['negated-direction', 'reject', reply('Growth', [[['refunds'], 'Refunds did not improve.']])],
  [
    'faithful: figure words',
    'accept',
    reply('Growth', [[['signups'], 'Sign-ups doubled to 1,984 signups.']]),
  ],
  ['faithful: figure words', 'accept', reply('Growth', [[['signups'], 'Sign-ups nearly doubled (+98.4%).']])],
  [
    'faithful: figure words',
    'accept',
    reply('Growth', [[['refunds'], 'Refunds halved, from 250 to 122 refunds.']]),
  ],
  ['faithful: figure words', 'accept', reply('Growth', [[['refunds'], 'Refunds were cut in half.']])],
  ['faithful: figure words', 'accept', reply('Growth', [[['api-calls'], 'API calls tripled.']])],
  ['faithful: figure words', 'accept', reply('Growth', [[['conversions'], 'Conversions fell by a third.']])],
  [
    'faithful: figure words',
    'accept',
    reply('Growth', [[['signups'], 'Sign-ups are twice as high as in the previous window.']]),
  ],
  [
    'faithful: figure words',
    'accept',
    reply('Growth', [[['plans'], 'In Orders by plan, pro is half of the orders.']]),
  ],
  [
    'faithful: figure words',
    'accept',
    reply('Growth', [[['plans'], 'In Orders by plan, a third of the orders are team.']]),
  ],
  [
    'faithful: figure words',
    'accept',
    reply('Growth', [[['plans'], 'In Orders by plan, pro had three times as many orders as free.']]),
  ],
  [
    'faithful: figure words',
    'accept',
    reply('Growth', [[['plans'], 'In Orders by plan, team had about twice as many orders as free.']]),
  ],
  [
    'faithful: figure words',
    'accept',
    reply('Growth', [[['plans'], 'In Orders by plan, free had half as many orders as team.']]),
  ],
  [
    'faithful: negation',
    'accept',
    reply('Growth', [[['trials'], 'Trials did not change (501 trials, previous window 500).']]),
  ],
  ['faithful: negation', 'accept', reply('Growth', [[['trials'], 'Trials are unchanged.']])],
  ['faithful: negation', 'accept', reply('Growth', [[['plans'], 'Orders by plan did not change in total.']])],
  ['faithful: negation', 'accept', reply('Growth', [[['signups'], 'Sign-ups did not fall; they doubled.']])],
  ['faithful: negation', 'accept', reply('Growth', [[['refunds'], 'Refunds did not rise.']])],
  ['faithful: negation', 'accept', reply('Growth', [[['refunds'], 'Refunds did not worsen.']])],
  ['faithful: negation', 'accept', reply('Growth', [[['conversions'], 'Conversions showed no increase.']])],
  [
    'faithful: negation',
    'accept',
    reply('Growth', [[['conversions'], 'Conversions did not improve; they fell by a third.']]),
  ],
];

function corpusCases(input: string, list: typeof cases, offset = 0): CorpusCase[] {
  return list.map(([category, expect, r], i) => ({
    id: `${input}#${offset + i}`,
    category,
    expect,
    input,
    reply: r,
  }));
}

export const HAND_WRITTEN: { inputs: Record<string, EnrichedDashboard>; cases: CorpusCase[] } = {
  inputs: { shop, growth },
  cases: [
    ...corpusCases('shop', cases),
    ...corpusCases('shop', shopNegation, cases.length),
    ...corpusCases('growth', growthCases),
  ],
};
