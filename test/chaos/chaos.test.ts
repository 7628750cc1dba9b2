/**
 * The chaos suite of issue #10 ("Nothing lost, nothing paid twice"): one precis (four processes) on private engines,
 * and one scenario per fault. Each scenario uses dashboards of its own, produces a few events per dashboard around
 * the fault, and then waits until the invariants hold (see support/invariants.ts), reporting its recovery time.
 * Run with `npm run test:chaos`; one scenario alone with `bash scripts/chaos.sh test -t 'redis'`.
 */
import { randomBytes } from 'node:crypto';
import { sleep } from '../../bench/stats';
import {
  modelOutageChecks,
  probeApi,
  resetBreakers,
  summarizedFromRealData,
  watchBreaker,
} from './support/checks';
import { startEngines, stopEngine } from './support/engines';
import { ChaosHarness, MODEL_DELAY_MS } from './support/harness';
import { awaitRecovery, failures, Workload } from './support/scenario';
import {
  httpDashboard,
  inlineDashboard,
  type ScenarioDashboards,
  scenarioDashboards,
} from './support/workload';

const DASHBOARDS = 4;
const scenarios = {
  pipelineKill: scenarioDashboards('pipeline-kill', DASHBOARDS),
  ingestKill: scenarioDashboards('ingest-kill', DASHBOARDS),
  llmKill: scenarioDashboards('llm-kill', DASHBOARDS),
  modelOutage: scenarioDashboards('model-outage', DASHBOARDS),
  sourceFailure: scenarioDashboards('source-failure', 2),
  redisStop: scenarioDashboards('redis-stop', DASHBOARDS),
  kafkaRestart: scenarioDashboards('kafka-restart', DASHBOARDS),
  temporalRestart: scenarioDashboards('temporal-restart', DASHBOARDS),
} satisfies Record<string, ScenarioDashboards>;

const SCENARIO_TIMEOUT_MS = 240_000;
const LLM_RECOVERY_BOUND_MS = 170_000;
let harness: ChaosHarness;

