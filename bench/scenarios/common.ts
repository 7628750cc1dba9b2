/** Helpers the scenarios share: paced producing, waiting for the pipeline to catch up, result scaffolding. */
import type { Producer } from 'kafkajs';
import type { DeliveryObserver } from '../observe';
import type { ScenarioId, ScenarioResult } from '../report/types';
import type { PrecisStack } from '../stack';
import { sleep, waitUntil } from '../stats';

export interface Paced {
  produced: number;
  /** How far behind schedule the producer fell at worst (a busy machine), ms. */
  maxLagMs: number;
  /** How long each send took to be acknowledged by the broker, ms (event times are taken before the send). */
  sendMs: number[];
}

/**
 * Calls `build(tick)` every `intervalMs` for `durationMs` and sends what it returns in one request. The schedule is
 * absolute (tick n is due at start + n × interval), so a slow send is caught up rather than stretching the run.
 */
export async function producePaced(
  producer: Producer,
  topic: string,
  intervalMs: number,
  durationMs: number,
  build: (tick: number) => { key: string; value: string }[],
): Promise<Paced> {
  const start = Date.now();
  const ticks = Math.max(1, Math.floor(durationMs / intervalMs));
  let produced = 0;
  let maxLagMs = 0;
  const sendMs: number[] = [];
  for (let tick = 0; tick < ticks; tick++) {
    const due = start + tick * intervalMs;
    const now = Date.now();
    if (due > now) await sleep(due - now);
    else maxLagMs = Math.max(maxLagMs, now - due);
    const messages = build(tick);
    if (messages.length === 0) continue;
    const sent = Date.now();
    await producer.send({ topic, messages });
    sendMs.push(Date.now() - sent);
    produced += messages.length;
  }
  return { produced, maxLagMs, sendMs };
}

/** Waits until every event of `tag` is covered by a delivered record; returns how many are still not. */
export async function drain(observer: DeliveryObserver, tag: string, timeoutMs: number): Promise<number> {
  await waitUntil(() => observer.uncovered(tag) === 0, timeoutMs, 200);
  return observer.uncovered(tag);
}

/** The checks every scenario on a precis stack makes: no process died under load. */
export function crashCheck(stack: PrecisStack): { name: string; ok: boolean; detail: string } {
  const crashed = stack.crashed();
  return {
    name: 'no precis process crashed',
    ok: crashed.length === 0,
    detail: crashed.length === 0 ? 'all running' : `exited: ${crashed.join(', ')} (see their logs)`,
  };
}

/** A result with nothing measured yet; scenarios fill it in. */
export function emptyResult(id: ScenarioId, title: string): ScenarioResult {
  return {
    id,
    title,
    settings: {},
    value: null,
    unit: '',
    baseline: { name: '', description: '', value: null, unit: '' },
    ratio: null,
    ratioMeaning: '',
    targets: [],
    checks: [],
    figures: {},
    tables: {},
    charts: [],
    notes: [],
    durationMs: 0,
  };
}

export const ms = (value: number | null): string => (value === null ? 'n/a' : `${Math.round(value)} ms`);
