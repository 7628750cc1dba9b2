/** Small numeric helpers shared by cleaning and enrichment. Inputs are finite numbers. */

export const sum = (values: readonly number[]): number => values.reduce((total, v) => total + v, 0);

export const mean = (values: readonly number[]): number =>
  values.length === 0 ? Number.NaN : sum(values) / values.length;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Median absolute deviation. */
export function mad(values: readonly number[]): number {
  const center = median(values);
  return median(values.map((v) => Math.abs(v - center)));
}

/**
 * Robust z-scores (Iglewicz & Hoaglin): 0.6745 · (x − median) / MAD. Unlike the ordinary z-score, one spike
 * cannot hide itself by inflating the standard deviation. When more than half the values are equal, MAD is 0;
 * then the mean absolute deviation stands in (scaled by 1.2533 to match the normal distribution), and a
 * series whose values are all equal scores 0 everywhere. Scores are always finite.
 */
export function robustZScores(values: readonly number[]): number[] {
  const center = median(values);
  const spread = mad(values);
  if (spread > 0) return values.map((v) => (0.6745 * (v - center)) / spread);
  const meanDeviation = mean(values.map((v) => Math.abs(v - center)));
  if (!(meanDeviation > 0)) return values.map(() => 0);
  return values.map((v) => (v - center) / (1.2533 * meanDeviation));
}

/** Least-squares slope of y over x; null with fewer than two distinct x values. */
export function slope(xs: readonly number[], ys: readonly number[]): number | null {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return null;
  const mx = mean(xs.slice(0, n));
  const my = mean(ys.slice(0, n));
  let numerator = 0;
  let denominator = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    numerator += dx * ((ys[i] as number) - my);
    denominator += dx * dx;
  }
  return denominator === 0 ? null : numerator / denominator;
}

/** Rounds to a fixed number of significant digits so float noise never changes a hash. */
export function roundSig(value: number, digits = 6): number {
  // -0 would not survive a JSON round trip (through Temporal or Redis) unchanged.
  if (value === 0) return 0;
  if (!Number.isFinite(value)) return value;
  return Number(value.toPrecision(digits));
}
