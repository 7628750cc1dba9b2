import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkGrounding } from '../../src/llm/grounding';
import { review } from '../../src/llm/model-client';
import { modelOutputSchema } from '../../src/llm/output';
import { loadPrompt, modelInput } from '../../src/llm/prompt';
import type { EnrichedDashboard } from '../../src/pipeline/types';
import { CORPUS_INSTANTS, demoInputs } from './demo-inputs';
import { HAND_WRITTEN } from './hand-written';

/** One corpus case: a reply to one input, and whether a faithful checker must accept it. */
export interface CorpusCase {
  id: string;
  category: string;
  expect: 'accept' | 'reject';
  /** `<dashboardId>@<index into CORPUS_INSTANTS>` for demo inputs, or a hand-written input's name. */
  input: string;
  reply: unknown;
}

export interface Outcome {
  case: CorpusCase;
  accepted: boolean;
  /** Why it was refused (schema, text check or grounding), null when accepted. */
  detail: string | null;
}

export interface CategoryRow {
  category: string;
  expect: 'accept' | 'reject';
  cases: number;
  /** Faithful replies refused, or faulty replies accepted. */
  wrong: number;
  rate: number;
}

/** The corpus as stored: generated cases (scripts/grounding-corpus.ts) plus the hand-written ones. */
export function loadCorpus(dir = join('test', 'grounding-corpus')): CorpusCase[] {
  return [...loadGenerated(dir), ...HAND_WRITTEN.cases];
}

export function loadGenerated(dir = join('test', 'grounding-corpus')): CorpusCase[] {
  return JSON.parse(readFileSync(join(dir, 'generated.json'), 'utf8')) as CorpusCase[];
}

/** Runs every case through exactly what a model reply goes through: schema, widget ids, text checks, claims. */
export async function evaluateCorpus(cases = loadCorpus()): Promise<Outcome[]> {
  const prompt = loadPrompt('prompts');
  const inputs = new Map<string, EnrichedDashboard>(Object.entries(HAND_WRITTEN.inputs));
  (await demoInputs('dashboards')).forEach((input, i) => {
    inputs.set(`${input.dashboardId}@${i % CORPUS_INSTANTS.length}`, input);
  });
  return cases.map((c) => {
    const enriched = inputs.get(c.input);
    if (!enriched) throw new Error(`corpus case ${c.id}: unknown input ${c.input}`);
    const parsed = modelOutputSchema.safeParse(c.reply);
    if (!parsed.success) return { case: c, accepted: false, detail: 'breaks the schema' };
    const problem = review(parsed.data, enriched, prompt, checkGrounding(parsed.data, modelInput(enriched)));
    return {
      case: c,
      accepted: problem === null,
      detail: problem ? `${problem.kind}: ${problem.detail}` : null,
    };
  });
}

export function byCategory(outcomes: Outcome[]): CategoryRow[] {
  const rows = new Map<string, CategoryRow>();
  for (const o of outcomes) {
    const key = `${o.case.expect}:${o.case.category}`;
    const row = rows.get(key) ?? {
      category: o.case.category,
      expect: o.case.expect,
      cases: 0,
      wrong: 0,
      rate: 0,
    };
    row.cases += 1;
    if (o.accepted !== (o.case.expect === 'accept')) row.wrong += 1;
    row.rate = row.wrong / row.cases;
    rows.set(key, row);
  }
  return [...rows.values()].sort(
    (a, b) => a.expect.localeCompare(b.expect) || a.category.localeCompare(b.category),
  );
}

/** The README's results table. */
export function markdownTable(rows: CategoryRow[]): string {
  const lines = [
    '| category | expected | cases | wrong | rate |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.category} | ${r.expect === 'accept' ? 'accept (false-reject)' : 'reject (false-accept)'} | ${r.cases} | ${r.wrong} | ${(r.rate * 100).toFixed(1)} % |`,
    ),
  ];
  return lines.join('\n');
}
