import type { SummaryDraft } from '../../src/domain/summary';

/** A valid summary draft of dashboard `ops`, for tests of what stores and delivers summaries. */
export function summaryDraft(overrides: Partial<SummaryDraft> = {}): SummaryDraft {
  const now = new Date().toISOString();
  return {
    dashboardId: 'ops',
    generatedAt: now,
    dataAsOf: now,
    headline: 'Orders held steady',
    insights: [],
    anomalies: [],
    recommendations: [],
    missingWidgets: [],
    model: 'm',
    degraded: false,
    degradedReason: null,
    usage: { promptTokens: 0, completionTokens: 0, costUsd: 0 },
    cacheOutcome: 'none',
    inputHash: 'h',
    eventIds: [],
    workflowId: 'wf',
    runId: 'run',
    ...overrides,
  };
}
