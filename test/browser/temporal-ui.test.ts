/**
 * The Temporal UI tells a dashboard's runs apart, seen in a real browser: Debian's Chromium driven by playwright-core
 * against the dev server's UI (scripts/stack.sh up; TEMPORAL_UI_PORT, default 8233). The runs are made by the real
 * pipeline and LLM workers, with the project's OpenAI-compatible test server as the model, for a dashboard of this
 * test's own (so that `DashboardId="..."` lists only its runs): one summary made by the model, one run that only
 * confirmed it (unchanged data), and one still open, waiting out a long quiet period.
 *
 * Screenshots land in test-output/browser/ (gitignored).
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { Dashboard } from '../../src/domain/dashboard';
import { DashboardRegistry } from '../../src/domain/registry';
import { dashboardWorkflowId, signalDashboard } from '../../src/ingest/starter';
import type { SummaryStore } from '../../src/store/summaries';
import type { dashboardWorkflow } from '../../workflows/dashboard';
import { isolatedConfig } from '../support/config';
import { type OpenAiTestServer, startOpenAiServer } from '../support/openai-server';
import { type PipelineUnderTest, startPipeline } from '../support/pipeline';

const CHROMIUM = process.env.PRECIS_CHROMIUM ?? '/usr/bin/chromium';
const UI = `http://127.0.0.1:${process.env.TEMPORAL_UI_PORT ?? '8233'}`;
const SCREENSHOTS = join(__dirname, '..', '..', 'test-output', 'browser');
/** The default columns of the UI's workflow list, plus precis's search attributes (what "Configure columns" adds). */
const COLUMNS = [
  'Status',
  'Workflow ID',
  'PrecisOutcome',
  'PrecisHeadline',
  'PrecisModel',
  'PrecisCostUsd',
  'Start',
];

let server: OpenAiTestServer;
let dashboardsDir: string;
let config: ReturnType<typeof isolatedConfig>;
let dashboard: Dashboard;
let pipeline: PipelineUnderTest;
let client: Client;
let store: SummaryStore;
let browser: Browser;
let page: Page;

