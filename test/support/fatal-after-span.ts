/**
 * A precis entry point that dies of a fatal error right after it made a span (test/integration/tracing.test.ts):
 * the span must still reach the collector, flushed before the process exits non-zero.
 */
import { trace } from '@opentelemetry/api';
import { runMain } from '../../src/process';
import { startTracing } from '../../src/tracing/provider';

runMain('fatal-test', async (config, logger) => {
  startTracing(config, 'precis-ingest', logger);
  trace.getTracer('fatal-test').startSpan('precis.before-fatal').end();
  throw new Error('fatal on purpose');
});
