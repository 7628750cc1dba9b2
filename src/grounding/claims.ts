import type { DataFacts } from './facts';
import { type WordFigure, wordFigures } from './figure-words';
import { statedNumbers } from './numbers';

/**
 * Reads a sentence of a summary as a list of figure claims. Each figure gets what a reader would take from it:
 * the widget (and series) the sentence is talking about at that point, the unit written after it, and the direction
 * words or sign that go with it. Mentions of titles, ids, series keys, timestamps and quoted reasons are masked
 * first, so that the digits inside them ("p99", "2026-11-20") are never read as figures.
 */

export type Direction = 'up' | 'down';
/** Good or bad news: which direction that is depends on the widget's polarity. */
export type Judgement = 'better' | 'worse';
/** "about 13%", "over 12%", "nearly 13%": the figure is a bound, or rounded more loosely than its digits say. */
export type Approximation = 'about' | 'over' | 'under';

/** Integers up to this, written bare (no unit, sign, direction or level role), are counting words ("top 3"). */
export const SMALL_COUNT = 12;
/**
 * The unit written after a figure: %, pp, a named unit, or none; or what a figure in words states: a relative change
 * ("doubled"), a share ("half of"), a ratio of two levels ("twice as many as").
 */
export type StatedUnit =
  | { type: 'percent' }
  | { type: 'pp' }
  | { type: 'named'; unit: string }
  | { type: 'none' }
  | { type: 'relative' }
  | { type: 'fraction' }
  | { type: 'ratio' };

/** What a ratio compares with: the previous window ("twice as high as before"), or a widget or series it names. */
export type RatioBase =
  | { type: 'previous' }
  | { type: 'named'; widgets: string[] | null; seriesKey: string | null };

export interface FigureClaim {
  text: string;
  value: number;
  tolerance: number;
  unit: StatedUnit;
  /** From a direction word or an explicit sign; null when the sentence gives none. */
  direction: Direction | null;
  /** From "improved", "worsened", "better", "worse"…: a direction once the widget's polarity is known. */
  judgement: Judgement | null;
  approximation: Approximation | null;
  /** Whether an explicit + or − was written. */
  signed: boolean;
  /** The sign and the words disagree ("rose -5%"): no reading of it is faithful. */
  contradictory: boolean;
  /** A level marker ("to", "at", "from", "now", "previous") put the figure in the role of a level. */
  level: boolean;
  /** Whether "per day" follows (a trend). */
  perDay: boolean;
  /** Widgets the sentence names at this point (null: none named yet) and the series it names (null: none). */
  widgets: string[] | null;
  seriesKey: string | null;
  /** A negation ("not", "didn't", "no longer", "failed to") comes before it in its clause. */
  negated: boolean;
  /** A forecast ("will", "is expected to", "could") comes before it in its clause. */
  forecast: boolean;
  /** For a ratio: what it compares with; null when the text names nothing. */
  against: RatioBase | null;
}

/**
 * A direction stated without a figure, under a negation ("did not fall", "no longer increasing", "didn't improve"),
 * or a stated absence of change ("did not change", "unchanged"): its plain reading says something about the sign of
 * the change, which must agree with the data.
 */
export interface DirectionClaim {
  text: string;
  /** The direction as written before negation; 'flat' for "did not change" / "unchanged". */
  sense: Direction | Judgement | 'flat';
  negated: boolean;
  forecast: boolean;
  widgets: string[] | null;
  seriesKey: string | null;
}

export interface DateClaim {
  text: string;
}

export interface ParsedText {
  figures: FigureClaim[];
  directions: DirectionClaim[];
  dates: DateClaim[];
  /** Durations ("48 hours") that are neither a comparison window of the data nor a small count. */
  durations: string[];
}

const UP = new Set(
  'rose rise rises rising risen up increased increase increases increasing grew grow grows growing grown higher gained gain gains climbed climb climbs jumped jump jumps surged surge spiked spike spikes more above added'.split(
    ' ',
  ),
);
const DOWN = new Set(
  'fell fall falls falling fallen down decreased decrease decreases decreasing dropped drop drops dropping declined decline declines declining lower lost lose loses shrank shrunk shrink slipped dipped dip dips less below sank sinks plunged plunge cut'.split(
    ' ',
  ),
);
const BETTER = new Set('improve improved improves improving improvement better'.split(' '));
const WORSE = new Set(
  'worsen worsened worsens worsening worse deteriorate deteriorated deteriorating degrade degraded regress regressed'.split(
    ' ',
  ),
);
/** Qualifiers written just before a figure; their words are not directions ("fell more than 12%"). */
const QUALIFIER =
  /(?:\b(about|around|roughly|approximately|approx\.|some|circa)|(~|≈)|\b(?:just\s+)?(over|more than|above|at least)|\b(?:just\s+)?(almost|nearly|under|less than|below|at most))\s*$/i;
