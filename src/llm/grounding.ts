import type { SummaryContent } from '../summarize/types';

/**
 * Every number a summary states must be traceable to the data it came from. A stated number is grounded when some
 * number in the input equals it up to the rounding the text shows ("12.3" grounds 12.34; "98.7k" grounds 98 712),
 * ignoring sign (a fall of 11% is changePct −11). Small counting words ("top 3") are allowed.
 */
const NUMBER =
  /(?<![\w.])[-+−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])[-+−]?\d+(?:\.\d+)?(?:[eE][-+]?\d+(?![\w.]))?/g;
const SUFFIX = /^\s?(k|K|M|bn|B)\b/;
const MULTIPLIER: Record<string, number> = { k: 1e3, K: 1e3, M: 1e6, bn: 1e9, B: 1e9 };
const SMALL_COUNT = 12;

export interface StatedNumber {
  text: string;
  value: number;
  /** Half a unit in the last place shown, times the suffix: the rounding the text allows. */
  tolerance: number;
}

export function statedNumbers(text: string): StatedNumber[] {
  const out: StatedNumber[] = [];
  for (const match of text.matchAll(NUMBER)) {
    const raw = match[0].replace(/,/g, '').replace('−', '-');
    // Exponent forms ("-1.918e-14", as JavaScript writes tiny values) are one number, not a mantissa and a "14".
    const [mantissa = raw, exponentText] = raw.split(/[eE]/);
    const exponent = exponentText === undefined ? 0 : Number(exponentText);
    const after = text.slice((match.index ?? 0) + match[0].length);
    const suffix = SUFFIX.exec(after)?.[1];
    const multiplier = suffix ? (MULTIPLIER[suffix] ?? 1) : 1;
    const decimals = mantissa.includes('.') ? (mantissa.split('.')[1]?.length ?? 0) : 0;
    out.push({
      text: match[0] + (suffix ?? ''),
      value: Number(raw) * multiplier,
      tolerance: 0.5 * 10 ** (exponent - decimals) * multiplier,
    });
  }
  return out;
}

/** Every number in the input, wherever it appears: values, and digits inside strings (dates, labels). */
export function inputNumbers(input: unknown): number[] {
  const numbers: number[] = [];
  const visit = (value: unknown): void => {
    if (typeof value === 'number' && Number.isFinite(value)) numbers.push(value);
    else if (typeof value === 'string') for (const n of statedNumbers(value)) numbers.push(n.value);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(input);
  return numbers;
}

export interface GroundingReport {
  grounded: boolean;
  ungrounded: string[];
}

export function checkGrounding(content: SummaryContent, input: unknown): GroundingReport {
  const known = inputNumbers(input).map(Math.abs);
  const texts = [
    content.headline,
    ...content.insights.map((i) => i.text),
    ...content.recommendations,
    ...content.anomalies.map((a) => a.description),
  ];
  const ungrounded: string[] = [];
  for (const text of texts) {
    for (const stated of statedNumbers(text)) {
      const value = Math.abs(stated.value);
      if (Number.isInteger(value) && value <= SMALL_COUNT) continue;
      // A little relative slack beyond the shown rounding absorbs float noise in the input (relative, so that
      // tiny values such as 7.5e-14 are not all "equal" to each other).
      const ok = known.some(
        (k) => Math.abs(k - value) <= stated.tolerance * 1.0001 + 1e-9 * Math.max(k, value),
      );
      if (!ok) ungrounded.push(stated.text);
    }
  }
  for (const anomaly of content.anomalies) {
    if (!known.some((k) => Math.abs(k - Math.abs(anomaly.value)) <= 1e-6 * Math.max(1, k))) {
      ungrounded.push(String(anomaly.value));
    }
  }
  return { grounded: ungrounded.length === 0, ungrounded };
}
