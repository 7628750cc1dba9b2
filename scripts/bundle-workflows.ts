/**
 * Bundles the workflow code once, at build time (`npm run build`), into dist/workflow-bundle.js. A pipeline worker
 * that finds the bundle loads it as it is instead of running webpack at start-up, which starts it faster and keeps
 * webpack's peak memory out of the long-running process.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../src/tracing/temporal';

export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    // Always in the bundle: it traces only runs started with a trace context (workflows/interceptors.ts).
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: console.warn,
      error: console.error,
    },
  });
  const file = join(__dirname, '..', WORKFLOW_BUNDLE_FILE);
  writeFileSync(file, code);
  console.log(`workflow bundle: ${file} (${Math.round(code.length / 1024)} KiB)`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
