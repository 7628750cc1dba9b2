/** Creates precis's Kafka topics (called by scripts/stack.sh up; the ingest worker does it too). */
import { createKafka, ensureTopics } from '../src/clients';
import { loadConfig } from '../src/config';

async function main(): Promise<void> {
  const config = loadConfig();
  await ensureTopics(createKafka(config, 'setup'), config);
  console.log(
    `topics ready: ${config.kafka.eventsTopic}, ${config.kafka.deadLetterTopic}, ${config.kafka.summariesTopic}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
