import { Client, Connection } from '@temporalio/client';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { createRedis } from '../../src/clients';
import type { Config } from '../../src/config';
import type { Service } from '../../src/process';
import { SummaryStore } from '../../src/store/summaries';
import { buildPipelineWorker } from '../../workers/pipeline';
import { deleteRunTopics } from './config';
import { deleteKeysWithPrefix } from './redis';

/** A pipeline worker on a test's own configuration, with the clients a test reads its results through. */
export interface PipelineUnderTest {
  client: Client;
  redis: Redis;
  store: SummaryStore;
  /** Stops the worker and removes everything the test run made (topics, Redis keys). */
  close(): Promise<void>;
}

export async function startPipeline(config: Config): Promise<PipelineUnderTest> {
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const redis = createRedis(config);
  const store = new SummaryStore(redis, config.redis.keyPrefix, 100);
  const worker: Service = await buildPipelineWorker(config, pino({ level: 'error' }));
  return {
    client,
    redis,
    store,
    async close() {
      await worker.close();
      await deleteRunTopics(config);
      await connection.close();
      await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
      redis.disconnect();
    },
  };
}
