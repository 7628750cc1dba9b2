import { DefaultLogger, Runtime } from '@temporalio/worker';

// Integration tests wait on real engines: bundling workflows, consumer-group joins, Temporal runs.
jest.setTimeout(120_000);

// Keep the Temporal worker quiet unless something is wrong. The runtime is a process-wide singleton: a second
// test file in the same process finds it installed already, which is fine.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch (error) {
  if (!/already (been )?(installed|instantiated)/i.test(String(error))) throw error;
}
