/** The HTTP server behind the `http` widgets of the source-failure scenario: healthy, or failing with 503, on demand. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const HOUR_MS = 3_600_000;

export interface SourceServer {
  url(path: string): string;
  setFailing(failing: boolean): void;
  /** Requests answered 503 / 200 so far. */
  readonly counts: { failed: number; served: number };
  close(): Promise<void>;
}

function series(): { t: string; v: number }[] {
  const anchor = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  return Array.from({ length: 48 }, (_, i) => ({
    t: new Date(anchor - (47 - i) * HOUR_MS).toISOString(),
    v: i < 24 ? 100 + i : 160 + i,
  }));
}

export async function startSourceServer(): Promise<SourceServer> {
  let failing = false;
  const counts = { failed: 0, served: 0 };
  const server: Server = createServer((_req, res) => {
    if (failing) {
      counts.failed++;
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":"backend unavailable"}');
      return;
    }
    counts.served++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(series()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    setFailing: (next) => {
      failing = next;
    },
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
