import type { Config } from '../config';
import type { Source, Widget } from '../domain/dashboard';
import { createDemoConnector } from './demo';
import { createHttpConnector } from './http';
import { createInlineConnector } from './inline';
import { createPostgresConnector } from './postgres';
import { createPrometheusConnector } from './prometheus';
import type { CollectRequest, SourceConnector, WidgetData } from './types';

/** One connector per source type, each typed for its own source configuration. */
export type Connectors = { [K in Source['type']]: SourceConnector<Extract<Source, { type: K }>> };

/** Builds every connector once per worker, with the configuration (allow-lists, servers) it needs. */
export function createConnectors(config: Config): Connectors {
  return {
    demo: createDemoConnector(),
    inline: createInlineConnector(),
    http: createHttpConnector(config.sources),
    prometheus: createPrometheusConnector(config.sources),
    postgres: createPostgresConnector(config.sources),
  };
}

export async function closeConnectors(connectors: Connectors): Promise<void> {
  await Promise.all(Object.values(connectors).map((connector) => connector.close?.()));
}

/** Dispatches to the widget's connector; the switch keeps each source paired with its own connector type. */
export function collectWidgetData(
  connectors: Connectors,
  widget: Widget,
  request: CollectRequest,
): Promise<WidgetData> {
  const source = widget.source;
  switch (source.type) {
    case 'demo':
      return connectors.demo.collect(source, request);
    case 'inline':
      return connectors.inline.collect(source, request);
    case 'http':
      return connectors.http.collect(source, request);
    case 'prometheus':
      return connectors.prometheus.collect(source, request);
    case 'postgres':
      return connectors.postgres.collect(source, request);
  }
}
