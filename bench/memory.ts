/**
 * Peak resident memory of every process the benchmark starts, per scenario: `/proc/<pid>/status` sampled every
 * second. VmHWM is the kernel's own high-water mark since the process started, so a peak between two samples is
 * not missed: when VmHWM grew during a scenario, the scenario's peak is exactly the VmHWM at its end; when it did
 * not, the peak was lower than before the scenario and the highest sampled VmRSS is the best figure.
 */
import { readFileSync } from 'node:fs';

export interface MemoryPeak {
  /** Peak resident set during the scenario, MB. */
  peakMb: number;
  /** VmHWM (since the process started) at the end of the scenario, MB. */
  hwmMb: number;
  samples: number;
}

interface Watched {
  name: string;
  pid: number;
  /** Whether this is a precis process (the memory target applies) or a baseline. */
  precis: boolean;
}

interface Window {
  hwmStartKb: number;
  hwmEndKb: number;
  maxRssKb: number;
  samples: number;
}

/** VmRSS and VmHWM of a process in kB, or null when it is gone. */
export function readMemoryKb(pid: number): { rssKb: number; hwmKb: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  const rssKb = field('VmRSS');
  const hwmKb = field('VmHWM');
  return Number.isFinite(rssKb) && Number.isFinite(hwmKb) ? { rssKb, hwmKb } : null;
}

export class MemorySampler {
  private readonly watched = new Map<number, Watched>();
  /** process name → scenario → window. */
  private readonly windows = new Map<string, Map<string, Window>>();
  private scenario = 'setup';
  private timer: NodeJS.Timeout | null = null;

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Samples from now on count for `scenario`. */
  enter(scenario: string): void {
    this.sample();
    this.scenario = scenario;
    this.sample();
  }

  watch(name: string, pid: number, precis: boolean): void {
    this.watched.set(pid, { name, pid, precis });
    this.sampleOne({ name, pid, precis });
  }

  /** Takes a last sample (call right before stopping the process) and stops watching it. */
  unwatch(pid: number): void {
    const watched = this.watched.get(pid);
    if (watched) this.sampleOne(watched);
    this.watched.delete(pid);
  }

  stop(): void {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Per process (name), per scenario. */
  peaks(): Record<string, Record<string, MemoryPeak>> {
    const out: Record<string, Record<string, MemoryPeak>> = {};
    for (const [name, byScenario] of this.windows) {
      const scenarios: Record<string, MemoryPeak> = {};
      for (const [scenario, w] of byScenario) {
        const peakKb = w.hwmEndKb > w.hwmStartKb ? w.hwmEndKb : w.maxRssKb;
        scenarios[scenario] = {
          peakMb: Math.round(peakKb / 102.4) / 10,
          hwmMb: Math.round(w.hwmEndKb / 102.4) / 10,
          samples: w.samples,
        };
      }
      out[name] = scenarios;
    }
    return out;
  }

  /** Highest VmHWM over the whole run, per process name. */
  overall(): Record<string, { peakMb: number; precis: boolean }> {
    const precisByName = new Map<string, boolean>();
    for (const w of this.everWatched) precisByName.set(w.name, w.precis);
    const out: Record<string, { peakMb: number; precis: boolean }> = {};
    for (const [name, byScenario] of this.windows) {
      const kb = Math.max(...[...byScenario.values()].map((w) => Math.max(w.hwmEndKb, w.maxRssKb)));
      out[name] = { peakMb: Math.round(kb / 102.4) / 10, precis: precisByName.get(name) ?? true };
    }
    return out;
  }

  private readonly everWatched: Watched[] = [];

  private sample(): void {
    for (const watched of this.watched.values()) this.sampleOne(watched);
  }

  private sampleOne(watched: Watched): void {
    if (!this.everWatched.some((w) => w.pid === watched.pid)) this.everWatched.push(watched);
    const memory = readMemoryKb(watched.pid);
    if (!memory) return;
    const byScenario = this.windows.get(watched.name) ?? new Map<string, Window>();
    this.windows.set(watched.name, byScenario);
    const window = byScenario.get(this.scenario);
    if (!window) {
      byScenario.set(this.scenario, {
        hwmStartKb: memory.hwmKb,
        hwmEndKb: memory.hwmKb,
        maxRssKb: memory.rssKb,
        samples: 1,
      });
      return;
    }
    window.hwmEndKb = Math.max(window.hwmEndKb, memory.hwmKb);
    window.maxRssKb = Math.max(window.maxRssKb, memory.rssKb);
    window.samples++;
  }
}
