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

/** Every custom search attribute precis sets: what a server must have registered before precis starts runs. */
export const PRECIS_SEARCH_ATTRIBUTES = [DashboardIdKey, PrecisStatusKey, PrecisModelKey, PrecisDegradedKey];
