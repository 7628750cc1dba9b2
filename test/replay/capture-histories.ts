/**
 * Records histories of the dashboard workflow as the current code writes them, for the replay tests of later
 * versions (test/integration/replay.test.ts): a change to workflow code must replay what runs of the previous
 * version have already written, so that running workflows survive an upgrade.
 *
 *   node_modules/.bin/tsx test/replay/capture-histories.ts <label>
 *
 * Needs the local stack (scripts/stack.sh up). Writes test/replay/histories/<label>-<scenario>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { createRedis } from '../../src/clients';
import type { PendingEvent } from '../../src/domain/event';
import { DashboardRegistry } from '../../src/domain/registry';
import { dashboardWorkflowId, signalDashboard } from '../../src/ingest/starter';
import { SummaryStore } from '../../src/store/summaries';
import { buildLlmWorker } from '../../workers/llm';
import { buildPipelineWorker } from '../../workers/pipeline';
import { deleteRunTopics, eventually, isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';

const label = process.argv[2];
if (!label) throw new Error('usage: capture-histories.ts <label>');

async function main(): Promise<void> {
  const config = isolatedConfig({ PRECIS_QUIET_PERIOD_MS: '300', PRECIS_MAX_DELAY_MS: '5000' });
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
  try {
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
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
