/**
 * Figures written as words: "doubled", "halved", "tripled", "cut in half", "twice as many as", "half of the orders",
 * "a third of". Each states a number as surely as digits do, so each is read as a figure claim and must bind to a
 * statistic like any other (see check.ts): a multiple to a change % vs the previous window, a fraction to a share,
 * a ratio to two levels of the same statistic.
 */

/**
 * What a word figure states: a relative change in % (doubled = +100 %), a share in % (half of = 50 %), or a ratio
 * between two levels (twice as many as = 2).
 */
export type WordFigureKind = 'relative' | 'fraction' | 'ratio';

export interface WordFigure {
  kind: WordFigureKind;
  text: string;
  index: number;
  /** Where the phrase ends: what follows names the other side of a ratio. */
  end: number;
  /** % for relative and fraction, a plain ratio for ratio; always positive (the direction carries the sign). */
  value: number;
  /** The rounding a word implies: 5 % of the ratio it stands for ("doubled" is a ratio of 1.9…2.1, ±10 points). */
  tolerance: number;
  /** The direction the word itself says ("doubled" up, "halved" down), null when it says none ("by half"). */
  direction: 'up' | 'down' | null;
}

/** How loosely a word figure is rounded, relative to the ratio it stands for. */
export const WORD_ROUNDING = 0.05;

const MULTIPLE_STEMS: Record<string, number> = { doubl: 2, tripl: 3, quadrupl: 4, halv: 0.5 };
const COUNT_WORDS: Record<string, number> = {
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
};
const FRACTIONS: Record<string, number> = {
  half: 1 / 2,
  third: 1 / 3,
  quarter: 1 / 4,
  fifth: 1 / 5,
  tenth: 1 / 10,
  'two thirds': 2 / 3,
  'three quarters': 3 / 4,
};
const FRACTION_WORDS = '(half|(?:a|one)\\s+(?:third|quarter|fifth|tenth)|two\\s+thirds|three\\s+quarters)';

/** "doubled", "tripling", "halves", "quadrupled" ("double-digit" and "double-check" are no figures). */
const MULTIPLE = /\b(doubl|tripl|quadrupl|halv)(?:e|ed|es|ing)\b(?!-)/gi;
/** "cut in half", "fell by a third": a relative change whose direction the sentence gives ("in half" is down). */
const BY_FRACTION = new RegExp(`\\b(by|in)\\s+${FRACTION_WORDS}\\b(?!\\s+(?:of|the)\\b)`, 'gi');
/**
 * "twice as many as", "three times higher than", "2.5x the", "half as much as": one level over another ("twice as
 * high" alone compares with nothing, and is refused as such).
 */
const RATIO = new RegExp(
  `\\b(twice|half|(?:${Object.keys(COUNT_WORDS).join('|')})\\s+times|\\d+(?:\\.\\d+)?\\s*(?:times|x|×))\\s+(?:as\\s+[a-z]+(?:\\s+[a-z]+)?(?:\\s+as\\b)?|(?:more|higher|larger|bigger|greater|lower|smaller|fewer|less)\\s+than|that\\s+of|what)\\b|\\b(twice|(?:${Object.keys(COUNT_WORDS).join('|')})\\s+times|\\d+(?:\\.\\d+)?\\s*(?:times|x|×))\\s+the\\b`,
  'gi',
);
/**
 * "half of the orders", "a third of", "three quarters of", "half the requests": a share. A part of a span of time
 * ("the second half of the week", "half the time") is no share.
 */
const TIME_PART = /^(?:\s+of)?\s+the\s+(?:time|day|days|week|weeks|month|window|period|range|hour|hours)\b/i;
const FRACTION = new RegExp(
  `(?<!\\b(?:first|second|last|latter|former|other|final)\\s+)\\b${FRACTION_WORDS}\\s+(?:of|the)\\b`,
  'gi',
);

function fractionOf(words: string): number {
  const normalized = words.toLowerCase().replace(/\s+/g, ' ');
  return FRACTIONS[normalized.replace(/^(?:a|one) /, '')] ?? Number.NaN;
}

function ratioOf(words: string): number {
  const lower = words.toLowerCase();
  if (lower === 'twice') return 2;
  if (lower === 'half') return 0.5;
  const count = /^([a-z]+)\s+times$/.exec(lower)?.[1];
  if (count) return COUNT_WORDS[count] ?? Number.NaN;
  return Number(/^\d+(?:\.\d+)?/.exec(lower)?.[0] ?? Number.NaN);
}

function relative(ratio: number): Pick<WordFigure, 'value' | 'tolerance'> {
  return { value: Math.abs(ratio - 1) * 100, tolerance: WORD_ROUNDING * ratio * 100 };
}

/** Every figure written in words in (masked) text, in order; phrases never overlap. */
export function wordFigures(text: string): WordFigure[] {
  const found: WordFigure[] = [];
  const add = (m: RegExpMatchArray, figure: Omit<WordFigure, 'index' | 'end' | 'text'>) => {
    const index = m.index ?? 0;
    const end = index + m[0].length;
    if (found.some((f) => index < f.end && f.index < end)) return;
    if (Number.isFinite(figure.value) && figure.value > 0) found.push({ ...figure, index, end, text: m[0] });
  };
  for (const m of text.matchAll(RATIO)) {
    const ratio = ratioOf((m[1] ?? m[2] ?? '').trim());
    add(m, { kind: 'ratio', value: ratio, tolerance: WORD_ROUNDING * ratio, direction: null });
  }
  for (const m of text.matchAll(MULTIPLE)) {
    const ratio = MULTIPLE_STEMS[(m[1] ?? '').toLowerCase()] ?? Number.NaN;
    add(m, { kind: 'relative', ...relative(ratio), direction: ratio > 1 ? 'up' : 'down' });
  }
  for (const m of text.matchAll(BY_FRACTION)) {
    const fraction = fractionOf(m[2] ?? '');
    const share = fraction * 100;
    add(m, {
      kind: 'relative',
      value: share,
      tolerance: WORD_ROUNDING * share,
      direction: (m[1] ?? '').toLowerCase() === 'in' ? 'down' : null,
    });
  }
  for (const m of text.matchAll(FRACTION)) {
    if (TIME_PART.test(text.slice((m.index ?? 0) + (m[1] ?? '').length))) continue;
    const share = fractionOf(m[1] ?? '') * 100;
    add(m, { kind: 'fraction', value: share, tolerance: WORD_ROUNDING * share, direction: null });
  }
  return found.sort((a, b) => a.index - b.index);
}
