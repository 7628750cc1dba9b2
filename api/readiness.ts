import { withTimeout } from './timeout';

export type DependencyCheck = () => Promise<unknown>;
export type CheckResults = Record<string, 'up' | 'down'>;

/**
 * Readiness of the API's dependencies, each checked in parallel with its own timeout. A check still running is
 * shared by later callers, so a burst of probes against a dead dependency does not pile up connection attempts.
 */
export class Readiness {
  /** Probes still running, possibly past their timeout: reused instead of started again. */
  private readonly probes = new Map<string, Promise<unknown>>();

  constructor(
    private readonly checks: Record<string, DependencyCheck>,
    private readonly timeoutMs: number,
  ) {}

  async run(): Promise<CheckResults> {
    const names = Object.keys(this.checks);
    const results = await Promise.all(names.map((name) => this.check(name)));
    return Object.fromEntries(names.map((name, index) => [name, results[index] ?? 'down']));
  }

  private async check(name: string): Promise<'up' | 'down'> {
    let probe = this.probes.get(name);
    if (probe === undefined) {
      const start = this.checks[name];
      if (start === undefined) return 'down';
      probe = Promise.resolve().then(start);
      this.probes.set(name, probe);
      const forget = (): void => {
        this.probes.delete(name);
      };
      probe.then(forget, forget);
    }
    try {
      await withTimeout(probe, this.timeoutMs, name);
      return 'up';
    } catch {
      return 'down';
    }
  }
}
