/**
 * What a dashboard's run shows in the Temporal UI, read through the same APIs the UI reads (describe, history, the
 * workflow metadata query), on the real dev server with the real pipeline and LLM workers and the project's
 * OpenAI-compatible test server as the model: static summary and details, current details, a summary on every
 * step, and the latest summary's outcome, headline, model and cost in the result and search attributes.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import pino from 'pino';
import { DashboardRegistry } from '../../src/domain/registry';
import { dashboardWorkflowId, signalDashboard } from '../../src/ingest/starter';
import type { SummaryStore } from '../../src/store/summaries';
import { buildPipelineWorker } from '../../workers/pipeline';
import type { dashboardWorkflow } from '../../workflows/dashboard';
import {
  PrecisCostUsdKey,
  PrecisHeadlineKey,
  PrecisModelKey,
  PrecisOutcomeKey,
} from '../../workflows/search-attributes';
import { eventually, isolatedConfig } from '../support/config';
import { type OpenAiTestServer, startOpenAiServer } from '../support/openai-server';
import { type PipelineUnderTest, startPipeline } from '../support/pipeline';
import { deleteKeysWithPrefix } from '../support/redis';

let server: OpenAiTestServer;
let config: ReturnType<typeof isolatedConfig>;
let pipeline: PipelineUnderTest;
let client: Client;
let store: SummaryStore;

/** The query the Temporal UI reads a run's current details with (answered by the worker, nothing in history). */
function metadataOf(handle: WorkflowHandle): Promise<temporal.api.sdk.v1.IWorkflowMetadata> {
  return handle.query<temporal.api.sdk.v1.IWorkflowMetadata>('__temporal_workflow_metadata');
}

beforeAll(async () => {
  server = await startOpenAiServer();
  config = isolatedConfig({
    OPENAI_API_KEY: 'sk-test',
    PRECIS_LLM_BASE_URL: server.baseURL,
    PRECIS_LLM_TIMEOUT_MS: '5000',
  });
  pipeline = await startPipeline(config, { llm: true });
  ({ client, store } = pipeline);
});

afterAll(async () => {
  await pipeline?.close();
  await server?.close();
});

function dashboard(id: string) {
  const found = DashboardRegistry.fromDirectory(config.dashboardsDir).get(id);
  if (!found) throw new Error(`the demo dashboard ${id} must exist`);
  return found;
}

/** The user metadata summaries of a run's steps, in history order (what the UI shows next to each event). */
async function stepSummaries(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .map((event: temporal.api.history.v1.IHistoryEvent) => event.userMetadata?.summary)
    .filter((summary): summary is temporal.api.common.v1.IPayload => summary != null)
    .map((summary) => defaultPayloadConverter.fromPayload<string>(summary));
}