beforeAll(async () => {
  const runId = `c${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  harness = await ChaosHarness.start({
    runId,
    dashboards: (source) =>
      Object.values(scenarios).flatMap(({ scenario, ids }) =>
        ids.map((id) =>
          scenario === 'source-failure' ? httpDashboard(id, source.url(`/${id}`)) : inlineDashboard(id),
        ),
      ),
    env: {
      // Short enough that a degraded summary is upgraded, and an open breaker probes, within the scenario.
      PRECIS_LLM_UPGRADE_DELAYS_MS: '5000,10000,20000',
      PRECIS_BREAKER_COOLDOWN_MS: '5000',
      // The outage scenario is small (a few dashboards): the breaker's minimum request count is sized to it, so that
      // whether it opens does not depend on how many 500s happen to fall inside one window on a busy machine.
      PRECIS_BREAKER_MIN_REQUESTS: '4',
    },
  });
}, 300_000);

afterAll(async () => {
  await harness?.close();
}, 120_000);

beforeEach(async () => {
  // A scenario starts from a whole precis, even if the previous one left a process dead (that is in its notes).
  await harness.reviveCrashed();
}, 120_000);

describe('chaos: precis keeps every event and pays for every model call once', () => {
  it(
    'SIGKILL of the pipeline worker mid-run',
    async () => {
      const load = new Workload(harness, scenarios.pipelineKill);
      await load.wave();
      await load.invalid();
      // Killed as the first model answer arrives: the workflow task that stores and publishes that summary runs on
      // the pipeline worker right then.
      const ids = scenarios.pipelineKill.ids;
      const answered = () => harness.model.calls.some((call) => ids.includes(call.dashboardId ?? ''));
      const deadline = Date.now() + 60_000;
      while (!answered() && Date.now() < deadline) await sleep(20);
      await sleep(30);
      const startedAt = Date.now();
      await harness.kill('pipeline');
      await load.wave();
      await harness.restart('pipeline');
      const endedAt = Date.now();
      await load.wave();
      const result = await awaitRecovery(harness, scenarios.pipelineKill, { startedAt, endedAt });
      expect(failures(result)).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'SIGKILL of the ingest consumer between hand-over and commit',
    async () => {
      const load = new Workload(harness, scenarios.ingestKill);
      // Events flowing while the consumer dies: killed as soon as its first hand-over reached Temporal (a workflow
      // of the scenario exists), before or just after it commits the offsets of that batch.
      const flowing = (async () => {
        for (let i = 0; i < 4; i++) await load.wave(50);
      })();
      const deadline = Date.now() + 60_000;
      while (!(await harness.anyWorkflow(scenarios.ingestKill.ids)) && Date.now() < deadline) await sleep(10);
      const startedAt = Date.now();
      await harness.kill('ingest');
      const notes = [await harness.committedAtKill()];
      await flowing;
      await load.invalid();
      await harness.restart('ingest');
      const endedAt = Date.now();
      await load.wave();
      const result = await awaitRecovery(
        harness,
        scenarios.ingestKill,
        { startedAt, endedAt },
        undefined,
        notes,
      );
      expect(failures(result)).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'SIGKILL of the LLM worker during a model call',
    async () => {
      const load = new Workload(harness, scenarios.llmKill);
      harness.model.setDelay(8_000);
      await load.wave();
      await load.invalid();
      const ids = scenarios.llmKill.ids;
      const inFlight = async () =>
        harness.model.server.requests.some(
          (r) => r.outcome.type === 'pending' && ids.some((id) => r.rawBody.includes(id)),
        );
      const deadline = Date.now() + 60_000;
      while (!(await inFlight()) && Date.now() < deadline) await sleep(100);
      const notes = (await inFlight()) ? [] : ['no model call was in flight when the worker was killed'];
      const startedAt = Date.now();
      await harness.kill('llm');
      harness.model.setDelay(MODEL_DELAY_MS);
      await harness.restart('llm');
      const endedAt = Date.now();
      await load.wave();
      // A longer bound: a call lost with its worker is retried only after the activity's timeout, which is measured.
      const result = await awaitRecovery(
        harness,
        scenarios.llmKill,
        { startedAt, endedAt },
        undefined,
        notes,
        LLM_RECOVERY_BOUND_MS,
      );
      expect(failures(result)).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'model outage (500s, then 429s) for 30 s',
    async () => {
      const load = new Workload(harness, scenarios.modelOutage);
      await resetBreakers(harness.redis, harness.stack.config.redis.keyPrefix);
      const breaker = watchBreaker(harness.redis, harness.stack.config.redis.keyPrefix);
      const startedAt = Date.now();
      harness.model.server.setDefaultFault({ kind: 'status', status: 500 });
      await load.wave();
      await load.invalid();
      await sleep(8_000);
      await load.wave();
      await sleep(7_000);
      harness.model.server.setDefaultFault({ kind: 'status', status: 429, retryAfterSeconds: 1 });
      await load.wave();
      await sleep(15_000);
      harness.model.setDelay(MODEL_DELAY_MS);
      const endedAt = Date.now();
      const breakerVerdict = await breaker.stop();
      const result = await awaitRecovery(harness, scenarios.modelOutage, { startedAt, endedAt }, () =>
        modelOutageChecks(harness, scenarios.modelOutage.ids, { startedAt, endedAt }, breakerVerdict),
      );
      expect(failures(result)).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'every source of a dashboard fails for a while, then recovers',
    async () => {
      const load = new Workload(harness, scenarios.sourceFailure, false);
      const startedAt = Date.now();
      harness.source.setFailing(true);
      await load.wave();
      await load.invalid();
      await sleep(10_000);
      await load.wave();
      await sleep(10_000);
      harness.source.setFailing(false);
      const endedAt = Date.now();
      // No event after the recovery: precis itself must come back for the data it could not collect.
      const result = await awaitRecovery(harness, scenarios.sourceFailure, { startedAt, endedAt }, () =>
        summarizedFromRealData(harness, scenarios.sourceFailure.ids),
      );
      expect(failures(result)).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'Redis stopped for 10 s: the API answers 503 with Retry-After, workers retry, all catches up',
    async () => {
      const load = new Workload(harness, scenarios.redisStop);
      await load.wave();
      await load.invalid();
      await harness.awaitSummaries(scenarios.redisStop.ids, 60_000);
      const probe = probeApi(harness, scenarios.redisStop.ids);
      const startedAt = Date.now();
      await stopEngine('redis');
      await load.wave();
      await sleep(Math.max(0, 10_000 - (Date.now() - startedAt)));
      await startEngines();
      const endedAt = Date.now();
      await sleep(2_000);
      const apiVerdict = await probe.stop();
      await load.wave();
      const result = await awaitRecovery(harness, scenarios.redisStop, { startedAt, endedAt }, async () => ({
        api503WithRetryAfter: apiVerdict,
      }));
      expect(failures(result)).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'Kafka broker restarted under load',
    async () => {
      const load = new Workload(harness, scenarios.kafkaRestart);
      await load.invalid();
      const flowing = (async () => {
        for (let i = 0; i < 4; i++) await load.wave(150);
      })();
      await sleep(800);
      const startedAt = Date.now();
      await stopEngine('kafka');
      await sleep(2_000);
      await startEngines();
      const endedAt = Date.now();
      await flowing;
      await load.wave();
      const result = await awaitRecovery(harness, scenarios.kafkaRestart, { startedAt, endedAt });
      expect(failures(result)).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'Temporal dev server restarted on the same database file',
    async () => {
      const load = new Workload(harness, scenarios.temporalRestart);
      await load.wave();
      await load.invalid();
      await sleep(1_000);
      const startedAt = Date.now();
      await stopEngine('temporal');
      await load.wave();
      await sleep(3_000);
      await startEngines();
      const endedAt = Date.now();
      await load.wave();
      const result = await awaitRecovery(harness, scenarios.temporalRestart, { startedAt, endedAt });
      expect(failures(result)).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );
});
