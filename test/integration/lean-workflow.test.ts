/**
 * The lean shape on a real Temporal server: a long-lived workflow takes the next change with a signal (one
 * execution, several summaries), completes after its idle timeout, drops a redelivered Kafka position, keeps the
 * inline data its events carried by reference, and runs every stage of a summary in one workflow task.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DashboardRegistry } from '../../src/domain/registry';
import type { Summary } from '../../src/domain/summary';
import { dashboardWorkflowId, handOver } from '../../src/ingest/starter';
import { BlobStore } from '../../src/store/blobs';
import type { SummaryStore } from '../../src/store/summaries';
import { stateQuery } from '../../workflows/dashboard';
import { eventually, isolatedConfig } from '../support/config';
import { type PipelineUnderTest, startPipeline } from '../support/pipeline';

const config = isolatedConfig({ PRECIS_WORKFLOW_IDLE_MS: '4000' });
const registry = DashboardRegistry.fromDirectory(config.dashboardsDir);
let pipeline: PipelineUnderTest;
let client: Client;
let store: SummaryStore;
let blobs: BlobStore;

beforeAll(async () => {
  pipeline = await startPipeline(config);
  ({ client, store } = pipeline);
  blobs = new BlobStore(pipeline.redis, config.redis.keyPrefix, 3600);
});

afterAll(() => pipeline?.close());

function dashboardOf(id: string) {
  const dashboard = registry.get(id);
  if (!dashboard) throw new Error(`${id} must exist`);
  return dashboard;
}

function summaryWithVersion(dashboardId: string, version: number): Promise<Summary> {
  return eventually(`version ${version} of ${dashboardId}`, async () => {
    const latest = await store.latest(dashboardId);
    return latest && latest.version >= version ? latest : undefined;
  });
}

const now = () => new Date().toISOString();

describe('lean dashboard workflow', () => {
  it('takes the next change in the same execution, drops a redelivered position, completes when idle', async () => {
    const dashboard = dashboardOf('sre-checkout');
    const stream = 'events/2';
    await handOver(client, config, dashboard, {
      position: { stream, offset: '10' },
      count: 3,
      eventIds: ['a-1', 'a-2', 'a-3'],
      newestOccurredAt: now(),
    });
    const first = await summaryWithVersion('sre-checkout', 1);
    expect(first.eventCount).toBe(3);

    // The same batch again (an ingest that crashed before committing), then the next one.
    await handOver(client, config, dashboard, {
      position: { stream, offset: '10' },
      count: 3,
      eventIds: ['a-1', 'a-2', 'a-3'],
      newestOccurredAt: now(),
    });
    await handOver(client, config, dashboard, {
      position: { stream, offset: '11' },
      count: 1,
      eventIds: ['a-4'],
      newestOccurredAt: now(),
    });
    const second = await eventually('a summary of a-4', async () => {
      const latest = await store.latest('sre-checkout');
      return latest?.eventIds.includes('a-4') ? latest : undefined;
    });
    expect(second.eventCount).toBe(1);
    expect(second.eventIds).toEqual(['a-4']);
    // One execution made both summaries.
    expect(second.runId).toBe(first.runId);

    const handle = client.workflow.getHandle(dashboardWorkflowId(config, 'sre-checkout'));
    const state = await handle.query(stateQuery);
    expect(state.summariesMade).toBeGreaterThanOrEqual(2);
    // Nothing more arrives: the run completes after the idle timeout (4 s).
    const result = await handle.result();
    expect(result.status).toBe('idle');

    // Every stage of a summary ran inside the workflow task: no activity task went through the server.
    const history = await handle.fetchHistory();
    const { EventType } = temporal.api.enums.v1;
    const count = (type: number) => (history.events ?? []).filter((event) => event.eventType === type).length;
    const scheduled = count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
    expect(scheduled).toBe(0);
    // Per summary two steps (gather-v1): gather (plan and every widget), prepare (clean, enrich, summarize locally,
    // store and publish). Each step the workflow schedules costs the pipeline worker CPU.
    const steps = (history.events ?? []).filter(
      (event) => event.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    ).length;
    expect(steps).toBe(2 * result.summariesMade);
  });

  it('keeps inline data passed by reference across summaries', async () => {
    const dashboard = dashboardOf('social-listening');
    const hour = 3_600_000;
    const points = Array.from({ length: 48 }, (_, i) => ({
      t: new Date(Date.now() - (i + 1) * hour).toISOString(),
      v: 20_000 + i * 10,
    }));
    const inlineRef = await blobs.put({ widgets: { 'partner-reach': { occurredAt: now(), points } } });
    await handOver(client, config, dashboard, {
      count: 1,
      eventIds: ['inline-1'],
      newestOccurredAt: now(),
      inlineRef,
    });
    const first = await summaryWithVersion('social-listening', 1);
    expect(first.missingWidgets.map((m) => m.widgetId)).not.toContain('partner-reach');

    // The next change carries no inline data: the data pushed before still stands.
    await handOver(client, config, dashboard, { count: 1, eventIds: ['plain-2'], newestOccurredAt: now() });
    const second = await summaryWithVersion('social-listening', 2);
    expect(second.eventIds).toEqual(['plain-2']);
    expect(second.missingWidgets.map((m) => m.widgetId)).not.toContain('partner-reach');
  });
});
