import type { SummaryContent } from '../summarize/types';
import { type Direction, type FigureClaim, parseText, SMALL_COUNT } from './claims';
import { checkDirection, FORECAST, NEGATED_FIGURE } from './directions';
import { type DataFacts, dataFacts, type Fact, type Scope, SIGNED_KINDS, type WidgetFacts } from './facts';
import { type CheckedClaim, failed } from './record';

export type { CheckedClaim } from './record';

/**
 * Claim-level grounding: every figure a summary states is bound to one statistic of one widget (and series) in the
 * data, with a unit that fits that statistic and direction words that agree with its sign; every timestamp is one
 * the data contains; every anomaly is one the data marks. A figure that binds to nothing is a failed claim.
 */

/** v2: negation, forecasts and figures written as words (src/grounding/directions.ts, figure-words.ts). */
export const GROUNDING_CHECKER = 'claims-v2';

export interface ClaimReport {
  grounded: boolean;
  claims: CheckedClaim[];
}

/** Units that name the same thing. */
const SYNONYMS: Record<string, string> = {
  sec: 's',
  secs: 's',
  second: 's',
  seconds: 's',
  milliseconds: 'ms',
  µs: 'us',
  minutes: 'min',
};

function sameUnit(stated: string, widget: string): boolean {
  const norm = (u: string) => {
    const lower = u.toLowerCase();
    return SYNONYMS[lower] ?? lower;
  };
  const a = norm(stated);
  const b = norm(widget);
  if (a === b) return true;
  // Plurals ("order" for "orders"), but never for short units where an "s" changes the meaning (m / ms).
  return Math.min(a.length, b.length) > 2 && (a === `${b}s` || b === `${a}s`);
}

/** Whether the unit written after a figure fits a statistic of a widget with the given unit. */
function unitFits(claim: FigureClaim, fact: Fact, widgetUnit: string): boolean {
  const percentWidget = widgetUnit === '%';
  switch (claim.unit.type) {
    case 'percent':
      return fact.kind === 'pct' || fact.kind === 'share' || (percentWidget && fact.kind !== 'delta');
    case 'pp':
      return fact.kind === 'pp' || (percentWidget && (fact.kind === 'delta' || fact.kind === 'rate'));
    case 'named':
      return (
        (fact.kind === 'level' || fact.kind === 'delta' || fact.kind === 'rate') &&
        sameUnit(claim.unit.unit, widgetUnit)
      );
    case 'none':
      return fact.kind === 'level' || fact.kind === 'delta' || fact.kind === 'rate';
    // "doubled" is a relative change, never a level of a % widget or a share that happens to be near 100.
    case 'relative':
      return fact.kind === 'pct';
    case 'fraction':
      return fact.kind === 'share';
    // A ratio binds to two statistics at once (bindRatio), never to one.
    case 'ratio':
      return false;
  }
}

/** How far a qualified figure may be from the statistic: "about" 5 %, "over"/"under" up to 15 % on its side. */
const ABOUT = 0.05;
const BOUND = 0.15;

function valueFits(claim: FigureClaim, value: number): boolean {
  const actual = Math.abs(value);
  // A little relative slack beyond the shown rounding absorbs float noise in the input.
  const noise = 1e-9 * Math.max(actual, claim.value);
  const slack = claim.tolerance * 1.0001 + noise;
  switch (claim.approximation) {
    case 'about':
      return Math.abs(actual - claim.value) <= Math.max(slack, ABOUT * claim.value);
    // A bound is exact on its own side ("less than 9%" is not 9.4%, though "9%" alone would round it).
    case 'over':
      return actual >= claim.value - noise && actual <= claim.value * (1 + BOUND) + slack;
    case 'under':
      return actual <= claim.value + noise && actual >= claim.value * (1 - BOUND) - slack;
    default:
      return Math.abs(actual - claim.value) <= slack;
  }
}

/** The direction a claim states: its own words or sign, else what "improved"/"worsened" mean for the widget. */
function statedDirection(claim: FigureClaim, widget: WidgetFacts): Direction | null | 'unknown' {
  const judged =
    claim.judgement === null
      ? null
      : widget.polarity === 'higher_is_better'
        ? claim.judgement === 'better'
          ? 'up'
          : 'down'
        : widget.polarity === 'higher_is_worse'
          ? claim.judgement === 'better'
            ? 'down'
            : 'up'
          : 'unknown';
  if (claim.direction !== null && judged !== null && judged !== 'unknown' && judged !== claim.direction) {
    return 'unknown';
  }
  return claim.direction ?? judged;
}

/** Whether the claim's direction (or its absence) is consistent with the statistic's sign and role. */
function directionFits(claim: FigureClaim, fact: Fact, widget: WidgetFacts): boolean {
  if (claim.contradictory) return false;
  const signedKind = SIGNED_KINDS.has(fact.kind);
  if (claim.level && signedKind) return false;
  if (claim.perDay && fact.kind !== 'rate') return false;
  const direction = statedDirection(claim, widget);
  // "Improved" on a neutral widget, or words that disagree with each other: no faithful reading.
  if (direction === 'unknown') return false;
  if (direction === null) return true;
  if (signedKind) return direction === 'up' ? fact.value > 0 : fact.value < 0;
  // A level takes an explicit sign as its own sign; a direction word never describes a level.
  return claim.signed && (direction === 'up' ? fact.value >= 0 : fact.value < 0);
}

