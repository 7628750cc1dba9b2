import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The API's Prometheus metrics, in a registry of its own so that several apps in one process (tests) do not
 * collide. Routes are labelled by their pattern (`/v1/dashboards/:id/summary`), never by the raw URL, so the
 * number of series stays bounded whatever clients request.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly requestDuration = new Histogram({
    name: 'precis_api_http_request_duration_seconds',
    help: 'HTTP request durations by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
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

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'precis_api_' });
  }

  /** Series by route, method and status: prom-client would hash the label set of every observation. */
  private readonly series = new Map<string, Map<string, Map<number, { observe(value: number): void }>>>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const byMethod = child(this.series, route, () => new Map());
    const byStatus = child(byMethod, method, () => new Map());
    const series = child(byStatus, status, () => this.requestDuration.labels({ method, route, status }));
    series.observe(seconds);
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function child<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}
