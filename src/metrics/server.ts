import { createServer, type Server } from 'node:http';

/** What a metrics endpoint serves: prom-client's Registry has this shape, and so does a composed source. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/**
 * Serves GET /metrics (Prometheus text) and GET /readyz (200 while `ready()` holds, 503 otherwise) on a port of its
 * own: every precis process without another HTTP surface (ingest, pipeline worker, LLM worker) uses this one.
 * Port 0 binds a free port (tests read it from the returned server's address).
 */
export async function serveMetrics(
  source: MetricsSource,
  host: string,
  port: number,
  ready: () => boolean = () => true,
): Promise<Server> {
  const server = createServer((request, response) => {
    const path = request.url?.split('?')[0];
    if (path === '/readyz') {
      const up = ready();
      response.writeHead(up ? 200 : 503, { 'content-type': 'text/plain' }).end(up ? 'ready' : 'not ready');
      return;
    }
    if (path !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    source.metrics().then(
      (text) => response.writeHead(200, { 'content-type': source.contentType }).end(text),
      () => response.writeHead(503).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Closes a metrics server and waits for it (open keep-alive scrapes are cut). */
export async function closeMetricsServer(server: Server | null): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