function bind(claim: FigureClaim, scope: Scope): { fact: Fact | null; reason?: string } {
  const named = claim.widgets ? scope.all.filter((w) => claim.widgets?.includes(w.widgetId)) : scope.allowed;
  const inScope = named.filter((w) => scope.allowed.includes(w));
  const matches = (widgets: WidgetFacts[], test: (fact: Fact, widget: WidgetFacts) => boolean) =>
    widgets.flatMap((w) =>
      w.facts.filter(
        (f) =>
          (claim.seriesKey === null || f.seriesKey === claim.seriesKey) &&
          test(f, w) &&
          valueFits(claim, f.value),
      ),
    );
  const full = matches(inScope, (f, w) => unitFits(claim, f, w.unit) && directionFits(claim, f, w));
  if (full.length > 0) {
    const best = [...full].sort(
      (a, b) => Math.abs(Math.abs(a.value) - claim.value) - Math.abs(Math.abs(b.value) - claim.value),
    )[0];
    return { fact: best ?? null };
  }
  // Why not: the first relaxation that would have bound it names the problem.
  const wrongDirection = matches(inScope, (f, w) => unitFits(claim, f, w.unit))[0];
  if (wrongDirection) {
    return {
      fact: null,
      reason: claim.contradictory
        ? 'sign and direction words disagree'
        : claim.level && SIGNED_KINDS.has(wrongDirection.kind)
          ? `${wrongDirection.statistic} is a change, stated as a level`
          : `direction disagrees with ${wrongDirection.statistic} (${wrongDirection.value})`,
    };
  }
  const wrongUnit = matches(inScope, () => true)[0];
  if (wrongUnit) return { fact: null, reason: `unit does not fit ${wrongUnit.statistic}` };
  if (claim.seriesKey !== null && matches(inScope, () => true).length === 0) {
    const otherSeries = inScope
      .flatMap((w) => w.facts.filter((f) => unitFits(claim, f, w.unit)))
      .find((f) => valueFits(claim, f.value));
    if (otherSeries)
      return { fact: null, reason: `belongs to series ${otherSeries.seriesKey}, not ${claim.seriesKey}` };
  }
  // Only a statistic the stated unit fits is where the figure "belongs" ("quadrupled" is no latency of 301.5 ms).
  const elsewhere = scope.all
    .flatMap((w) => w.facts.filter((f) => unitFits(claim, f, w.unit)))
    .find((f) => valueFits(claim, f.value));
  if (elsewhere && !inScope.some((w) => w.widgetId === elsewhere.widgetId)) {
    return { fact: null, reason: `belongs to widget ${elsewhere.widgetId}, not the one named` };
  }
  if (named.length > 0 && inScope.length === 0)
    return { fact: null, reason: 'names a widget outside widgetIds' };
  return { fact: null, reason: 'no statistic of the named widget has this value' };
}

/**
 * A ratio ("twice as many as", "half as high as") binds to the same level statistic of two series or widgets with
 * the same unit: the one the sentence is about over the one it names after "as"; against the previous window it is
 * a relative change ("twice as high as before" = +100 %).
 */
function bindRatio(claim: FigureClaim, scope: Scope): { fact: Fact | null; reason?: string } {
  const against = claim.against;
  if (against === null) return { fact: null, reason: 'a ratio that names nothing to compare with' };
  if (against.type === 'previous') {
    const ratio = claim.value;
    return bind(
      {
        ...claim,
        unit: { type: 'relative' },
        value: Math.abs(ratio - 1) * 100,
        tolerance: claim.tolerance * 100,
        direction: ratio > 1 ? 'up' : 'down',
      },
      scope,
    );
  }
  const side = (widgets: string[] | null, seriesKey: string | null) =>
    (widgets ? scope.allowed.filter((w) => widgets.includes(w.widgetId)) : scope.allowed).flatMap((w) =>
      w.facts
        .filter(
          (f) =>
            (f.kind === 'level' || f.kind === 'share') && (seriesKey === null || f.seriesKey === seriesKey),
        )
        .map((fact) => ({ fact, unit: w.unit })),
    );
  const over = side(claim.widgets, claim.seriesKey);
  const under = side(against.widgets ?? claim.widgets, against.seriesKey);
  for (const a of over) {
    for (const b of under) {
      if (a.fact === b.fact || a.fact.statistic !== b.fact.statistic || b.fact.value === 0) continue;
      if (a.unit !== b.unit || a.fact.kind !== b.fact.kind) continue;
      const ratio = a.fact.value / b.fact.value;
      if (ratio > 0 && valueFits(claim, ratio)) {
        return {
          fact: {
            ...a.fact,
            statistic: `${a.fact.statistic}, ratio to ${b.fact.seriesKey ?? b.fact.widgetId}`,
            value: ratio,
          },
        };
      }
    }
  }
  return { fact: null, reason: 'no two statistics of the named series stand in this ratio' };
}

