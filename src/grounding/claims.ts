import type { DataFacts } from './facts';
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
/** The unit written after a figure: %, pp, a named unit, or none. */
export type StatedUnit =
  | { type: 'percent' }
  | { type: 'pp' }
  | { type: 'named'; unit: string }
  | { type: 'none' };

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
}

export interface DateClaim {
  text: string;
}

export interface ParsedText {
  figures: FigureClaim[];
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
const BETTER = new Set('improved improves improving improvement better'.split(' '));
const WORSE = new Set(
  'worsened worsens worsening worse deteriorated deteriorating degraded regressed'.split(' '),
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

interface Marker {
  at: number;
  kind: 'widget' | 'series' | 'sentence' | 'clause' | 'up' | 'down' | 'better' | 'worse' | 'level';
  widgets?: string[];
  seriesKey?: string;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Non-overlapping occurrences of `needle` (case-insensitive, not inside a longer word). */
function occurrences(text: string, needle: string): Span[] {
  if (needle.trim() === '') return [];
  const pattern = new RegExp(`(?<![\\w])${escapeRegExp(needle)}(?![\\w])`, 'gi');
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
    const match = new RegExp(`^\\s?${escapeRegExp(unit)}(?![\\w/])`, 'i').exec(after);
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
    const word = m[0].toLowerCase();
    const kind = UP.has(word)
      ? 'up'
      : DOWN.has(word)
        ? 'down'
        : BETTER.has(word)
          ? 'better'
          : WORSE.has(word)
            ? 'worse'
            : LEVEL_MARKERS.has(word)
              ? 'level'
              : null;
    if (kind) markers.push({ at: m.index ?? 0, kind });
  }
  markers.sort((a, b) => a.at - b.at);

  const units = [...new Set([...facts.widgets.map((w) => w.unit).filter(Boolean), ...COMMON_UNITS])].sort(
    (a, b) => b.length - a.length,
  );
  const figures: FigureClaim[] = [];
  let widgets = initialWidgets;
  let seriesKey: string | null = null;
  let direction: Direction | null = null;
  let judgement: Judgement | null = null;
  let level = false;
  let next = 0;
  for (const stated of statedNumbers(masked)) {
    const qualifier = QUALIFIER.exec(masked.slice(0, stated.index));
    // The qualifier's own words ("more than", "below") are not direction words.
    const until = qualifier ? qualifier.index : stated.index;
    for (; next < markers.length && (markers[next] as Marker).at < stated.index; next++) {
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
        if (marker.kind === 'sentence') seriesKey = null;
      } else if (marker.kind === 'level') {
        level = true;
        direction = null;
        judgement = null;
      } else if (marker.kind === 'better' || marker.kind === 'worse') {
        judgement = marker.kind;
        level = false;
      } else {
        direction = marker.kind;
        level = false;
      }
    }
    const after = masked.slice(stated.index + stated.text.length);
    const { unit, length } = statedUnit(after, units);
    const rest = after.slice(length);
    const follower = /^\s*([a-z]+)/i.exec(rest)?.[1]?.toLowerCase() ?? '';
    const signed = /^[-+−]/.test(stated.text);
    // From the written sign, not the value: "-0.0" is a stated fall even though -0 is not below 0.
    const bySign: Direction | null = signed ? (/^[-−]/.test(stated.text) ? 'down' : 'up') : null;
    const byFollower: Direction | null = UP.has(follower) ? 'up' : DOWN.has(follower) ? 'down' : null;
    const judgedByFollower: Judgement | null = BETTER.has(follower)
      ? 'better'
      : WORSE.has(follower)
        ? 'worse'
        : null;
    const byWords = byFollower ?? (level ? null : direction);
    const approximation: Approximation | null = qualifier
      ? qualifier[1] || qualifier[2]
        ? 'about'
        : qualifier[3]
          ? 'over'
          : 'under'
      : null;
    figures.push({
      text: (qualifier ? qualifier[0] : '') + stated.text + after.slice(0, length),
      value: Math.abs(stated.value),
      tolerance: stated.tolerance,
      unit,
      direction: bySign ?? byWords,
      judgement: judgedByFollower ?? (level ? null : judgement),
      approximation,
      signed,
      contradictory: bySign !== null && byWords !== null && bySign !== byWords,
      level: level && bySign === null && byFollower === null && judgedByFollower === null,
      perDay: PER_DAY.test(rest),
      widgets,
      seriesKey,
    });
  }
  return { figures, dates, durations };
}
