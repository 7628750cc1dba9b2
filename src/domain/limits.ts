// Kept free of imports: the workflow bundle includes this module, and everything it would pull in.

/** How many event ids a summary or freshness record keeps: the newest, enough to trace a run to its events. */
export const NEWEST_EVENT_IDS = 20;
