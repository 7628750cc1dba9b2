import { type Source, widgetSchema } from '../../src/domain/dashboard';
import { type CollectRequest, type SourceConnector, SourceError } from '../../src/sources/types';

/** The engines scripts/stack.sh starts; override to run the tests against others. */
export const TEST_POSTGRES_URL =
  process.env.PRECIS_TEST_POSTGRES_URL ?? 'postgres://precis@127.0.0.1:55432/precis';
export const TEST_PROMETHEUS_URL = process.env.PRECIS_TEST_PROMETHEUS_URL ?? 'http://127.0.0.1:9090';

/** A collect request for a widget of `resolution`, plus what the connector reported through heartbeat. */
export function collectRequest(
  overrides: Partial<CollectRequest> & { resolution?: string } = {},
): CollectRequest & { heartbeats: unknown[] } {
  const { resolution = '1m', ...rest } = overrides;
  const widget = widgetSchema.parse({
    id: 'engine-widget',
    title: 'Engine',
    resolution,
    source: { type: 'inline' },
  });
  const heartbeats: unknown[] = [];
  const asOf = new Date();
  return {
    widget,
    asOf,
    from: new Date(asOf.getTime() - 3_600_000),
    resolutionMs: 60_000,
    events: [],
    signal: new AbortController().signal,
    heartbeat: (details?: unknown) => {
      heartbeats.push(details);
    },
    heartbeats,
    ...rest,
  };
}

/** The SourceError a collect fails with; any other outcome fails the test. */
export async function collectFailure<S extends Source>(
  connector: SourceConnector<S>,
  source: S,
  request: CollectRequest = collectRequest(),
): Promise<SourceError> {
  try {
    await connector.collect(source, request);
  } catch (error) {
    if (error instanceof SourceError) return error;
    throw error;
  }
  throw new Error('expected collect to fail');
}
