import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { type Config, loadConfig } from '../../src/config';

/**
 * A configuration whose every shared name (topics, consumer group, Redis prefix, task queue, workflow ids) is
 * unique to this test run, so tests never collide with a running precis or with each other.
 */
export function isolatedConfig(env: NodeJS.ProcessEnv = {}): Config & { runId: string } {
  const { runId, env: isolated } = isolatedEnv(env);
  return { ...loadConfig(isolated), runId };
}

/** The environment isolatedConfig reads, for a test that also starts a precis process of its own. */
export function isolatedEnv(env: NodeJS.ProcessEnv = {}): { runId: string; env: Record<string, string> } {
  const runId = `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const isolated: NodeJS.ProcessEnv = {
    PRECIS_TOPIC_EVENTS: `${runId}.dashboard.events`,
    PRECIS_TOPIC_DLQ: `${runId}.dashboard.events.dlq`,
    PRECIS_TOPIC_SUMMARIES: `${runId}.dashboard.summaries`,
    PRECIS_TOPIC_PARTITIONS: '3',
    PRECIS_KAFKA_GROUP_ID: `${runId}-ingest`,
    PRECIS_REDIS_PREFIX: `precis-test:${runId}:`,
    PRECIS_TASK_QUEUE: `${runId}-pipeline`,
    PRECIS_LLM_TASK_QUEUE: `${runId}-llm`,
    PRECIS_INGEST_METRICS_PORT: '0',
    PRECIS_PIPELINE_METRICS_PORT: '0',
    PRECIS_LLM_WORKER_METRICS_PORT: '0',
    PRECIS_WORKFLOW_ID_PREFIX: `${runId}-dashboard-`,
    PRECIS_LOG_LEVEL: 'warn',
    // Workflows complete as soon as nothing is pending, so tests can await their result; tests of the long-lived
    // workflow set their own idle timeout.
    PRECIS_WORKFLOW_IDLE_MS: '0',
    ...env,
  };
  const defined = Object.entries(isolated).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  return { runId, env: Object.fromEntries(defined) };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
  );
}

/** Deletes the Kafka topics a test run created (they are named after its run id). */
export async function deleteRunTopics(config: Config): Promise<void> {
  const kafka = new Kafka({
    clientId: 'precis-test-cleanup',
    brokers: config.kafka.brokers,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((topic) =>
      [config.kafka.eventsTopic, config.kafka.deadLetterTopic, config.kafka.summariesTopic].includes(topic),
    );
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
  } finally {
    await admin.disconnect();
  }
}
