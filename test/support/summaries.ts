import type { SummaryDraft } from '../../src/domain/summary';

/** A complete, valid summary draft for tests that need one stored; `overrides` changes what the test is about. */
export function summaryDraft(dashboardId: string, overrides: Partial<SummaryDraft> = {}): SummaryDraft {
  const now = new Date().toISOString();
  return {
    dashboardId,
    generatedAt: now,
    dataAsOf: now,
    headline: 'Checkout is healthy.',
    insights: [{ widgetIds: ['p99-latency'], severity: 'info', text: 'p99 latency is flat.' }],
    anomalies: [],
    recommendations: [],
    missingWidgets: [],
    model: 'precis-local-extractive-v1',
    degraded: false,
    degradedReason: null,
    usage: { promptTokens: 0, completionTokens: 0, costUsd: 0 },
    cacheOutcome: 'none',
    inputHash: 'h',
    eventIds: ['e1'],
    workflowId: 'wf',
    runId: 'run',
    ...overrides,
  };
}
