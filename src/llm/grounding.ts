import type { SummaryGrounding } from '../domain/summary';
import { type CheckedClaim, checkClaims, GROUNDING_CHECKER } from '../grounding/check';
import type { SummaryContent } from '../summarize/types';

export { type StatedNumber, statedNumbers } from '../grounding/numbers';

export interface GroundingReport {
  grounded: boolean;
  /** The failed claims, each as "text (reason)", for logs and the repair prompt. */
  ungrounded: string[];
  /** Every checked claim, bound or not: what the stored summary records. */
  claims: CheckedClaim[];
}

/**
 * Checks every claim of a summary against the model input (`modelInput(enriched)`, or any object of its shape):
 * see src/grounding/check.ts for what binds a claim.
 */
export function checkGrounding(content: SummaryContent, input: unknown): GroundingReport {
  const { grounded, claims } = checkClaims(content, input);
  return {
    grounded,
    ungrounded: claims.filter((c) => !c.ok).map((c) => `${c.text} (${c.reason ?? 'not bound'})`),
    claims,
  };
}

/** What a stored summary records about its grounding. */
export function groundingRecord(report: GroundingReport): SummaryGrounding {
  return { checker: GROUNDING_CHECKER, grounded: report.grounded, claims: report.claims };
}
