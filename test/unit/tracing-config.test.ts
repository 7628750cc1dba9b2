import { TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import { loadConfig } from '../../src/config';
import { tracesUrl } from '../../src/tracing/provider';
import { TRACE_HEADER as WORKFLOW_TRACE_HEADER } from '../../workflows/interceptors';

describe('tracing configuration', () => {
  it('is off by default', () => {
    expect(loadConfig({}).tracing).toEqual({ mode: 'off' });
  });

  it('takes the OpenTelemetry endpoint variables', () => {
    const tracing = loadConfig({
      PRECIS_TRACING: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_SERVICE_NAME: 'precis-ingest-eu',
    }).tracing;
    expect(tracing).toMatchObject({ mode: 'otlp', serviceName: 'precis-ingest-eu' });
    // The base endpoint gets the signal's path, as every OpenTelemetry SDK does.
    expect(tracesUrl(tracing)).toBe('http://collector:4318/v1/traces');
  });

  it('uses the traces endpoint as it is, before the base endpoint', () => {
    const tracing = loadConfig({
      PRECIS_TRACING: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/otlp/spans',
    }).tracing;
    expect(tracesUrl(tracing)).toBe('https://traces.example.com/otlp/spans');
  });

  it('defaults to a local collector', () => {
    expect(tracesUrl(loadConfig({ PRECIS_TRACING: 'otlp' }).tracing)).toBe('http://localhost:4318/v1/traces');
  });

  it('fails at start-up naming the variable', () => {
    expect(() => loadConfig({ PRECIS_TRACING: 'jaeger' })).toThrow(/PRECIS_TRACING/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });
});

describe('the workflow interceptors module', () => {
  it("names Temporal's trace header without importing OpenTelemetry", () => {
    expect(WORKFLOW_TRACE_HEADER).toBe(TRACE_HEADER);
  });
});
