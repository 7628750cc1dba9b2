import { summaryViewSchema } from '../../api/schemas';
import { readSummary, summarySchema } from '../../src/domain/summary';
import { summarizeLocally } from '../../src/summarize/local';
import { demoInputs } from '../grounding-corpus/demo-inputs';
import { summaryDraft } from '../support/summaries';

/** The stored summary and the API carry the grounding record, so a reader can see why a sentence was trusted. */
describe('the grounding record in the stored summary and the API', () => {
  it('survives storage and the API view, claim by claim', async () => {
    const [input] = await demoInputs('dashboards');
    if (!input) throw new Error('no demo input');
    const content = summarizeLocally(input);
    const stored = { ...summaryDraft(input.dashboardId, content), version: 3 };
    const read = readSummary(JSON.parse(JSON.stringify(stored)), {
      dashboardId: input.dashboardId,
      version: 3,
    });
    expect(read.unreadable).toEqual([]);
    expect(read.summary.grounding).toEqual(content.grounding);
    const claim = read.summary.grounding?.claims.find((c) => c.statistic === 'change % vs previous window');
    expect(claim).toMatchObject({ ok: true, widgetId: expect.any(String), stated: expect.any(Number) });

    const view = summaryViewSchema.parse({
      ...read.summary,
      checkedAt: read.summary.generatedAt,
      stale: false,
      links: { temporalRun: 'http://localhost:8233/namespaces/default/workflows/wf/run' },
    });
    expect(view.grounding).toEqual(content.grounding);
  });

  it('is optional: summaries written before the claim checker still read cleanly', () => {
    const old = { ...summaryDraft('d'), version: 1 };
    expect(summarySchema.safeParse(old).success).toBe(true);
    expect(readSummary(old, { dashboardId: 'd', version: 1 }).unreadable).toEqual([]);
  });
});
