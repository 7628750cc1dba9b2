import type { Summary } from '../domain/summary';

/** The part of a summary that a summarizer writes; the pipeline adds provenance, usage and version. */
export type SummaryContent = Pick<
  Summary,
  'headline' | 'insights' | 'anomalies' | 'recommendations' | 'grounding'
>;