/** Words after which a figure is a level, whatever direction came before. */
const LEVEL_MARKERS = new Set(
  'to at from now previously previous was averages averaged average mean latest last peak peaked max maximum min minimum reached reads read value'.split(
    ' ',
  ),
);
/** Units a figure may carry besides the widgets' own: a time or money unit never belongs to another widget. */
const COMMON_UNITS = [
  'ms',
  's',
  'sec',
  'secs',
  'seconds',
  'second',
  'milliseconds',
  'us',
  'µs',
  'min',
  'minutes',
  'EUR',
  'USD',
  'GBP',
];
const PP = /^\s?(?:pp\b|p\.p\.|percentage points?\b|points?\b|pts\b)/i;
const PERCENT = /^\s?(?:%|percent\b|per cent\b)/i;
const PER_DAY = /^\s?(?:\/\s?day\b|per day\b|a day\b|each day\b|daily\b)/i;
const ISO_INSTANT =
  /\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?:\s?UTC)?/g;
const CLOCK = /\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?UTC)?/g;
const DURATION = /(?<![\d.,])(\d+)\s?(h|d|w|m|hours?|days?|weeks?|minutes?)\b/g;
const DURATION_MS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 604_800_000, m: 60_000 };

interface Span {
  from: number;
  to: number;
}

/**
 * Negations: "not", "never", "didn't", "no longer", "failed to", "neither/nor". "no" only before a direction or
 * change word ("no increase", "no change"), since "no anomalies" negates nothing a figure says.
 */
