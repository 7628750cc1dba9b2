/**
 * A worker's /readyz follows its Temporal connection: the LLM worker (built in-process) reaches Temporal through a
 * relay the test cuts and restores; readiness turns 503 while the frontend is out of reach and 200 once it is back,
 * while /metrics keeps answering. Needs the local stack (scripts/stack.sh up).
 */
import pino from 'pino';
import type { Service } from '../../src/process';
import { buildLlmWorker } from '../../workers/llm';
import { eventually, isolatedConfig } from '../support/config';
import { freePort, Relay } from '../support/net';

const logger = pino({ level: 'silent' });
let relay: Relay;
let worker: Service | null = null;
let port: number;

beforeAll(async () => {
  const base = isolatedConfig();
  const [host, temporalPort] = base.temporal.address.split(':');
  relay = new Relay({ host: host ?? '127.0.0.1', port: Number(temporalPort) });
  const address = await relay.listen();
  port = await freePort();
  const config = isolatedConfig({ TEMPORAL_ADDRESS: address, PRECIS_LLM_WORKER_METRICS_PORT: String(port) });
  worker = await buildLlmWorker(config, logger);
});

afterAll(async () => {
  relay?.heal();
  await worker?.close();
  await relay?.close();
});

async function status(path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
}

function readiness(expected: number) {
  return eventually(
    `/readyz ${expected}`,
    async () => ((await status('/readyz')) === expected ? true : undefined),
    60_000,
    250,
  );
}

it('answers 503 on /readyz while Temporal is out of reach, and 200 again once it is back', async () => {
  await readiness(200);
  relay.partition();
  await readiness(503);
  expect(await status('/metrics')).toBe(200);
  relay.heal();
  await readiness(200);
});
