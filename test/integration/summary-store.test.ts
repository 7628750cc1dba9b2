import type { Redis } from 'ioredis';
import { createRedis } from '../../src/clients';
import { SummaryStore } from '../../src/store/summaries';
import { isolatedConfig } from '../support/config';
import { deleteKeysWithPrefix } from '../support/redis';
import { summaryDraft } from '../support/summaries';

const config = isolatedConfig();
let redis: Redis;
let store: SummaryStore;

beforeAll(() => {
  redis = createRedis(config);
  store = new SummaryStore(redis, config.redis.keyPrefix, 3);
});

afterAll(async () => {
  await deleteKeysWithPrefix(redis, config.redis.keyPrefix);
  redis.disconnect();
});

const draft = (headline: string) => summaryDraft('ops', { headline });

describe('SummaryStore (real Redis)', () => {
  it('writes once per idempotency key, however often the call is repeated', async () => {
    const first = await store.put(draft('first'), 'wf/run/0');
    const repeat = await store.put(draft('first, retried'), 'wf/run/0');
    expect(first).toMatchObject({ written: true, summary: { version: 1, headline: 'first' } });
    expect(repeat).toMatchObject({ written: false, summary: { version: 1, headline: 'first' } });
    expect(await store.history('ops', 10)).toHaveLength(1);
  });

  it('versions summaries, serves the latest and keeps a bounded history, newest first', async () => {
    for (const n of [2, 3, 4, 5]) await store.put(draft(`s${n}`), `wf/run/${n}`);
    expect((await store.latest('ops'))?.headline).toBe('s5');
    expect((await store.history('ops', 10)).map((s) => s.version)).toEqual([5, 4, 3]);
    expect(await store.latest('nothing-here')).toBeNull();
  });

  it('announces each new summary on the dashboard channel', async () => {
    const subscriber = redis.duplicate();
    const messages: string[] = [];
    await subscriber.subscribe(store.channel('ops'));
    subscriber.on('message', (_channel, message: string) => messages.push(message));
    try {
      await store.put(draft('announced'), 'wf/run/announce');
      await store.put(draft('announced'), 'wf/run/announce');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(messages.map((m) => JSON.parse(m).headline)).toEqual(['announced']);
    } finally {
      subscriber.disconnect();
    }
  });
});
