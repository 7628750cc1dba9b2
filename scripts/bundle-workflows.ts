/**
 * Bundles the workflow code once, at build time (`npm run build`), into dist/. A pipeline worker that finds its bundle
 * loads it as it is instead of running webpack at start-up, which starts it faster and keeps webpack's peak memory
 * out of the long-running process.
 *
 * Two bundles, because what a worker evaluates in its workflow sandbox costs memory and CPU on every workflow task:
 * - `workflow-bundle.js`, for workers with tracing off: the workflows alone (1.7 MB of code with its map against
 *   3.6 MB with OpenTelemetry's workflow interceptors). A run started traced is then simply not traced in the
 *   workflow; its commands are the same either way, so it replays on both bundles.
 * - `workflow-bundle-traced.js`, for workers with tracing on: with workflows/interceptors.ts.
 *
 * The SDK requires an inline source map and, for every promise a workflow creates, maps the stack trace it captures
 * through it (for the stack-trace query). Measured under the benchmark's throughput load, that mapping and the map's
 * parsed form were a visible share of the workflow thread's CPU and of the worker's memory, so the inline map is
 * reduced to an empty one and the full map is written beside the bundle (`.js.map`) for people who debug a stack.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../src/tracing/temporal';

export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';
export const TRACED_WORKFLOW_BUNDLE_FILE = 'workflow-bundle-traced.js';

const INLINE_MAP = '//# sourceMappingURL=data:';

const quiet = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: console.warn,
  error: console.error,
};

/** Splits the bundle's inline source map off: the code with an empty inline map, and the full map. */
export function withEmptySourceMap(code: string, file: string): { code: string; map: string } {
  // Found as the SDK finds it when it loads the bundle (worker.js extractSourceMap).
  const at = code.lastIndexOf(INLINE_MAP);
  const base64 = at < 0 ? -1 : code.indexOf('base64,', at);
  if (base64 < 0) throw new Error(`${file}: the workflow bundle has no inline source map`);
  const map = Buffer.from(code.slice(base64 + 'base64,'.length).trim(), 'base64').toString('utf8');
  const empty = JSON.stringify({ version: 3, file, sources: [], names: [], mappings: '' });
  return {
    code: `${code.slice(0, at)}${INLINE_MAP}application/json;base64,${Buffer.from(empty).toString('base64')}\n`,
    map,
  };
}

async function writeBundle(name: string, workflowInterceptorModules: string[]): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    workflowInterceptorModules,
    logger: quiet,
  });
  const file = join(__dirname, '..', name);
  const split = withEmptySourceMap(code, file);
  writeFileSync(file, split.code);
  writeFileSync(`${file}.map`, split.map);
  console.log(
    `workflow bundle: ${file} (${Math.round(split.code.length / 1024)} KiB, map ${Math.round(split.map.length / 1024)} KiB beside it)`,
  );
}

async function main(): Promise<void> {
  await writeBundle(WORKFLOW_BUNDLE_FILE, []);
  await writeBundle(TRACED_WORKFLOW_BUNDLE_FILE, WORKFLOW_INTERCEPTOR_MODULES);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
