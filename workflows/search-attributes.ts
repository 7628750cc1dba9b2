import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * The custom search attributes precis sets on its workflows, so that runs can be found in the Temporal UI and CLI:
 *   temporal workflow list --query "DashboardId='sales'"
 * scripts/stack.sh registers them on the dev server; on your own cluster: `temporal operator search-attribute create`.
 */
export const DashboardIdKey = defineSearchAttributeKey('DashboardId', SearchAttributeType.KEYWORD);
/**
 * `active` (summarizing, or open and waiting for the next change), `retrying` (its latest attempt made no summary;
 * the events wait for the next one), `idle` (completed), or `abandoned` (the dashboard is no longer configured).
 */
export const PrecisStatusKey = defineSearchAttributeKey('PrecisStatus', SearchAttributeType.KEYWORD);
export const PrecisModelKey = defineSearchAttributeKey('PrecisModel', SearchAttributeType.KEYWORD);
export const PrecisDegradedKey = defineSearchAttributeKey('PrecisDegraded', SearchAttributeType.BOOL);
/**
 * How the latest summary came about: `called`, `cache-hit`, `unchanged`, `immaterial`, `local`, `fallback`,
 * `upgraded`, or `abandoned` (see workflows/ui-details.ts RunOutcome). Set by runs of precis 0.4 and later.
 */
export const PrecisOutcomeKey = defineSearchAttributeKey('PrecisOutcome', SearchAttributeType.KEYWORD);
/** The latest summary's headline, cut to 200 characters (search attributes are stored unencrypted). */
export const PrecisHeadlineKey = defineSearchAttributeKey('PrecisHeadline', SearchAttributeType.KEYWORD);
/** USD the run spent on model calls (`PrecisCostUsd > 0` finds the runs that paid for a call). */
export const PrecisCostUsdKey = defineSearchAttributeKey('PrecisCostUsd', SearchAttributeType.DOUBLE);

/**
 * Every custom search attribute precis sets: what a server must have registered before precis starts runs (the same
 * list as scripts/lib.sh TEMPORAL_SEARCH_ATTRIBUTES).
 */
export const PRECIS_SEARCH_ATTRIBUTES = [
  DashboardIdKey,
  PrecisStatusKey,
  PrecisModelKey,
  PrecisDegradedKey,
  PrecisOutcomeKey,
  PrecisHeadlineKey,
  PrecisCostUsdKey,
];
