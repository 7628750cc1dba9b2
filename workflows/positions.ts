/**
 * Kafka offsets travel as decimal text (they are 64-bit) and are compared without BigInt arithmetic: by length,
 * then digit by digit. True when `offset` comes after `taken` (or nothing was taken yet).
 */
export function offsetAfter(offset: string, taken: string | undefined): boolean {
  if (taken === undefined) return true;
  return offset.length !== taken.length ? offset.length > taken.length : offset > taken;
}
