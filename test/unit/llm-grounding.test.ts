import { checkGrounding, statedNumbers } from '../../src/llm/grounding';
import { summarizeDashboardData } from '../support/openai-server';

/**
 * JavaScript writes tiny values in exponent form ("-1.918e-14"); a reply that copies such a value must be read as
 * the one number it is, not as a mantissa "-1.918" and a stray "14" (which the bench reported as ungrounded).
 */
describe('grounding of numbers in exponent form', () => {
  const data = {
    dashboardId: 'ops',
    title: 'Ops',
    widgets: [
      {
        widgetId: 'x-014',
        title: 'Latency',
        series: [{ key: 'x-014', changePct: -1.918e-14, currentMean: 250.5, previousMean: 250.5 }],
      },
      {
        widgetId: 'errors',
        title: 'Errors',
        series: [{ key: 'errors', changePct: 3.2e21, currentMean: 1.5e-7 }],
      },
    ],
  };

  it('grounds a reply that copies the data exactly (the test server does)', () => {
    const reply = summarizeDashboardData(data);
    expect(reply.insights.map((i) => i.text).join(' ')).toContain('-1.918e-14%');
    expect(checkGrounding(reply, data)).toMatchObject({ grounded: true, ungrounded: [] });
  });

  it('reads an exponent form as one number with the rounding its mantissa shows', () => {
    const stated = statedNumbers('fell -1.918e-14% and rose 3.2e+21, at 1.5E-7');
    expect(stated.map((n) => [n.text, n.value])).toEqual([
      ['-1.918e-14', -1.918e-14],
      ['3.2e+21', 3.2e21],
      ['1.5E-7', 1.5e-7],
    ]);
    const relative = stated.map((n) => n.tolerance / Math.abs(n.value));
    expect(relative[0]).toBeCloseTo(0.5e-3 / 1.918, 12);
    expect(relative[1]).toBeCloseTo(0.05 / 3.2, 12);
    expect(relative[2]).toBeCloseTo(0.05 / 1.5, 12);
  });

  it('still rejects invented numbers, whether or not they are written with an exponent', () => {
    const invented = (text: string) => ({
      headline: text,
      insights: [],
      anomalies: [],
      recommendations: [],
    });
    expect(checkGrounding(invented('Latency changed -1.918%.'), data).grounded).toBe(false);
    const report = checkGrounding(invented('Latency changed -7.5e-14%.'), data);
    expect(report.claims.filter((c) => !c.ok).map((c) => c.text)).toEqual(['-7.5e-14%']);
    // Digits followed by a word starting with "e" are not an exponent.
    expect(statedNumbers('2e-mail users, 3e5x').map((n) => n.text)).toEqual(['2', '3']);
  });
});
