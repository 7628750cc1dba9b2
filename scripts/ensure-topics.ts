/** Creates precis's Kafka topics (called by scripts/stack.sh up; the ingest worker does it too). */
import { createKafka, ensureTopics, warmGroupCoordinator } from '../src/clients';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/log';

async function main(): Promise<void> {
  const config = loadConfig();
  const kafka = createKafka(config, 'setup', createLogger(config, 'setup'));
  await ensureTopics(kafka, config);
  await warmGroupCoordinator(kafka, config.kafka.eventsTopic);
  console.log(
    `topics ready: ${config.kafka.eventsTopic}, ${config.kafka.deadLetterTopic}, ${config.kafka.summariesTopic}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
