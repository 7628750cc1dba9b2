import type { DemoSource } from '../domain/dashboard';
import type { Point } from '../domain/event';

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

/** mulberry32: a tiny, well-distributed PRNG; deterministic for a given seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Mixes a source seed with a bucket index so that every bucket has its own stable noise. */
function bucketSeed(seed: number, bucket: number): number {
  return (Math.imul(seed, 0x9e3779b1) ^ Math.imul(bucket, 0x85ebca6b)) >>> 0;
}

/**
 * Deterministic synthetic series that looks real: a trend, weekly seasonality, noise and now and then a spike.
 * The value of a bucket depends only on the source and the bucket's time, so the same instant always shows the
 * same data and a later `asOf` only adds points.
 */
export function demoSeries(source: DemoSource, asOf: Date, resolutionMs: number, count: number): Point[] {
  const lastBucket = Math.floor(asOf.getTime() / resolutionMs);
  const points: Point[] = [];
  for (let bucket = lastBucket - count + 1; bucket <= lastBucket; bucket++) {
    const t = bucket * resolutionMs;
    const random = prng(bucketSeed(source.seed, bucket));
    const days = t / DAY_MS;
    // A slow sawtooth around the base level: a trend that is visible for weeks without drifting off forever.
    const trend = 1 + source.trend * ((((days % 180) + 180) % 180) - 90);
    const season = 1 + source.seasonality * Math.sin((2 * Math.PI * (t % WEEK_MS)) / WEEK_MS);
    const noise = 1 + source.noise * (random() * 2 - 1);
    const spike = random() < 0.03 ? 1.5 + random() : 1;
    const value = source.base * trend * season * noise * spike;
    points.push({ t: new Date(t).toISOString(), v: Math.round(value * 100) / 100 });
  }
  return points;
}