describe('a run in the Temporal UI', () => {
  it('names its dashboard, its steps and its latest summary', async () => {
    const sre = dashboard('sre-checkout');
    await signalDashboard(client, config, sre, [{ eventId: 'ui-1', occurredAt: new Date().toISOString() }]);
    const handle = client.workflow.getHandle<typeof dashboardWorkflow>(
      dashboardWorkflowId(config, 'sre-checkout'),
    );
    const state = await handle.result();
    const stored = await store.latest('sre-checkout');
    if (!stored) throw new Error('no summary stored');

    // The result tells the run apart without opening a payload: headline, model, outcome, cost.
    expect(stored.model).toBe('gpt-4o');
    expect(stored.usage.costUsd).toBeGreaterThan(0);
    expect(state.latest).toEqual({
      version: stored.version,
      outcome: 'called',
      headline: stored.headline,
      model: 'gpt-4o',
      costUsd: stored.usage.costUsd,
    });
    expect(state.costUsd).toBe(stored.usage.costUsd);

    const description = await handle.describe();
    // Static summary and details (markdown) as the client's start set them.
    expect(await description.staticSummary()).toBe(`Summarize dashboard **${sre.title}** (\`sre-checkout\`)`);
    const details = await description.staticDetails();
    expect(details).toContain(`### ${sre.title}`);
    expect(details).toContain('| Widget | Kind | Unit | Source |');
    for (const widget of sre.widgets) expect(details).toContain(`| ${widget.title} |`);
    // Search attributes a list filtered by DashboardId can show as columns, and the memo.
    const attributes = description.typedSearchAttributes;
    expect(attributes.get(PrecisOutcomeKey)).toBe('called');
    expect(attributes.get(PrecisHeadlineKey)).toBe(stored.headline.slice(0, 200));
    expect(attributes.get(PrecisModelKey)).toBe('gpt-4o');
    expect(attributes.get(PrecisCostUsdKey)).toBeCloseTo(stored.usage.costUsd, 10);
    // No memo per summary any more (it repeated the search attributes at a history event each): see writeOutcome.
    expect(description.memo?.latest).toBeUndefined();

    // Every step says what it does for this run.
    const widgets = sre.widgets.length;
    expect(await stepSummaries(handle)).toEqual(
      expect.arrayContaining([
        // The run's first summary plans and collects in one step; later ones name the widgets (gather-v1).
        'plan the summary of sre-checkout and collect its widgets',
        `clean and enrich ${widgets} widgets, keep the latest summary if they did not change`,
        `summarize ${widgets} widgets with gpt-4o`,
        'store and publish the summary by gpt-4o',
      ]),
    );

    // Current details come from the worker through the metadata query (no history): the run's end and its summary.
    const metadata = await metadataOf(handle);
    expect(metadata.currentDetails).toContain('**Now:** completed');
    expect(metadata.currentDetails).toContain(`v${stored.version} · called · gpt-4o`);
    expect(metadata.currentDetails).toContain(stored.headline);
    expect(metadata.currentDetails).toContain(`**Dashboard:** ${sre.title} (\`sre-checkout\`), quiet period`);
  });

  it('tells a run that only confirmed the summary from one that made it', async () => {
    const sre = dashboard('sre-checkout');
    const first = await store.latest('sre-checkout');
    if (!first) throw new Error('the previous test stores a summary first');
    // The same data again: the model is not called, the summary holds; the run still names what it confirmed.
    await signalDashboard(client, config, sre, [{ eventId: 'ui-2', occurredAt: new Date().toISOString() }]);
    const handle = client.workflow.getHandle<typeof dashboardWorkflow>(
      dashboardWorkflowId(config, 'sre-checkout'),
    );
    const state = await handle.result();
    expect(state.latest).toMatchObject({
      version: first.version,
      headline: first.headline,
      model: 'gpt-4o',
      costUsd: 0,
    });
    expect(['unchanged', 'immaterial']).toContain(state.latest?.outcome);
    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(PrecisOutcomeKey)).toBe(state.latest?.outcome);
    expect(description.typedSearchAttributes.get(PrecisHeadlineKey)).toBe(first.headline.slice(0, 200));
    expect(description.typedSearchAttributes.get(PrecisCostUsdKey)).toBe(0);
    // The input held: prepare kept the summary, no model stage and no store step were scheduled.
    const steps = await stepSummaries(handle);
    expect(steps).toContain(
      `clean and enrich ${sre.widgets.length} widgets, keep the latest summary if they did not change`,
    );
    expect(steps.filter((step) => /^(summarize|store and publish)/.test(step))).toEqual([]);
  });

  it('shows a waiting run what it waits for, while it waits', async () => {
    const sre = dashboard('sre-checkout');
    // A run that waits out a long quiet period: its current details say until when, and how many events wait.
    const waiting = isolatedConfig({ PRECIS_QUIET_PERIOD_MS: '600000', PRECIS_MAX_DELAY_MS: '900000' });
    const worker = await buildPipelineWorker(waiting, pino({ level: 'error' }));
    try {
      const quiet = { ...sre, refresh: {} };
      await signalDashboard(client, waiting, quiet, [
        { eventId: 'w-1', occurredAt: new Date().toISOString() },
        { eventId: 'w-2', occurredAt: new Date().toISOString() },
      ]);
      const handle = client.workflow.getHandle(dashboardWorkflowId(waiting, 'sre-checkout'));
      const details = await eventually('current details of the waiting run', async () => {
        const metadata = await metadataOf(handle).catch(() => null);
        return metadata?.currentDetails?.includes('waiting for the quiet period')
          ? metadata.currentDetails
          : undefined;
      });
      expect(details).toMatch(
        /\*\*Now:\*\* waiting for the quiet period until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/,
      );
      expect(details).toContain('**Pending events:** 2');
      expect(details).toContain('quiet period 10 min, max delay 15 min');
      expect(details?.split('\n').every((line) => line.startsWith('- '))).toBe(true);
      await handle.terminate('test done');
    } finally {
      await worker.close();
      await deleteKeysWithPrefix(pipeline.redis, waiting.redis.keyPrefix);
    }
  });
});
