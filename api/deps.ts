import { Client, Connection } from '@temporalio/client';
import { createKafka, createProducer, createRedis } from '../src/clients';
import type { Config } from '../src/config';
import { DashboardRegistry } from '../src/domain/registry';
import type { Logger } from '../src/log';
import { SummaryStore } from '../src/store/summaries';
import type { AppDeps } from './context';

export interface ApiResources {
  deps: AppDeps;
  /** Closes every client created here. */
  close(): Promise<void>;
}

/**
 * The API's clients, all connecting lazily: the API starts and serves cached summaries while Temporal or Kafka
 * is down, and /readyz says which one is missing.
 */
export function createApiDeps(config: Config, logger: Logger): ApiResources {
  const registry = DashboardRegistry.fromDirectory(config.dashboardsDir);
  const redis = createRedis(config);
  const subscriber = createRedis(config);
  const store = new SummaryStore(redis, config.redis.keyPrefix, config.redis.summaryHistory);
  const connection = Connection.lazy({ address: config.temporal.address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const kafka = createKafka(config, 'api', logger);
  const producer = createProducer(kafka);
  // Few retries: a readiness probe must answer within its timeout, not keep reconnecting for half a minute.
  const kafkaAdmin = kafka.admin({ retry: { retries: 1 } });
  const deps: AppDeps = {
    config,
    registry,
    store,
    redis,
    subscriber,
    temporal,
    producer,
    kafkaAdmin,
    logger,
  };
  return {
    deps,
    close: async () => {
      const quietly = (work: Promise<unknown>) => work.catch(() => undefined);
      await Promise.all([
        quietly(producer.disconnect()),
        quietly(kafkaAdmin.disconnect()),
        quietly(connection.close()),
      ]);
      subscriber.disconnect();
      redis.disconnect();
    },
  };
}
