/**
 * Continue-as-new on a real Temporal server: with two summaries per execution, changes handed over one by one and in
 * a burst all reach a summary, each event counted exactly once, across several executions of the same workflow id.
 */
import type { Client } from '@temporalio/client';
import { DashboardRegistry } from '../../src/domain/registry';
import { dashboardWorkflowId, handOver } from '../../src/ingest/starter';
import type { SummaryStore } from '../../src/store/summaries';
import { eventually, isolatedConfig } from '../support/config';
import { type PipelineUnderTest, startPipeline } from '../support/pipeline';

const config = isolatedConfig({ PRECIS_WORKFLOW_IDLE_MS: '3000', PRECIS_SUMMARIES_PER_RUN: '2' });
const registry = DashboardRegistry.fromDirectory(config.dashboardsDir);
let pipeline: PipelineUnderTest;
let client: Client;
let store: SummaryStore;

beforeAll(async () => {
  pipeline = await startPipeline(config);
  ({ client, store } = pipeline);
});

afterAll(() => pipeline?.close());

it('loses and repeats nothing across executions', async () => {
  const dashboard = registry.get('sre-checkout');
  if (!dashboard) throw new Error('sre-checkout must exist');
  const stream = 'events/0';
  const change = (offset: number) =>
    handOver(client, config, dashboard, {
      position: { stream, offset: String(offset) },
      count: 1,
      eventIds: [`e-${offset}`],
      newestOccurredAt: new Date().toISOString(),
    });
  const covered = (offset: number) =>
    eventually(`a summary of e-${offset}`, async () => {
      const latest = await store.latest('sre-checkout');
      return latest?.eventIds.includes(`e-${offset}`) ? latest : undefined;
    });

  // One by one: five summaries, so at least three executions.
  for (let offset = 1; offset <= 5; offset++) {
    await change(offset);
    await covered(offset);
  }
  // A burst as the ingest sends it (a partition's hand-overs one after another, without waiting for summaries), each
  // hand-over also redelivered (a retried signal): folded into few summaries, each event counted once.
  for (let offset = 100; offset < 110; offset++) {
    await change(offset);
    await change(offset);
  }
  await covered(109);

  const history = await store.history('sre-checkout', 100);
  const counted = history.reduce((total, summary) => total + (summary.eventCount ?? 0), 0);
  expect(counted).toBe(15);
  expect(new Set(history.map((summary) => summary.runId)).size).toBeGreaterThanOrEqual(3);
  // The chain ends by itself once idle.
  const result = await client.workflow.getHandle(dashboardWorkflowId(config, 'sre-checkout')).result();
  expect(result.status).toBe('idle');
});
