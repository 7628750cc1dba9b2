import { Client, Connection } from '@temporalio/client';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { createRedis } from '../../src/clients';
import type { Config } from '../../src/config';
import type { Service } from '../../src/process';
import { SummaryStore } from '../../src/store/summaries';
import { buildLlmWorker } from '../../workers/llm';
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

/** `llm`: also an LLM worker, for runs that call the model. */
export async function startPipeline(
  config: Config,
  options: { llm?: boolean } = {},
): Promise<PipelineUnderTest> {
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const redis = createRedis(config);
  const store = new SummaryStore(redis, config.redis.keyPrefix, 100);
  const workers: Service[] = [await buildPipelineWorker(config, pino({ level: 'error' }))];
  if (options.llm) workers.push(await buildLlmWorker(config, pino({ level: 'error' })));
  return {
    client,
    redis,
    store,
    async close() {
      for (const worker of workers) await worker.close();
      await deleteRunTopics(config);
      await connection.close();
      await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
      redis.disconnect();
    },
  };
}
