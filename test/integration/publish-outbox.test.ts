/**
 * Storing a summary never waits on Kafka: a version Kafka refuses is parked in the publish outbox, and a drainer
 * publishes it once Kafka takes it again, exactly once (real Kafka, real Redis).
 */

import type { Redis } from 'ioredis';
import type { Consumer, Producer } from 'kafkajs';
import pino from 'pino';
import { createKafka, createProducer, createRedis, ensureTopics } from '../../src/clients';
import { OutboxDrainer, PublishOutbox, publishOrPark } from '../../src/delivery/outbox';
import { SUMMARY_VERSION_HEADER, SummaryPublisher } from '../../src/delivery/publisher';
import { SummaryStore } from '../../src/store/summaries';
import { deleteRunTopics, eventually, isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';
import { summaryDraft } from '../support/summaries';

const config = isolatedConfig();
const silent = { warn: () => undefined, info: () => undefined };
let redis: Redis;
let store: SummaryStore;
let producer: Producer;
let reader: Consumer;
const received: { key: string; version: string }[] = [];

beforeAll(async () => {
  redis = createRedis(config);
  store = new SummaryStore(redis, config.redis.keyPrefix, 10);
  const kafka = createKafka(config, 'outbox-test', pino({ level: 'error' }));
  await ensureTopics(kafka, config, [config.kafka.summariesTopic]);
  producer = createProducer(kafka);
  reader = kafka.consumer({ groupId: `${config.runId}-summaries-reader` });
  await reader.connect();
  await reader.subscribe({ topic: config.kafka.summariesTopic, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      received.push({
        key: message.key?.toString() ?? '',
        version: message.headers?.[SUMMARY_VERSION_HEADER]?.toString() ?? '',
      });
    },
  });
}, 60_000);

afterAll(async () => {
  await reader?.disconnect();
  await producer?.disconnect();
  await deleteRunTopics(config);
  await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
  redis.disconnect();
});

const draft = () => summaryDraft('ops', { eventIds: ['e-1'] });

function newDrainer(outbox: PublishOutbox, publisher: SummaryPublisher): OutboxDrainer {
  return new OutboxDrainer(redis, config.redis.keyPrefix, outbox, store, publisher, silent, {
    intervalMs: 100,
    batch: 10,
    historyDepth: 10,
  });
}

describe('publish outbox', () => {
  it('parks a version Kafka refuses and publishes it once Kafka takes it again, once', async () => {
    const publisher = new SummaryPublisher(
      producer,
      redis,
      config.redis.keyPrefix,
      config.kafka.summariesTopic,
    );
    const outbox = new PublishOutbox(redis, config.redis.keyPrefix);
    const { summary } = await store.put(draft(), 'wf/run/0');

    // A producer that is not connected is refused by kafkajs, as one whose brokers are gone.
    const parked: unknown[] = [];
    const published = await publishOrPark(publisher, outbox, summary, (error) => parked.push(error));
    expect(published).toBe(false);
    expect(parked).toHaveLength(1);
    expect(await outbox.oldest(10)).toEqual([{ dashboardId: 'ops', version: summary.version }]);
    // The summary itself is stored and readable all along.
    expect((await store.latest('ops'))?.version).toBe(summary.version);

    await producer.connect();
    const drainer = newDrainer(outbox, publisher);
    expect(await drainer.drainOnce()).toBe(1);
    expect(await outbox.size()).toBe(0);
    await eventually('the parked version on the summaries topic', async () =>
      received.length > 0 ? true : undefined,
    );
    // Draining again, and publishing the same version again, sends nothing more.
    expect(await drainer.drainOnce()).toBe(0);
    expect(await publishOrPark(publisher, outbox, summary, (error) => parked.push(error))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(received).toEqual([{ key: 'ops', version: String(summary.version) }]);
  }, 60_000);

  it('lets one drainer at a time work through the outbox', async () => {
    const publisher = new SummaryPublisher(
      producer,
      redis,
      config.redis.keyPrefix,
      config.kafka.summariesTopic,
    );
    const outbox = new PublishOutbox(redis, config.redis.keyPrefix);
    const { summary } = await store.put({ ...draft(), eventIds: ['e-2'] }, 'wf/run/1');
    await outbox.add(summary);
    const drainers = [1, 2, 3].map(() => newDrainer(outbox, publisher));
    const counts = await Promise.all(drainers.map((drainer) => drainer.drainOnce()));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1);
    await eventually('the second version on the summaries topic', async () =>
      received.some((r) => r.version === String(summary.version)) ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(received.filter((r) => r.version === String(summary.version))).toHaveLength(1);
  }, 60_000);
});
