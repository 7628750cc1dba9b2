import type { Fact } from './facts';

/** One checked claim: what the text stated and what it was bound to (or why it could not be). */
export interface CheckedClaim {
  /** Where it was stated: headline, insights[0], anomalies[1].description, anomalies[1].value, recommendations[0]. */
  field: string;
  text: string;
  /** The figure as stated (its magnitude; direction words carry the sign); null for timestamps and durations. */
  stated: number | null;
  widgetId: string | null;
  seriesKey: string | null;
  statistic: string | null;
  actual: number | null;
  ok: boolean;
  /** Why the claim failed; absent when it holds. */
  reason?: string;
}

/** A claim that binds to no statistic. */
export function failed(field: string, text: string, reason: string): CheckedClaim {
  return {
    field,
    text,
    stated: null,
    widgetId: null,
    seriesKey: null,
    statistic: null,
    actual: null,
    ok: false,
    reason,
  };
}

/** A claim checked against one statistic: it holds, or it fails for `reason`. */
export function checkedAgainst(field: string, text: string, fact: Fact, reason?: string): CheckedClaim {
  return {
    field,
    text,
    stated: null,
    widgetId: fact.widgetId,
    seriesKey: fact.seriesKey,
    statistic: fact.statistic,
    actual: fact.value,
    ok: reason === undefined,
    ...(reason === undefined ? {} : { reason }),
  };
}