/** A copy of the demo dashboard sre-checkout under an id unique to this run, with no refresh policy of its own. */
function dashboardOfThisRun(runId: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'precis-browser-'));
  const id = `ui-${runId}`;
  const source = readFileSync(join('dashboards', 'sre-checkout.yaml'), 'utf8')
    .replace(/^id: .*$/m, `id: ${id}`)
    .replace(/^refresh: .*$/m, '');
  writeFileSync(join(dir, `${id}.yaml`), source);
  // The registry must know every dashboard a run names; the others are not needed.
  copyFileSync(join('dashboards', 'sre-checkout.yaml'), join(dir, 'sre-checkout.yaml'));
  return dir;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: bash scripts/install.sh chromium`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startOpenAiServer();
  const runId = `${Date.now().toString(36)}`;
  dashboardsDir = dashboardOfThisRun(runId);
  config = isolatedConfig({
    OPENAI_API_KEY: 'sk-test',
    PRECIS_LLM_BASE_URL: server.baseURL,
    PRECIS_DASHBOARDS_DIR: dashboardsDir,
    PRECIS_QUIET_PERIOD_MS: '0',
  });
  const found = DashboardRegistry.fromDirectory(dashboardsDir).get(`ui-${runId}`);
  if (!found) throw new Error('the test dashboard did not load');
  dashboard = found;
  // The real pipeline, and an LLM worker for the model's summaries.
  pipeline = await startPipeline(config, { llm: true });
  ({ client, store } = pipeline);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 2200, height: 1000 } });
  // The UI keeps the list's columns per namespace in local storage; this is what "Configure columns" writes.
  const columns = JSON.stringify({ default: COLUMNS.map((label) => ({ label })) });
  await context.addInitScript({
    content: `localStorage.setItem('namespace-workflow-table-columns', ${JSON.stringify(columns)});`,
  });
  page = await context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await pipeline?.close();
  await server?.close();
  if (dashboardsDir) rmSync(dashboardsDir, { recursive: true, force: true });
});

type Handle = WorkflowHandle<typeof dashboardWorkflow>;

async function runToCompletion(eventId: string): Promise<{ handle: Handle; runId: string }> {
  await signalDashboard(client, config, dashboard, [{ eventId, occurredAt: new Date().toISOString() }]);
  const handle: Handle = client.workflow.getHandle(dashboardWorkflowId(config, dashboard.id));
  await handle.result();
  return { handle, runId: (await handle.describe()).runId };
}

/** The text of the page and of its frames: the UI renders markdown (summary, details) in sandboxed frames. */
async function pageText(): Promise<string> {
  const texts = await Promise.all(
    page.frames().map((frame) =>
      frame
        .locator('body')
        // biome-ignore lint/performance/useDomNodeTextContent: the text as shown (what a reader sees) is under test
        .innerText({ timeout: 1000 })
        .catch(() => ''),
    ),
  );
  return texts.join('\n');
}

/** The page's visible text, once it contains every one of `expected` (the UI loads lists and panels lazily). */
async function textWith(expected: string[], timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  // Polled from here: the UI's content security policy forbids evaluating code in the page.
  while (Date.now() < deadline) {
    text = await pageText();
    if (expected.every((wanted) => text.includes(wanted))) return text;
    await page.waitForTimeout(250);
  }
  const missing = expected.filter((wanted) => !text.includes(wanted));
  throw new Error(`the page never showed ${JSON.stringify(missing)}; it shows:\n${text.slice(0, 3000)}`);
}

let open: Handle | undefined;

afterAll(async () => {
  // The open run would otherwise wait out its quiet period with no worker.
  await open?.terminate('browser test done').catch(() => undefined);
});

/** Opens a page of the UI (it keeps connections open: "load" may never come) and returns its text. */
async function visit(path: string, expected: string[], screenshot: string): Promise<string> {
  await page.goto(`${UI}${path}`, { waitUntil: 'domcontentloaded' });
  const text = await textWith(expected);
  await page.screenshot({ path: join(SCREENSHOTS, screenshot), fullPage: true });
  return text;
}

function runPath(runId: string, tab: 'history' | 'user-metadata'): string {
  const workflowId = encodeURIComponent(dashboardWorkflowId(config, dashboard.id));
  return `/namespaces/default/workflows/${workflowId}/${runId}/${tab}`;
}

describe('the Temporal UI', () => {
  let calledRunId: string;

  it('lists a dashboard runs by DashboardId, each with its status, outcome and headline', async () => {
    const called = await runToCompletion('browser-1');
    calledRunId = called.runId;
    expect((await called.handle.result()).latest?.outcome).toBe('called');
    const confirmed = await runToCompletion('browser-2');
    expect(['unchanged', 'immaterial']).toContain((await confirmed.handle.result()).latest?.outcome);
    // A third run stays open: a long quiet period (the dashboard has none of its own, so the start sets it).
    await signalDashboard(
      client,
      config,
      { ...dashboard, refresh: { quietPeriod: '10m', maxDelay: '15m' } },
      [{ eventId: 'browser-3', occurredAt: new Date().toISOString() }],
    );
    open = client.workflow.getHandle(dashboardWorkflowId(config, dashboard.id));
    const summary = await store.latest(dashboard.id);
    if (!summary) throw new Error('no summary stored');

    const query = `DashboardId="${dashboard.id}"`;
    const text = await visit(
      `/namespaces/default/workflows?query=${encodeURIComponent(query)}`,
      ['Running', 'Completed', 'called', 'unchanged', 'gpt-4o', summary.headline.slice(0, 60)],
      'runs-by-dashboard.png',
    );
    // Exactly this dashboard's three runs.
    expect(text.match(/Select Workflow /g)).toHaveLength(3);
  });

  it('shows a run: its result names the outcome and headline, every step has a summary', async () => {
    const summary = await store.latest(dashboard.id);
    if (!summary) throw new Error('no summary stored');
    const text = await visit(
      runPath(calledRunId, 'history'),
      [
        '"outcome": "called"',
        summary.headline.slice(0, 60),
        'summarize 3 widgets with gpt-4o',
        'store and publish the summary by gpt-4o',
      ],
      'run-history.png',
    );
    expect(text).toContain(`plan the summary of ${dashboard.id} and collect its widgets`);
  });

  it('shows a run static summary and details, and its steps with their summaries', async () => {
    await visit(
      runPath(calledRunId, 'user-metadata'),
      [
        `Summarize dashboard ${dashboard.title}`,
        'Widget',
        'Source',
        ...dashboard.widgets.map((w) => w.title),
        'Events with Metadata',
        'plan the summary of',
        'clean and enrich 3 widgets',
      ],
      'run-user-metadata.png',
    );
  });

  it('shows what an open run is doing now (current details)', async () => {
    if (!open) throw new Error('the first test starts the open run');
    const { runId } = await open.describe();
    await visit(
      runPath(runId, 'user-metadata'),
      ['Current Details', 'waiting for the quiet period until', 'Pending events: 1', 'Latest summary:'],
      'run-current-details.png',
    );
  });
});
