import { byCategory, evaluateCorpus, loadCorpus, loadGenerated } from '../grounding-corpus/evaluate';
import { generateCorpus } from '../grounding-corpus/generate';

/**
 * The adversarial corpus (test/grounding-corpus): every reply goes through the production review (schema, widget
 * ids, text checks, claim check). Faulty replies must all be refused; faithful ones refused at most 2 % of the time,
 * in every category. The README reports the table this prints.
 */
describe('grounding corpus', () => {
  it('has several hundred cases in every fault category and faithful wordings', () => {
    const corpus = loadCorpus();
    expect(corpus.length).toBeGreaterThanOrEqual(500);
    const categories = new Set(corpus.map((c) => c.category));
    for (const category of [
      'flipped-direction',
      'moved-widget',
      'moved-series',
      'unit-swap',
      'metadata-figure',
      'timestamp-figure',
      'invented',
      'injection-echo',
      'wrong-anomaly',
      'negated-direction',
      'forecast',
      'figure-words',
      'faithful: negation',
      'faithful: figure words',
    ]) {
      expect(categories).toContain(category);
    }
    expect(corpus.filter((c) => c.expect === 'accept').length).toBeGreaterThanOrEqual(200);
  });

  it('is what the generator makes of the current demo data (regenerate with generate.ts when either changes)', async () => {
    expect(JSON.parse(JSON.stringify(await generateCorpus()))).toEqual(loadGenerated());
  });

  it('accepts no faulty reply and refuses at most 2 % of faithful ones, by category', async () => {
    const outcomes = await evaluateCorpus();
    const falseAccepts = outcomes
      .filter((o) => o.case.expect === 'reject' && o.accepted)
      .map((o) => o.case.id);
    expect(falseAccepts).toEqual([]);
    const overBudget = byCategory(outcomes)
      .filter((row) => row.expect === 'accept' && row.rate > 0.02)
      .map((row) => ({
        ...row,
        refused: outcomes
          .filter((o) => o.case.category === row.category && !o.accepted)
          .slice(0, 5)
          .map((o) => `${o.case.id}: ${o.detail}`),
      }));
    expect(overBudget).toEqual([]);
  });
});
