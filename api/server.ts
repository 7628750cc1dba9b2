/** The read API's process: builds the app and owns the listening socket. */
import { createRedis } from '../src/clients';
import type { Config } from '../src/config';
import { DashboardRegistry } from '../src/domain/registry';
import type { Logger } from '../src/log';
import { runMain, type Service } from '../src/process';
import { SummaryStore } from '../src/store/summaries';
import { buildApp } from './app';

export async function buildApiServer(config: Config, logger: Logger): Promise<Service> {
  const registry = DashboardRegistry.fromDirectory(config.dashboardsDir);
  const redis = createRedis(config);
  const store = new SummaryStore(redis, config.redis.keyPrefix, config.redis.summaryHistory);
  const app = buildApp({ config, registry, store, redis, logger });
  const address = await app.listen({ host: config.api.host, port: config.api.port });
  logger.info({ address }, 'API listening');
  return {
    close: async () => {
      await app.close();
      redis.disconnect();
    },
  };
}

if (require.main === module) runMain('api', buildApiServer);
