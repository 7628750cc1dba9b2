import type { Redis } from 'ioredis';
import { createRedis } from '../../src/clients';
import { buildSummarizer } from '../../src/llm/build';
import { LOCAL_MODEL } from '../../src/summarize/local';
import { demoInputs } from '../grounding-corpus/demo-inputs';
import { isolatedConfig } from '../support/config';
import {
  type ChatRequestInfo,
  type OpenAiTestServer,
  startOpenAiServer,
  summarizeDashboardData,
} from '../support/openai-server';
import { deleteKeysWithPrefix } from '../support/redis';

/**
 * A reply that states the right figures with the wrong direction goes down the ladder like any ungrounded reply:
 * one repair call that names the failed claims, then the next rung, labelled; the summary records its claims.
 */
let server: OpenAiTestServer;
const connections: Redis[] = [];
const prefixes: string[] = [];

beforeAll(async () => {
  server = await startOpenAiServer();
});
afterEach(() => server.reset());
afterAll(async () => {
  const cleaner = connections[0];
  if (cleaner) for (const prefix of prefixes) await deleteKeysWithPrefix(cleaner, prefix);
  for (const redis of connections) redis.disconnect();
  await server.close();
});

function summarizer() {
  const config = isolatedConfig({ OPENAI_API_KEY: 'sk-test', PRECIS_LLM_BASE_URL: server.baseURL });
  prefixes.push(config.redis.keyPrefix);
  const redis = createRedis(config);
  connections.push(redis);
  return buildSummarizer(config, redis);
}

/** The test server's faithful summary with every change's direction flipped ("changed 5%" → "fell 5%"). */
function flipped(request: ChatRequestInfo) {
  const honest = summarizeDashboardData(request.dashboardData);
  const flip = (text: string) =>
    text.replace(
      /changed (-?)(\d[\d.e+-]*)%/g,
      (_m, minus: string, n: string) => `${minus ? 'rose' : 'fell'} ${n}%`,
    );
  return {
    ...honest,
    headline: flip(honest.headline),
    insights: honest.insights.map((i) => ({ ...i, text: flip(i.text) })),
  };
}

const attempt = () => ({ attempt: 99, firstScheduledMs: Date.now(), signal: new AbortController().signal });

async function summarize(input: Parameters<ReturnType<typeof summarizer>['summarize']>[0]) {
  const outcome = await summarizer().summarize(input, attempt());
  if (outcome.kind !== 'summary') throw new Error(`expected a summary, got ${outcome.kind}`);
  return outcome.result;
}

describe('flipped directions on the degradation ladder', () => {
  it('accepts the faithful reply and stores what each claim was bound to', async () => {
    const [input] = await demoInputs('dashboards');
    if (!input) throw new Error('no demo input');
    const result = await summarize(input);
    expect(result).toMatchObject({ model: 'gpt-4o', degraded: false });
    expect(result.content.grounding?.grounded).toBe(true);
    expect(result.content.grounding?.claims).toContainEqual(
      expect.objectContaining({ statistic: 'change % vs previous window', ok: true }),
    );
  });

  it('repairs, then falls back, naming the failed claim; the local rung is grounded too', async () => {
    const [input] = await demoInputs('dashboards');
    if (!input) throw new Error('no demo input');
    const flip = { kind: 'responder' as const, responder: flipped };
    server.enqueue(flip, flip, flip, flip);
    const result = await summarize(input);
    expect(result.model).toBe(LOCAL_MODEL);
    expect(result.degraded).toBe(true);
    expect(result.degradedReason).toMatch(/gpt-4o: ungrounded reply after repair: .*direction disagrees/);
    const repair = server.requests[1]?.body as { messages: { content: string }[] };
    expect(repair.messages[1]?.content).toMatch(/previous reply was rejected \(.*direction disagrees/);
    expect(result.content.grounding?.grounded).toBe(true);
  });
});
