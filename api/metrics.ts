import { Counter, Gauge } from 'prom-client';
import { processRegistry } from '../src/metrics/process';

const DURATION_NAME = 'precis_api_http_request_duration_seconds';
const DURATION_HELP = 'HTTP request durations by method, route pattern and status code';
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

/** Records one request of a route: its method, status and duration in seconds. */
export type RouteObserver = (method: string, status: number, seconds: number) => void;

/** A label value in the Prometheus text format. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** One (method, route, status) series of the request-duration histogram. */
class DurationSeries {
  /** Per bucket, not cumulative (summed when exported); above the last bound only `count` grows. */
  private readonly counts = new Float64Array(DURATION_BUCKETS.length);
  private sum = 0;
  private count = 0;

  /** `labels`: the series' labels, rendered once (`method="GET",route="…",status="200"`). */
  constructor(private readonly labels: string) {}

  observe(seconds: number): void {
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[bucket] ?? 0)) bucket++;
    if (bucket < DURATION_BUCKETS.length) this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
    this.sum += seconds;
    this.count++;
  }

  /** The series' lines, as prom-client writes a histogram's (`le` first, cumulative buckets, sum, count). */
  lines(): string[] {
    const lines: string[] = [];
    let cumulative = 0;
    DURATION_BUCKETS.forEach((bound, index) => {
      cumulative += this.counts[index] ?? 0;
      lines.push(`${DURATION_NAME}_bucket{le="${bound}",${this.labels}} ${cumulative}`);
    });
    lines.push(`${DURATION_NAME}_bucket{le="+Inf",${this.labels}} ${this.count}`);
    lines.push(`${DURATION_NAME}_sum{${this.labels}} ${this.sum}`);
    lines.push(`${DURATION_NAME}_count{${this.labels}} ${this.count}`);
    return lines;
  }
}

/**
 * The API's Prometheus metrics, in a registry of its own so that several apps in one process (tests) do not
 * collide. Routes are labelled by their pattern (`/v1/dashboards/:id/summary`), never by the raw URL, so the
 * number of series stays bounded whatever clients request.
 *
 * The request-duration histogram is kept here rather than in prom-client: its `observe` validates and hashes the
 * label set on every call, which cost as much as the rest of a cached read. Here each route holds its own series
 * (found by method and status in two small maps) and observing is a bucket search and three additions; the
 * histogram is written out in the same text format when scraped.
 */
export class ApiMetrics {
  /** Default process metrics under their standard names, as in every precis process. */
  readonly registry = processRegistry();
  readonly sseClients = new Gauge({
    name: 'precis_api_sse_clients',
    help: 'Open Server-Sent Events streams',
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'precis_api_rate_limited_total',
    help: 'Requests refused by the per-key rate limit',
    registers: [this.registry],
  });
  /** Series by route pattern, method and status, in the order they first appeared. */
  private readonly durations = new Map<string, Map<string, Map<number, DurationSeries>>>();

  /** The observer of one route pattern, to be called for each of its responses. */
  route(route: string): RouteObserver {
    let byMethod = this.durations.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.durations.set(route, byMethod);
    }
    const methods = byMethod;
    return (method, status, seconds) => {
      let byStatus = methods.get(method);
      if (byStatus === undefined) {
        byStatus = new Map();
        methods.set(method, byStatus);
      }
      let series = byStatus.get(status);
      if (series === undefined) {
        series = new DurationSeries(
          `method="${escapeLabel(method)}",route="${escapeLabel(route)}",status="${status}"`,
        );
        byStatus.set(status, series);
      }
      series.observe(seconds);
    };
  }

  async text(): Promise<{ contentType: string; body: string }> {
    const lines = [`# HELP ${DURATION_NAME} ${DURATION_HELP}`, `# TYPE ${DURATION_NAME} histogram`];
    for (const byMethod of this.durations.values()) {
      for (const byStatus of byMethod.values()) {
        for (const series of byStatus.values()) lines.push(...series.lines());
      }
    }
    const body = `${lines.join('\n')}\n\n${await this.registry.metrics()}`;
    return { contentType: this.registry.contentType, body };
  }
}
