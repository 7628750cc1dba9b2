/**
 * Records histories of the dashboard workflow as the current code writes them, for the replay tests of later
 * versions (test/integration/replay.test.ts): a change to workflow code must replay what runs of the previous
 * version have already written, so that running workflows survive an upgrade.
 *
 *   node_modules/.bin/tsx test/replay/capture-histories.ts <label>
 *
 * Needs the local stack (scripts/stack.sh up). Writes test/replay/histories/<label>-<scenario>.json.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { createRedis } from '../../src/clients';
import type { PendingEvent } from '../../src/domain/event';
import { DashboardRegistry } from '../../src/domain/registry';
import { dashboardWorkflowId, handOver, signalDashboard } from '../../src/ingest/starter';
import { BlobStore } from '../../src/store/blobs';
import { SummaryStore } from '../../src/store/summaries';
import { buildLlmWorker } from '../../workers/llm';
import { buildPipelineWorker } from '../../workers/pipeline';
import { deleteRunTopics, eventually, isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';

const label = process.argv[2];
if (!label) throw new Error('usage: capture-histories.ts <label>');

/**
 * The demo dashboards plus `outage`, whose one widget reads an HTTP source that answers 503 to its first `failFirst`
 * requests: a dashboard whose every widget fails, then recovers.
 */
async function dashboardsWithOutage(failFirst: number) {
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    if (requests <= failFirst) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"down"}');
      return;
    }
    const hour = 3_600_000;
    const now = Math.floor(Date.now() / hour) * hour;
    const items = Array.from({ length: 48 }, (_, i) => ({
      t: new Date(now - (47 - i) * hour).toISOString(),
      v: 100 + i,
    }));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const dir = mkdtempSync(join(tmpdir(), 'precis-capture-'));
  for (const file of readdirSync('dashboards')) copyFileSync(join('dashboards', file), join(dir, file));
  writeFileSync(
    join(dir, 'outage.yaml'),
    `id: outage
title: Outage
widgets:
  - { id: orders, title: Orders, comparisonWindow: 1d, resolution: 1h, source: { type: http, url: "http://127.0.0.1:${port}/orders", mapping: { items: items, time: t, value: v } } }
`,
  );
  return {
    dir,
    close: () => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  // Four collect attempts fail (one whole attempt of the run), the next run attempt succeeds.
  const outage = await dashboardsWithOutage(4);
  const config = isolatedConfig({
    PRECIS_QUIET_PERIOD_MS: '300',
    PRECIS_MAX_DELAY_MS: '5000',
    PRECIS_DASHBOARDS_DIR: outage.dir,
    PRECIS_HTTP_ALLOWED_HOSTS: '127.0.0.1',
    PRECIS_HTTP_ALLOWED_NETWORKS: '127.0.0.1/32',
    PRECIS_RUN_RETRY_INITIAL_MS: '1000',
  });
  const registry = DashboardRegistry.fromDirectory(config.dashboardsDir);
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const redis = createRedis(config);
  const store = new SummaryStore(redis, config.redis.keyPrefix, 100);
  const logger = pino({ level: 'error' });
  const workers = [await buildPipelineWorker(config, logger), await buildLlmWorker(config, logger)];
  const now = Date.now();
  const at = (i: number) => new Date(now - 60_000 + i * 1000).toISOString();
  const dir = join(__dirname, 'histories');
  mkdirSync(dir, { recursive: true });

  const scenarios: { name: string; dashboardId: string; calls: PendingEvent[][] }[] = [
    {
      // A burst in several hand-overs (one redelivered), folded by the debounce.
      name: 'burst',
      dashboardId: 'sre-checkout',
      calls: [
        [{ eventId: 'c-1', occurredAt: at(1) }],
        [
          { eventId: 'c-1', occurredAt: at(1) },
          { eventId: 'c-2', occurredAt: at(2) },
        ],
        [{ eventId: 'c-3', occurredAt: at(3) }],
      ],
    },
    {
      // Every widget fails on the first attempt: the events wait, the run is tried again and succeeds.
      name: 'outage',
      dashboardId: 'outage',
      calls: [[{ eventId: 'o-1', occurredAt: at(4) }]],
    },
    {
      // Inline data carried by the events.
      name: 'inline',
      dashboardId: 'social-listening',
      calls: [
        [
          {
            eventId: 'i-1',
            occurredAt: at(5),
            payload: {
              widgets: {
                'partner-reach': [
                  { t: new Date(now - 3_600_000).toISOString(), v: 21_000 },
                  { t: new Date(now - 7_200_000).toISOString(), v: 20_000 },
                ],
              },
            },
          },
        ],
      ],
    },
  ];
  const blobs = new BlobStore(redis, config.redis.keyPrefix, 3600);
  const inlineRef = await blobs.put({
    widgets: {
      'partner-reach': {
        occurredAt: at(6),
        points: [
          { t: new Date(now - 3_600_000).toISOString(), v: 21_000 },
          { t: new Date(now - 7_200_000).toISOString(), v: 20_000 },
        ],
      },
    },
  });
  // Hand-overs as the ingest sends them: by count, newest ids, Kafka position and inline data by reference.
  const handovers: { name: string; dashboardId: string; calls: Parameters<typeof handOver>[3][] }[] = [
    {
      name: 'handover',
      dashboardId: 'social-listening',
      calls: [
        {
          position: { stream: 'dashboard.events/1', offset: '41' },
          count: 3,
          eventIds: ['h-1', 'h-2', 'h-3'],
          newestOccurredAt: at(6),
          inlineRef,
        },
        {
          position: { stream: 'dashboard.events/1', offset: '41' },
          count: 3,
          eventIds: ['h-1', 'h-2', 'h-3'],
          newestOccurredAt: at(6),
          inlineRef,
        },
      ],
    },
  ];
  try {
    for (const scenario of handovers) {
      const dashboard = registry.get(scenario.dashboardId);
      if (!dashboard) throw new Error(`dashboard ${scenario.dashboardId} is missing`);
      for (const handover of scenario.calls) await handOver(client, config, dashboard, handover);
      const handle = client.workflow.getHandle(dashboardWorkflowId(config, scenario.dashboardId));
      await handle.result();
      const history = await handle.fetchHistory();
      const file = join(dir, `${label}-${scenario.name}.json`);
      writeFileSync(file, `${JSON.stringify(history, null, 1)}\n`);
      console.log(`wrote ${file} (${history.events?.length ?? 0} events)`);
      await deleteKeysWithPrefix(redis, `${config.redis.keyPrefix}summary:`);
    }
    for (const scenario of scenarios) {
      const dashboard = registry.get(scenario.dashboardId);
      if (!dashboard) throw new Error(`dashboard ${scenario.dashboardId} is missing`);
      for (const events of scenario.calls) await signalDashboard(client, config, dashboard, events);
      const handle = client.workflow.getHandle(dashboardWorkflowId(config, scenario.dashboardId));
      await eventually(
        `a summary of ${scenario.dashboardId}`,
        async () => ((await store.latest(scenario.dashboardId)) ? true : undefined),
        60_000,
      );
      await handle.result().catch(() => undefined);
      const history = await handle.fetchHistory();
      const file = join(dir, `${label}-${scenario.name}.json`);
      writeFileSync(file, `${JSON.stringify(history, null, 1)}\n`);
      console.log(`wrote ${file} (${history.events?.length ?? 0} events)`);
    }
  } finally {
    for (const worker of workers) await worker.close();
    await deleteRunTopics(config);
    await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
    redis.disconnect();
    await connection.close();
    outage.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
