/**
 * Unit conversion between what a source reports and what the widget shows. Only conversions within one
 * dimension are known; anything else is left as it is and reported, never guessed.
 */
const FACTORS: Record<string, { dimension: string; factor: number }> = {
  ns: { dimension: 'time', factor: 1e-9 },
  us: { dimension: 'time', factor: 1e-6 },
  µs: { dimension: 'time', factor: 1e-6 },
  ms: { dimension: 'time', factor: 1e-3 },
  s: { dimension: 'time', factor: 1 },
  min: { dimension: 'time', factor: 60 },
  h: { dimension: 'time', factor: 3600 },
  d: { dimension: 'time', factor: 86_400 },
  B: { dimension: 'bytes', factor: 1 },
  kB: { dimension: 'bytes', factor: 1e3 },
  KB: { dimension: 'bytes', factor: 1e3 },
  MB: { dimension: 'bytes', factor: 1e6 },
  GB: { dimension: 'bytes', factor: 1e9 },
  TB: { dimension: 'bytes', factor: 1e12 },
  KiB: { dimension: 'bytes', factor: 1024 },
  MiB: { dimension: 'bytes', factor: 1024 ** 2 },
  GiB: { dimension: 'bytes', factor: 1024 ** 3 },
  TiB: { dimension: 'bytes', factor: 1024 ** 4 },
  ratio: { dimension: 'fraction', factor: 1 },
  '%': { dimension: 'fraction', factor: 0.01 },
  bp: { dimension: 'fraction', factor: 0.0001 },
};

/** The factor that turns a value in `from` into `to`, or null when the units are not known to be convertible. */
export function conversionFactor(from: string, to: string): number | null {
  if (from === to) return 1;
  const source = FACTORS[from];
  const target = FACTORS[to];
  if (!source || !target || source.dimension !== target.dimension) return null;
  return source.factor / target.factor;
}
