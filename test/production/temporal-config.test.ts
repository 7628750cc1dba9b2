/**
 * The Temporal server configuration docker-compose.yml mounts (deploy/compose/temporal/server.yaml.tmpl) renders,
 * with the compose deployment's environment, into the cluster it promises: the server binary of the native
 * production stack (scripts/install.sh temporal-server) loads it with its own loader (`render-config`), so a
 * template or key error fails here rather than in a container. Part of the opt-in production suite.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');

/** Where scripts/install.sh builds it (scripts/lib.sh: TEMPORAL_SERVER_DIR), for the version pinned in go.mod. */
function serverBinary(): string {
  const goMod = readFileSync(join(root, 'scripts/production/temporal/go.mod'), 'utf8');
  const version = /^\s*go\.temporal\.io\/server (v\S+)/m.exec(goMod)?.[1];
  if (!version) throw new Error('no go.temporal.io/server version in scripts/production/temporal/go.mod');
  const cache =
    process.env.PRECIS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'precis');
  return join(cache, `temporal-server-${version}`, 'temporal-server');
}

test("the compose deployment's server config renders into a PostgreSQL cluster with 4 history shards", () => {
  const configDir = mkdtempSync(join(tmpdir(), 'precis-temporal-config-'));
  try {
    symlinkSync(join(root, 'deploy/compose/temporal/server.yaml.tmpl'), join(configDir, 'production.yaml'));
    // The environment docker-compose.yml gives the `temporal` service, nothing from the host's.
    const env = {
      PATH: process.env.PATH ?? '',
      TEMPORAL_POSTGRES_HOST: 'postgres',
      TEMPORAL_POSTGRES_PORT: '5432',
      TEMPORAL_POSTGRES_USER: 'temporal',
      TEMPORAL_POSTGRES_PASSWORD: 'secret',
      TEMPORAL_BIND_IP: '0.0.0.0',
      TEMPORAL_BROADCAST_ADDRESS: '172.18.0.5',
      TEMPORAL_DYNAMIC_CONFIG: '/etc/precis/temporal/dynamicconfig.yaml',
    };
    const result = spawnSync(
      serverBinary(),
      ['--root', '/', '--config', configDir, '--env', 'production', 'render-config'],
      { env, encoding: 'utf8' },
    );
    expect(result.error).toBeUndefined();
    expect(result.stderr).not.toMatch(/Unable to load configuration/);
    expect(result.status).toBe(0);
    const rendered = result.stdout;
    expect(rendered).toMatch(/numHistoryShards: 4\b/);
    expect(rendered.match(/pluginName: postgres12/g)).toHaveLength(2);
    expect(rendered.match(/connectAddr: postgres:5432/g)).toHaveLength(2);
    expect(rendered).toMatch(/databaseName: temporal_visibility/);
    expect(rendered).toMatch(/broadcastAddress: 172\.18\.0\.5/);
    expect(rendered).toMatch(/grpcPort: 7233/);
    expect(rendered).toMatch(/filepath: \/etc\/precis\/temporal\/dynamicconfig\.yaml/);
    // The password reaches the config (masked when printed), never a default.
    expect(rendered).toMatch(/password: '\*+'/);
  } finally {
    rmSync(configDir, { recursive: true, force: true });
  }
});

test('the dynamic configuration passes the server’s own validation (known keys, right types)', () => {
  const result = spawnSync(
    serverBinary(),
    ['validate-dynamic-config', join(root, 'deploy/compose/temporal/dynamicconfig.yaml')],
    { encoding: 'utf8' },
  );
  expect(result.error).toBeUndefined();
  expect(result.status).toBe(0);
  expect(result.stdout + result.stderr).not.toMatch(/warning|error/i);
});
