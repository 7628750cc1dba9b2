import type { Direction, DirectionClaim } from './claims';
import type { Fact, Scope, WidgetFacts } from './facts';
import { type CheckedClaim, checkedAgainst, failed } from './record';

/**
 * Negation and forecasts. A negated figure ("did not fall 9.4%", "failed to grow 5%") states no statistic: its plain
 * reading is the opposite of the words the figure sits next to, and no value of the data is what it says, so it is
 * refused as ungroundable. A negated direction without a figure ("did not rise", "no longer increasing", "didn't
 * improve") and a stated absence of change ("did not change", "unchanged") are claims about the sign of the change
 * vs the previous window, and must agree with it. A figure under a forecast ("will double", "is expected to rise
 * 5%") is a prediction, which past data never grounds.
 */

export const NEGATED_FIGURE = 'a negated figure states no statistic, so nothing grounds it';
export const FORECAST = 'a forecast, which past data does not ground';
/** A relative change smaller than this rounds to 0 %: no move in either direction. */
export const FLAT_PCT = 0.5;

const WINDOW_CHANGE_KINDS = ['pct', 'delta'] as const;

/** The widgets a figure-less claim is about: those it names, or the field's one widget; else a reason. */
function claimWidgets(claim: DirectionClaim, scope: Scope): WidgetFacts[] | string {
  if (claim.widgets) {
    const named = scope.allowed.filter((w) => claim.widgets?.includes(w.widgetId));
    return named.length > 0 ? named : 'names a widget outside widgetIds';
  }
  return scope.allowed.length === 1 ? scope.allowed : 'names no widget, so no statistic grounds it';
}

/**
 * The change statistics vs the previous window the claim speaks of: the named series', else the widget total's
 * (breakdowns), else every series'. Relative changes when the data has them (so that "flat" means rounds to 0 %),
 * absolute ones otherwise.
 */
function windowChanges(widget: WidgetFacts, seriesKey: string | null): Fact[] {
  for (const kind of WINDOW_CHANGE_KINDS) {
    const changes = widget.facts.filter((f) => f.kind === kind && f.statistic.includes('vs previous window'));
    const picked =
      seriesKey !== null
        ? changes.filter((f) => f.seriesKey === seriesKey)
        : changes.some((f) => f.seriesKey === null)
          ? changes.filter((f) => f.seriesKey === null)
          : changes;
    if (picked.length > 0) return picked;
  }
  return [];
}

function moved(fact: Fact, direction: Direction): boolean {
  const threshold = fact.kind === 'pct' ? FLAT_PCT : 0;
  return direction === 'up'
    ? fact.value >= threshold && fact.value > 0
    : fact.value <= -threshold && fact.value < 0;
}

/** The direction the claim's words name for this widget ("improved" through its polarity); null on a neutral one. */
function senseOf(claim: DirectionClaim, widget: WidgetFacts): Direction | 'flat' | null {
  if (claim.sense === 'up' || claim.sense === 'down' || claim.sense === 'flat') return claim.sense;
  const better = claim.sense === 'better';
  if (widget.polarity === 'higher_is_better') return better ? 'up' : 'down';
  if (widget.polarity === 'higher_is_worse') return better ? 'down' : 'up';
  return null;
}

/** Whether the change agrees with the claim's plain reading: "did not rise" holds when it did not move up. */
function holds(claim: DirectionClaim, sense: Direction | 'flat', fact: Fact): boolean {
  if (sense === 'flat') return !moved(fact, 'up') && !moved(fact, 'down');
  return claim.negated ? !moved(fact, sense) : moved(fact, sense);
}

const NO_CHANGE = 'no change vs the previous window to ground it';

export function checkDirection(field: string, claim: DirectionClaim, scope: Scope): CheckedClaim {
  if (claim.forecast) return failed(field, claim.text, FORECAST);
  const widgets = claimWidgets(claim, scope);
  if (typeof widgets === 'string') return failed(field, claim.text, widgets);
  let first: Fact | null = null;
  for (const widget of widgets) {
    const sense = senseOf(claim, widget);
    if (sense === null)
      return failed(field, claim.text, 'improved/worsened on a neutral widget has no faithful reading');
    const changes = windowChanges(widget, claim.seriesKey);
    if (changes.length === 0) return failed(field, claim.text, NO_CHANGE);
    const against = changes.find((f) => !holds(claim, sense, f));
    if (against) {
      return checkedAgainst(
        field,
        claim.text,
        against,
        `contradicts ${against.statistic} (${against.value})`,
      );
    }
    first ??= changes[0] ?? null;
  }
  return first ? checkedAgainst(field, claim.text, first) : failed(field, claim.text, NO_CHANGE);
}