function isCountingWord(claim: FigureClaim): boolean {
  return (
    claim.unit.type === 'none' &&
    claim.direction === null &&
    claim.judgement === null &&
    claim.approximation === null &&
    !claim.level &&
    !claim.perDay &&
    !claim.text.includes('.') &&
    Number.isInteger(claim.value) &&
    claim.value <= SMALL_COUNT
  );
}

/** Whether a stated date or time is (the start of) an instant in the data. */
function instantKnown(text: string, instants: string[]): boolean {
  const date = /\d{4}-\d{2}-\d{2}/.exec(text)?.[0];
  const clock = /\d{1,2}:\d{2}(?::\d{2})?/.exec(text)?.[0];
  const wanted = clock
    ? clock.padStart(clock.indexOf(':') === 1 ? clock.length + 1 : clock.length, '0')
    : null;
  return instants.some((instant) => {
    if (date && !instant.startsWith(date)) return false;
    return wanted === null || instant.slice(11).startsWith(wanted);
  });
}

function checkText(
  field: string,
  text: string,
  facts: DataFacts,
  allowed: WidgetFacts[],
  initial: string[] | null,
): CheckedClaim[] {
  const parsed = parseText(text, facts, initial);
  const scope: Scope = { allowed, all: facts.widgets };
  const claims: CheckedClaim[] = [];
  for (const figure of parsed.figures) {
    if (isCountingWord(figure)) continue;
    const { fact, reason } = figure.negated
      ? { fact: null, reason: NEGATED_FIGURE }
      : figure.forecast
        ? { fact: null, reason: FORECAST }
        : figure.unit.type === 'ratio'
          ? bindRatio(figure, scope)
          : bind(figure, scope);
    claims.push({
      field,
      text: figure.text,
      stated: figure.value,
      widgetId: fact?.widgetId ?? null,
      seriesKey: fact?.seriesKey ?? null,
      statistic: fact?.statistic ?? null,
      actual: fact?.value ?? null,
      ok: fact !== null,
      ...(fact ? {} : { reason: reason ?? 'not bound' }),
    });
  }
  for (const direction of parsed.directions) claims.push(checkDirection(field, direction, scope));
  const instants = [...facts.instants, ...allowed.flatMap((w) => w.instants)];
  for (const date of parsed.dates) {
    if (instantKnown(date.text, instants)) continue;
    claims.push(failed(field, date.text, 'timestamp not in the data'));
  }
  for (const duration of parsed.durations) {
    claims.push(failed(field, duration, 'duration is not a comparison window of the data'));
  }
  return claims;
}

function checkAnomaly(
  index: number,
  anomaly: SummaryContent['anomalies'][number],
  widget: WidgetFacts | undefined,
): CheckedClaim {
  const field = `anomalies[${index}].value`;
  const base = { field, text: String(anomaly.value), stated: anomaly.value, widgetId: anomaly.widgetId };
  if (!widget) {
    return { ...base, seriesKey: null, statistic: null, actual: null, ok: false, reason: 'unknown widget' };
  }
  const at = Date.parse(anomaly.at);
  const sameValue = widget.anomalies.filter(
    (a) => Math.abs(a.v - anomaly.value) <= 1e-6 * Math.max(1, Math.abs(a.v)),
  );
  const match = sameValue.find((a) => Date.parse(a.t) === at);
  if (match) {
    return { ...base, seriesKey: match.seriesKey, statistic: 'anomaly value', actual: match.v, ok: true };
  }
  return {
    ...base,
    seriesKey: null,
    statistic: null,
    actual: null,
    ok: false,
    reason:
      sameValue.length > 0
        ? `at ${anomaly.at} is not the instant of that anomaly`
        : 'no anomaly of this widget has this value',
  };
}

/** Checks every claim of a summary against the model input it was written from. */
export function checkClaims(content: SummaryContent, input: unknown): ClaimReport {
  const facts = dataFacts(input);
  const byId = new Map(facts.widgets.map((w) => [w.widgetId, w]));
  const widgetsOf = (ids: string[]) => ids.flatMap((id) => byId.get(id) ?? []);
  const claims: CheckedClaim[] = [
    ...checkText('headline', content.headline, facts, facts.widgets, null),
    ...content.insights.flatMap((insight, i) =>
      checkText(`insights[${i}]`, insight.text, facts, widgetsOf(insight.widgetIds), insight.widgetIds),
    ),
    ...content.anomalies.flatMap((anomaly, i) => [
      checkAnomaly(i, anomaly, byId.get(anomaly.widgetId)),
      ...checkText(`anomalies[${i}].description`, anomaly.description, facts, widgetsOf([anomaly.widgetId]), [
        anomaly.widgetId,
      ]),
    ]),
    ...content.recommendations.flatMap((text, i) =>
      checkText(`recommendations[${i}]`, text, facts, facts.widgets, null),
    ),
  ];
  return { grounded: claims.every((c) => c.ok), claims };
}
