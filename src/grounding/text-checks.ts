/**
 * Checks on the words of every text field of a summary (headline, insights, anomaly descriptions,
 * recommendations), whoever wrote it: no links, images or markup, no stretch of the system prompt, and no
 * instruction echoed back from untrusted data (a sign the data steered the writer).
 */

/** Text that must never appear in a summary, whatever the data said: links, images, markup. */
const UNSAFE = /(https?:\/\/|www\.|!\[|<\/?[a-z][^>]*>|\]\()/i;

/** Phrasings of injected instructions; a summary describes data and never addresses its reader's assistant. */
const INSTRUCTION_ECHO =
  /\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)?(?:previous|prior|above|earlier|system|these|those)?\s*(?:instructions|rules|prompt|guidelines)\b|\bsystem prompt\b|\byou are now\b|\bnew instructions\b|\bas an ai\b|\bdeveloper mode\b/i;

/** Whether the text repeats a long stretch of the system prompt (a prompt-leak attempt that worked). */
function leaksPrompt(text: string, system: string): boolean {
  const normalized = text.toLowerCase();
  for (let i = 0; i + 60 <= system.length; i += 30) {
    if (normalized.includes(system.slice(i, i + 60).toLowerCase())) return true;
  }
  return false;
}

/** What is wrong with the words of a summary, or null. */
export function textProblem(texts: readonly string[], system: string): string | null {
  if (texts.some((t) => UNSAFE.test(t))) return 'contains a link, image or markup';
  if (texts.some((t) => leaksPrompt(t, system))) return 'repeats the system prompt';
  if (texts.some((t) => INSTRUCTION_ECHO.test(t))) return 'echoes an instruction';
  return null;
}
