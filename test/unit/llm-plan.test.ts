import { loadConfig } from '../../src/config';
import { llmPlan, modelTimeouts } from '../../src/llm/plan';

const llm = (env: NodeJS.ProcessEnv = {}) => loadConfig({ OPENAI_API_KEY: 'sk-test', ...env }).llm;

describe('model activity timeouts', () => {
  it('give one attempt room for its own worst case: every rung, call and repair, each after a limiter wait', () => {
    const { startToCloseMs, scheduleToCloseMs, heartbeatTimeoutMs } = modelTimeouts(llm());
    // Defaults: 2 rungs × 2 calls × (30 s call timeout + 10 s limiter wait) = 160 s of calls alone (2 min before).
    expect(startToCloseMs).toBeGreaterThanOrEqual(2 * 2 * (30_000 + 10_000));
    // The attempt begun last, just before the retry budget ran out, may still walk the whole ladder.
    expect(scheduleToCloseMs).toBeGreaterThanOrEqual(120_000 + startToCloseMs);
    expect(heartbeatTimeoutMs).toBe(15_000);
  });

  it('grow with the call timeout, the limiter wait and the number of rungs', () => {
    const base = modelTimeouts(llm()).startToCloseMs;
    expect(modelTimeouts(llm({ PRECIS_LLM_TIMEOUT_MS: '60000' })).startToCloseMs).toBeGreaterThan(base);
    expect(modelTimeouts(llm({ PRECIS_LLM_LIMITER_MAX_WAIT_MS: '30000' })).startToCloseMs).toBeGreaterThan(
      base,
    );
    expect(modelTimeouts(llm({ PRECIS_LLM_FALLBACK_MODEL: 'none' })).startToCloseMs).toBeLessThan(base);
    expect(modelTimeouts(llm({ PRECIS_LLM_MAX_RETRY_MS: '600000' })).scheduleToCloseMs).toBeGreaterThan(
      modelTimeouts(llm()).scheduleToCloseMs,
    );
    // Fewer attempts than the retry time allows bound the retrying instead.
    const oneAttempt = modelTimeouts(
      llm({ PRECIS_LLM_PRIMARY_ATTEMPTS: '1', PRECIS_LLM_MAX_RETRY_MS: '3600000' }),
    );
    expect(oneAttempt.scheduleToCloseMs).toBeLessThan(3_600_000);
  });

  it('travel in the plan the workflow schedules the model activity with', () => {
    const config = loadConfig({ OPENAI_API_KEY: 'sk-test', PRECIS_LLM_HEARTBEAT_TIMEOUT_MS: '5000' });
    expect(llmPlan(config)).toMatchObject({ ...modelTimeouts(config.llm), heartbeatTimeoutMs: 5000 });
  });
});
