/** The read API's process: builds the app and owns the listening socket. */
import type { Config } from '../src/config';
import type { Logger } from '../src/log';
import { runMain, type Service } from '../src/process';
import { startTracing } from '../src/tracing/provider';
import { buildApp } from './app';
import { createApiDeps } from './deps';

export async function buildApiServer(config: Config, logger: Logger): Promise<Service> {
  const tracing = startTracing(config, 'precis-api', logger);
  const resources = createApiDeps(config, logger);
  try {
    const app = buildApp(resources.deps);
    const address = await app.listen({ host: config.api.host, port: config.api.port });
    logger.info(
      { address, auth: config.api.auth, keys: config.api.keys.map((key) => key.id) },
      'API listening',
    );
    return {
      close: async () => {
        await app.close();
        await resources.close();
        await tracing.shutdown();
      },
    };
  } catch (error) {
    await resources.close();
    await tracing.shutdown();
    throw error;
  }
}

if (require.main === module) runMain('api', buildApiServer);
