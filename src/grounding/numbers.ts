/**
 * Numbers as a summary writes them, with the rounding the text shows ("12.3" stands for 12.25…12.35; "98.7k" for
 * 98 650…98 750), read by the claim checker.
 */
const NUMBER =
  /(?<![\w.])[-+−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])[-+−]?\d+(?:\.\d+)?(?:[eE][-+]?\d+(?![\w.]))?/g;
const SUFFIX = /^\s?(k|K|M|bn|B)\b/;
const MULTIPLIER: Record<string, number> = { k: 1e3, K: 1e3, M: 1e6, bn: 1e9, B: 1e9 };

export interface StatedNumber {
  text: string;
  /** Where the number starts in the text. */
  index: number;
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
      index: match.index ?? 0,
      value: Number(raw) * multiplier,
      tolerance: 0.5 * 10 ** (exponent - decimals) * multiplier,
    });
  }
  return out;
}
