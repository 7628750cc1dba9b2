import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseDashboard } from '../../src/domain/registry';
import { checkGrounding } from '../../src/llm/grounding';
import { modelInput } from '../../src/llm/prompt';
import { cleanDashboard } from '../../src/pipeline/clean';
import { enrichDashboard } from '../../src/pipeline/enrich';
import type { CollectedWidget } from '../../src/pipeline/types';
import { summarizeLocally } from '../../src/summarize/local';
import { demoInputs } from '../grounding-corpus/demo-inputs';
import { summarizeDashboardData } from '../support/openai-server';

/** The local summarizer meets the bar model replies meet: every claim it writes binds to the data. */
describe('the local summarizer under the claim checker', () => {
  it('grounds every claim on every demo dashboard, and records what it checked', async () => {
    const inputs = await demoInputs('dashboards');
    expect(inputs.length).toBeGreaterThanOrEqual(8);
    for (const input of inputs) {
      const content = summarizeLocally(input);
      const report = checkGrounding(content, modelInput(input));
      expect({ dashboard: input.dashboardId, ungrounded: report.ungrounded }).toEqual({
        dashboard: input.dashboardId,
        ungrounded: [],
      });
      // Nothing was left out: every widget keeps its insight.
      expect(content.insights).toHaveLength(input.widgets.length);
      expect(content.grounding?.grounded).toBe(true);
      expect(content.grounding?.claims.length).toBeGreaterThan(0);
    }
  });

  it("passes the test model server's faithful replies too (the stand-in for the hosted model)", async () => {
    for (const input of await demoInputs('dashboards')) {
      const data = modelInput(input);
      expect(checkGrounding(summarizeDashboardData(data), data).ungrounded).toEqual([]);
    }
  });

  it('leaves out a part that fails a check and records why (a source error quoting a link)', async () => {
    const [input] = await demoInputs('dashboards');
    if (!input) throw new Error('no demo input');
    const reason = 'GET https://10.0.0.7/api/orders answered 503';
    const content = summarizeLocally({ ...input, missing: [{ widgetId: 'refunds', reason }] });
    expect(content.recommendations.join(' ')).not.toContain('https://');
    expect(content.grounding?.grounded).toBe(true);
    expect(content.grounding?.omitted).toEqual([
      expect.stringMatching(/^recommendations\[\d+\]: contains a link/),
    ]);
    expect(summarizeLocally(input).grounding?.omitted).toBeUndefined();
  });

  it('never writes a signed zero share shift ("-0.0 pp" claims a direction the data does not show)', async () => {
    for (const input of await demoInputs('dashboards')) {
      const texts = summarizeLocally(input).insights.map((i) => i.text);
      expect(texts.join(' ')).not.toMatch(/[-+]0\.0 pp/);
    }
  });

  it('grounds every claim on generated data of any shape (property)', () => {
    const dashboard = parseDashboard(
      'marketing-funnel.yaml',
      readFileSync('dashboards/marketing-funnel.yaml', 'utf8'),
    );
    const asOf = '2026-11-28T12:00:00.000Z';
    const day = (n: number) => new Date(Date.parse(asOf) - n * 86_400_000).toISOString().slice(0, 10);
    const values = fc.array(
      fc.oneof(fc.double({ min: -1e7, max: 1e7, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true })),
      { minLength: 2, maxLength: 14 },
    );
    fc.assert(
      fc.property(fc.array(values, { minLength: 4, maxLength: 4 }), values, (seriesValues, extra) => {
        const widgets: CollectedWidget[] = dashboard.widgets.map((widget, w) => {
          const points = (vs: number[]) =>
            vs.map((v, i) => ({ t: `${day(vs.length - i)}T00:00:00.000Z`, v }));
          const own = seriesValues[w] ?? [];
          const data =
            widget.kind === 'breakdown'
              ? {
                  series: [
                    { key: 'search', points: points(own) },
                    { key: 'email', points: points(extra) },
                  ],
                }
              : { series: [{ key: widget.id, points: points(own) }] };
          return { widgetId: widget.id, status: 'ok', data };
        });
        const cleaned = cleanDashboard(dashboard, { dashboardId: dashboard.id, asOf, widgets });
        const input = enrichDashboard(dashboard, cleaned, { tokenBudget: 3000 });
        const content = summarizeLocally(input);
        expect(checkGrounding(content, modelInput(input)).ungrounded).toEqual([]);
        // Grounded as written: the summarizer had to leave nothing out to pass.
        expect(content.insights).toHaveLength(input.widgets.length);
        expect(content.anomalies).toHaveLength(Math.min(5, input.widgets.flatMap((w) => w.anomalies).length));
      }),
      { numRuns: 200 },
    );
  });
});
