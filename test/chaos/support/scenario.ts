/**
 * The frame every chaos scenario shares: produce a few events per dashboard, inject the fault, end it, then poll
 * the invariants until they hold (the recovery time is measured from the end of the fault) or a bound passes, and
 * record the outcome in the results file that scripts/chaos.sh prints.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { sleep } from '../../../bench/stats';
import type { ChaosHarness } from './harness';
import { judge, type Verdicts } from './invariants';
import { dataChanged, invalidEvent, MAX_EVENTS_PER_DASHBOARD, type ScenarioDashboards } from './workload';

export const RECOVERY_TIMEOUT_MS = Number(process.env.CHAOS_RECOVERY_TIMEOUT_MS ?? 75_000);

export interface ScenarioResult {
  scenario: string;
  passed: boolean;
  /** From the end of the fault until every invariant held; null when they never did within the bound. */
  recoveryMs: number | null;
  faultMs: number;
  invariants: Verdicts;
  notes: string[];
}

/** Produces events for one scenario's dashboards, counting each dashboard's sequence numbers. */
export class Workload {
  private readonly seq = new Map<string, number>();

  constructor(
    private readonly harness: ChaosHarness,
    readonly dashboards: ScenarioDashboards,
    private readonly inline = true,
  ) {}

  /** One valid event for every dashboard of the scenario (`pauseMs` between dashboards). */
  async wave(pauseMs = 0): Promise<void> {
    for (const id of this.dashboards.ids) {
      const next = (this.seq.get(id) ?? 0) + 1;
      if (next > MAX_EVENTS_PER_DASHBOARD)
        throw new Error(`${id}: more than ${MAX_EVENTS_PER_DASHBOARD} events`);
      this.seq.set(id, next);
      await this.harness.recorder.send(id, dataChanged(id, next, this.inline));
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  /** One event that must be dead-lettered (schema violation), on the first dashboard. */
  async invalid(): Promise<void> {
    const id = this.dashboards.ids[0];
    if (id === undefined) return;
    const next = (this.seq.get(id) ?? 0) + 1;
    this.seq.set(id, next);
    await this.harness.recorder.send(id, invalidEvent(id, next) as { eventId: string }, false);
  }
}

export type ExtraCheck = () => Promise<Verdicts>;

/**
 * Polls the shared invariants (and the scenario's own) until all hold or the bound passes. Returns the result with
 * the recovery time counted from `faultEndedAt`.
 */
export async function awaitRecovery(
  harness: ChaosHarness,
  dashboards: ScenarioDashboards,
  fault: { startedAt: number; endedAt: number },
  extra: ExtraCheck = async () => ({}),
  notes: string[] = [],
  boundMs = RECOVERY_TIMEOUT_MS,
): Promise<ScenarioResult> {
  const deadline = fault.endedAt + boundMs;
  let verdicts: Verdicts = {};
  let recoveryMs: number | null = null;
  for (;;) {
    verdicts = { ...(await judge(harness.judgeContext, dashboards.ids)), ...(await extra()) };
    if (Object.values(verdicts).every((v) => v.holds)) {
      recoveryMs = Date.now() - fault.endedAt;
      break;
    }
    if (Date.now() > deadline) break;
    await sleep(1000);
  }
  const crashed = harness.crashed();
  if (crashed.length > 0) notes.push(`processes that died on their own: ${crashed.join(', ')}`);
  const result: ScenarioResult = {
    scenario: dashboards.scenario,
    passed: recoveryMs !== null,
    recoveryMs,
    faultMs: fault.endedAt - fault.startedAt,
    invariants: verdicts,
    notes,
  };
  recordResult(result);
  return result;
}

/** Appends a result to the suite's results file (CHAOS_RESULTS_FILE) and prints it. */
export function recordResult(result: ScenarioResult): void {
  const lines = Object.entries(result.invariants).map(
    ([name, v]) => `  ${v.holds ? 'pass' : 'FAIL'} ${name}: ${v.detail}`,
  );
  const recovery = result.recoveryMs === null ? 'never' : `${(result.recoveryMs / 1000).toFixed(1)} s`;
  process.stdout.write(
    `[chaos] ${result.scenario}: ${result.passed ? 'pass' : 'FAIL'}, fault ${(result.faultMs / 1000).toFixed(1)} s, ` +
      `recovery ${recovery}\n${lines.join('\n')}\n${result.notes.map((n) => `  note: ${n}`).join('\n')}\n`,
  );
  const file = process.env.CHAOS_RESULTS_FILE;
  if (!file) return;
  const all: ScenarioResult[] = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as ScenarioResult[])
    : [];
  all.push(result);
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
}

/** A readable failure message listing the invariants that did not hold. */
export function failures(result: ScenarioResult): string[] {
  return Object.entries(result.invariants)
    .filter(([, v]) => !v.holds)
    .map(([name, v]) => `${name}: ${v.detail}`);
}