const NEGATION =
  /\b(?:not|never|neither|nor|cannot)\b|\b[a-z]+n['’]t\b|\bno\s+longer\b|\bfail(?:s|ed|ing)?\s+to\b/gi;
const NO_BEFORE = /\bno\s+(?=([a-z]+))/gi;
/** A figure after these is a prediction, which past data cannot ground ("will double", "is expected to rise 5%"). */
const FORECAST =
  /\b(?:will|would|could|may|might|shall|expected|expects?|forecasts?|forecasted|projected|predicted|predicts?)\b|['’]ll\b|\b(?:on track|set|poised|likely|going|about)\s+to\b/gi;
/** After a negation, these say the figure did not move ("did not change"). */
const CHANGE = new Set(
  'change changed changes changing move moved moves moving budge budged vary varied'.split(' '),
);
/** Stated absence of change without a negation. */
const UNCHANGED = new Set(['unchanged']);
/** What a ratio compares with when it names no widget or series: the previous window. */
const PREVIOUS_WINDOW =
  /\b(?:previous|prior|before|earlier|last\s+(?:week|window|period|month|day)|a\s+(?:week|day|month)\s+ago|yesterday)\b/i;

interface Marker {
  at: number;
  /** Where a word marker ends (for the text of a direction claim). */
  end?: number;
  kind:
    | 'widget'
    | 'series'
    | 'sentence'
    | 'clause'
    | 'up'
    | 'down'
    | 'better'
    | 'worse'
    | 'level'
    | 'negation'
    | 'forecast'
    | 'change'
    | 'unchanged';
  widgets?: string[];
  seriesKey?: string;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Patterns made from the dashboards' names and units, compiled once: every summary asks for the same few, and
 * compiling them per check was a visible share of a pipeline worker's CPU under load. Bounded, in case names churn.
 * Safe to share: matchAll works on a copy of a global pattern, and the unit patterns are not global.
 */
const compiled = new Map<string, RegExp>();
const COMPILED_MAX = 5_000;

function compile(source: string, flags: string): RegExp {
  const key = `${flags}/${source}`;
  let pattern = compiled.get(key);
  if (!pattern) {
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    pattern = new RegExp(source, flags);
    compiled.set(key, pattern);
  }
  return pattern;
}

/** Non-overlapping occurrences of `needle` (case-insensitive, not inside a longer word). */
function occurrences(text: string, needle: string): Span[] {
  if (needle.trim() === '') return [];
  const pattern = compile(`(?<![\\w])${escapeRegExp(needle)}(?![\\w])`, 'gi');
  return [...text.matchAll(pattern)].map((m) => ({ from: m.index ?? 0, to: (m.index ?? 0) + m[0].length }));
}

function overlaps(spans: Span[], span: Span): boolean {
  return spans.some((s) => span.from < s.to && s.from < span.to);
}

/** The text with each span overwritten by '#' (same length, so positions still line up). */
function mask(text: string, spans: Span[]): string {
  let out = text;
  for (const span of spans)
    out = out.slice(0, span.from) + '#'.repeat(span.to - span.from) + out.slice(span.to);
  return out;
}

function statedUnit(after: string, units: string[]): { unit: StatedUnit; length: number } {
  const percent = PERCENT.exec(after);
  if (percent) return { unit: { type: 'percent' }, length: percent[0].length };
  const pp = PP.exec(after);
  if (pp) return { unit: { type: 'pp' }, length: pp[0].length };
  for (const unit of units) {
    const match = compile(`^\\s?${escapeRegExp(unit)}(?![\\w/])`, 'i').exec(after);
    if (match) return { unit: { type: 'named', unit }, length: match[0].length };
  }
  return { unit: { type: 'none' }, length: 0 };
}

function comparisonWindowMs(facts: DataFacts): Set<number> {
  const out = new Set<number>();
  for (const w of facts.widgets) {
    const match = /^(\d+)([hdwm])$/.exec(w.comparisonWindow);
    if (match) out.add(Number(match[1]) * (DURATION_MS[match[2] as string] ?? 0));
  }
  return out;
}

export function parseText(text: string, facts: DataFacts, initialWidgets: string[] | null): ParsedText {
  const spans: Span[] = [];
  const markers: Marker[] = [];
  const dates: DateClaim[] = [];
  const durations: string[] = [];
  const take = (span: Span): boolean => {
    if (overlaps(spans, span)) return false;
    spans.push(span);
    return true;
  };
  // Instants first (they contain the most digits), then quoted reasons, then names, longest first.
  for (const pattern of [ISO_INSTANT, CLOCK]) {
    for (const m of text.matchAll(pattern)) {
      const span = { from: m.index ?? 0, to: (m.index ?? 0) + m[0].length };
      if (take(span)) dates.push({ text: m[0] });
    }
  }
  for (const reason of facts.missingReasons) for (const span of occurrences(text, reason)) take(span);
  const names: { name: string; marker: Omit<Marker, 'at'> }[] = [
    { name: facts.title, marker: { kind: 'clause' as const } },
    ...facts.widgets.flatMap((w) => [
      { name: w.title, marker: { kind: 'widget' as const, widgets: [w.widgetId] } },
      { name: w.widgetId, marker: { kind: 'widget' as const, widgets: [w.widgetId] } },
    ]),
    ...facts.widgets.flatMap((w) =>
      w.seriesKeys
        .filter((key) => key !== w.widgetId)
        .map((key) => ({ name: key, marker: { kind: 'series' as const, seriesKey: key } })),
    ),
  ].sort((a, b) => b.name.length - a.name.length);
  for (const { name, marker } of names) {
    for (const span of occurrences(text, name)) {
      if (!take(span)) continue;
      // Two widgets may share a title: the mention then names both.
      const same = markers.find((m) => m.at === span.from && m.kind === 'widget');
      if (same && marker.widgets) same.widgets = [...(same.widgets ?? []), ...marker.widgets];
      else if (marker.kind !== 'clause') markers.push({ at: span.from, ...marker });
    }
  }
  for (const m of text.matchAll(DURATION)) {
    const span = { from: m.index ?? 0, to: (m.index ?? 0) + m[0].length };
    if (overlaps(spans, span)) continue;
    const unit = (m[2] as string).toLowerCase()[0] as string;
    // A comparison window of the data, or a small span said in words ("the last 3 days"), is no figure claim.
    const small = Number(m[1]) <= SMALL_COUNT;
    if (small || comparisonWindowMs(facts).has(Number(m[1]) * (DURATION_MS[unit] ?? Number.NaN))) take(span);
    else durations.push(m[0]);
  }
  const masked = mask(text, spans);

  for (const m of masked.matchAll(/[.;:!?](?=\s|$)|\n/g))
    markers.push({ at: m.index ?? 0, kind: 'sentence' });
  for (const m of masked.matchAll(/,\s|\s(?:and|while|but|whereas)\s|[()]/g)) {
    markers.push({ at: m.index ?? 0, kind: 'clause' });
  }
  for (const m of masked.matchAll(/[a-z]+/gi)) {
    const kind = wordKind(m[0].toLowerCase());
    if (kind) markers.push({ at: m.index ?? 0, end: (m.index ?? 0) + m[0].length, kind });
  }
  for (const m of masked.matchAll(NEGATION)) markers.push({ at: m.index ?? 0, kind: 'negation' });
  for (const m of masked.matchAll(NO_BEFORE)) {
    const next = (m[1] ?? '').toLowerCase();
    const kind = wordKind(next);
    if (CHANGE.has(next) || (kind !== null && kind !== 'level'))
      markers.push({ at: m.index ?? 0, kind: 'negation' });
  }
  for (const m of masked.matchAll(FORECAST)) markers.push({ at: m.index ?? 0, kind: 'forecast' });
  markers.sort((a, b) => a.at - b.at);

  const units = [...new Set([...facts.widgets.map((w) => w.unit).filter(Boolean), ...COMMON_UNITS])].sort(
    (a, b) => b.length - a.length,
  );
  const figures: FigureClaim[] = [];
  const directions: DirectionClaim[] = [];
  let widgets = initialWidgets;
  let seriesKey: string | null = null;
  let direction: Direction | null = null;
  let judgement: Judgement | null = null;
  let level = false;
  let negatedAt: number | null = null;
  let forecast = false;
  /** The figure-less direction claim of the current clause: a negated figure after it states it instead. */
  let pending: DirectionClaim | null = null;
  let next = 0;
  const directionClaim = (marker: Marker, sense: DirectionClaim['sense'], negated: boolean) => {
    pending = {
      text: text.slice(negated && negatedAt !== null ? negatedAt : marker.at, marker.end ?? marker.at),
      sense,
      negated,
      forecast,
      widgets,
      seriesKey,
    };
    directions.push(pending);
  };
  /** Applies the markers before `upTo` to the reading state; those from `until` on are a qualifier's words. */
  const advance = (upTo: number, until: number) => {
    for (; next < markers.length && (markers[next] as Marker).at < upTo; next++) {
      const marker = markers[next] as Marker;
      if (marker.at >= until) continue;
      if (marker.kind === 'widget') {
        widgets = marker.widgets ?? null;
        seriesKey = null;
      } else if (marker.kind === 'series') seriesKey = marker.seriesKey ?? null;
      else if (marker.kind === 'sentence' || marker.kind === 'clause') {
        direction = null;
        judgement = null;
        level = false;
        negatedAt = null;
        forecast = false;
        pending = null;
        if (marker.kind === 'sentence') seriesKey = null;
      } else if (marker.kind === 'level') {
        level = true;
        direction = null;
        judgement = null;
      } else if (marker.kind === 'negation') negatedAt = marker.at;
      else if (marker.kind === 'forecast') forecast = true;
      else if (marker.kind === 'change') {
        if (negatedAt !== null) directionClaim(marker, 'flat', true);
      } else if (marker.kind === 'unchanged') directionClaim(marker, 'flat', false);
      else if (marker.kind === 'better' || marker.kind === 'worse') {
        judgement = marker.kind;
        level = false;
        if (negatedAt !== null) directionClaim(marker, marker.kind, true);
      } else {
        direction = marker.kind;
        level = false;
        if (negatedAt !== null) directionClaim(marker, marker.kind, true);
      }
    }
  };
  /** The end of the clause that starts at `from`. */
  const clauseEnd = (from: number) =>
    markers.find((m) => m.at >= from && (m.kind === 'sentence' || m.kind === 'clause'))?.at ?? masked.length;
  /** The first widget or series the clause names after `from`. */
  const namedAfter = (from: number) =>
    markers.find(
      (m) => m.at >= from && m.at < clauseEnd(from) && (m.kind === 'widget' || m.kind === 'series'),
    ) ?? null;

  const words = wordFigures(masked);
  const stated: { index: number; text: string; value: number; tolerance: number; word: WordFigure | null }[] =
    [
      ...statedNumbers(masked)
        .filter((n) => !words.some((w) => n.index >= w.index && n.index < w.end))
        .map((n) => ({ ...n, word: null })),
      ...words.map((w) => ({ ...w, word: w })),
    ].sort((a, b) => a.index - b.index);
  for (const figure of stated) {
    const qualifier = QUALIFIER.exec(masked.slice(0, figure.index));
    // The qualifier's own words ("more than", "below") are not direction words.
    advance(figure.index, qualifier ? qualifier.index : figure.index);
    // "did not fall 9.4%" is one claim, the negated figure; "unchanged at 412 ms" is two (no move, and a level).
    if (pending !== null && negatedAt !== null) directions.splice(directions.indexOf(pending), 1);
    pending = null;
    const approximation: Approximation | null = qualifier
      ? qualifier[1] || qualifier[2]
        ? 'about'
        : qualifier[3]
          ? 'over'
          : 'under'
      : null;
    const common = {
      text: (qualifier ? qualifier[0] : '') + figure.text,
      value: Math.abs(figure.value),
      tolerance: figure.tolerance,
      approximation,
      widgets,
      negated: negatedAt !== null,
      forecast,
    };
    if (figure.word) {
      figures.push({
        ...common,
        ...wordClaim(figure.word, level ? null : direction, judgement),
        seriesKey,
        against: null,
      });
      const { word } = figure;
      const named = namedAfter(word.end);
      if (word.kind === 'ratio') {
        const last = figures[figures.length - 1] as FigureClaim;
        last.against = named
          ? { type: 'named', widgets: named.widgets ?? null, seriesKey: named.seriesKey ?? null }
          : PREVIOUS_WINDOW.test(masked.slice(word.end, clauseEnd(word.end)))
            ? { type: 'previous' }
            : null;
      } else if (word.kind === 'fraction' && seriesKey === null && named?.kind === 'series') {
        // "half of the orders came from search": the share is search's.
        (figures[figures.length - 1] as FigureClaim).seriesKey = named.seriesKey ?? null;
      }
      continue;
    }
    const after = masked.slice(figure.index + figure.text.length);
    const { unit, length } = statedUnit(after, units);
    const rest = after.slice(length);
    const follower = /^\s*([a-z]+)/i.exec(rest)?.[1]?.toLowerCase() ?? '';
    const signed = /^[-+−]/.test(figure.text);
    // From the written sign, not the value: "-0.0" is a stated fall even though -0 is not below 0.
    const bySign: Direction | null = signed ? (/^[-−]/.test(figure.text) ? 'down' : 'up') : null;
    const byFollower: Direction | null = UP.has(follower) ? 'up' : DOWN.has(follower) ? 'down' : null;
    const judgedByFollower: Judgement | null = BETTER.has(follower)
      ? 'better'
      : WORSE.has(follower)
        ? 'worse'
        : null;
    const byWords = byFollower ?? (level ? null : direction);
    figures.push({
      ...common,
      text: common.text + after.slice(0, length),
      unit,
      direction: bySign ?? byWords,
      judgement: judgedByFollower ?? (level ? null : judgement),
      signed,
      contradictory: bySign !== null && byWords !== null && bySign !== byWords,
      level: level && bySign === null && byFollower === null && judgedByFollower === null,
      perDay: PER_DAY.test(rest),
      seriesKey,
      against: null,
    });
  }
  // Negated directions after the last figure are claims too.
  advance(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
  return { figures, directions, dates, durations };
}

function wordKind(word: string): Marker['kind'] | null {
  if (UP.has(word)) return 'up';
  if (DOWN.has(word)) return 'down';
  if (BETTER.has(word)) return 'better';
  if (WORSE.has(word)) return 'worse';
  if (LEVEL_MARKERS.has(word)) return 'level';
  if (CHANGE.has(word)) return 'change';
  if (UNCHANGED.has(word)) return 'unchanged';
  return null;
}

/** The parts of a figure claim a figure in words decides: its unit, and the direction the word itself says. */
function wordClaim(
  word: WordFigure,
  sentenceDirection: Direction | null,
  judgement: Judgement | null,
): Pick<FigureClaim, 'unit' | 'direction' | 'judgement' | 'signed' | 'contradictory' | 'level' | 'perDay'> {
  const unit: StatedUnit = { type: word.kind };
  const ratio = word.kind === 'ratio';
  return {
    unit,
    direction: ratio ? null : (word.direction ?? sentenceDirection),
    judgement: ratio ? null : judgement,
    signed: false,
    contradictory:
      word.direction !== null && sentenceDirection !== null && word.direction !== sentenceDirection,
    level: false,
    perDay: false,
  };
}
