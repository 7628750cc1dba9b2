/**
 * Operator commands for the model layer, reading the same configuration (environment) as the workers:
 *
 *   npm run llm -- status [--model gpt-4o]        breaker and quota state of each model, and today's spend
 *   npm run llm -- quota clear [--model gpt-4o]   ends a quota_exhausted hold at once (after raising the quota)
 *
 * Without --model, every model the configuration may call (primary and fallback).
 */
import type { Redis } from 'ioredis';
import { createRedis } from '../src/clients';
import { type Config, loadConfig } from '../src/config';
import { breakerFor, configuredModels, llmEndpoint } from '../src/llm/build';
import { CostLedger } from '../src/llm/cost';

const USAGE = 'usage: precis-llm status [--model NAME] | precis-llm quota clear [--model NAME]';

function modelsOf(args: string[], config: Config): string[] | null {
  const at = args.indexOf('--model');
  if (at < 0) return configuredModels(config);
  const model = args[at + 1];
  return model && !model.startsWith('--') ? [model] : null;
}

/** Runs one command; returns the exit code. Each output line is one JSON object, for people and scripts alike. */
export async function runLlmCli(
  args: string[],
  config: Config,
  redis: Redis,
  print: (line: string) => void,
): Promise<number> {
  const models = modelsOf(args, config);
  const [command, sub] = args.filter((arg, i) => !arg.startsWith('--') && args[i - 1] !== '--model');
  if (!models) {
    print(USAGE);
    return 2;
  }
  const endpoint = llmEndpoint(config);
  if (command === 'status' && sub === undefined) {
    const spent = await new CostLedger(redis, config.redis.keyPrefix).spent('');
    for (const model of models) {
      const state = await breakerFor(config, redis, model).state();
      print(JSON.stringify({ model, endpoint, ...state }));
    }
    print(JSON.stringify({ spentTodayUsd: spent.total, dailyBudgetUsd: config.llm.dailyBudgetUsd }));
    return 0;
  }
  if (command === 'quota' && sub === 'clear') {
    for (const model of models) {
      const cleared = await breakerFor(config, redis, model).clearQuotaExhausted();
      print(JSON.stringify({ model, endpoint, cleared }));
    }
    return 0;
  }
  print(USAGE);
  return 2;
}

if (require.main === module) {
  const config = loadConfig();
  const redis = createRedis(config);
  runLlmCli(process.argv.slice(2), config, redis, (line) => console.log(line))
    .then((code) => {
      process.exitCode = code;
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    })
    .finally(() => redis.disconnect());
}
