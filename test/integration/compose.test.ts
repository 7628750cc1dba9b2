/**
 * docker-compose.yml without a Docker engine: scripts/production/compose-check.sh loads it with compose-go (the
 * library `docker compose` uses: compose-spec schema, interpolation) and checks precis's rules; promtool checks the
 * Prometheus configuration it mounts. Each rule is also shown to fail on a compose file that breaks it, so that a
 * checker that accepts everything fails this test.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

const root = resolve(__dirname, '../..');
const checker = join(root, 'scripts/production/compose-check.sh');
const composeFile = join(root, 'docker-compose.yml');

/** The variables docker-compose.yml requires (`${VAR:?message}`), with valid values. */
const required: Record<string, string> = {
  PRECIS_API_KEYS: JSON.stringify([{ id: 'ops', sha256: 'a'.repeat(64), scopes: ['read'] }]),
  POSTGRES_PASSWORD: 'compose-test',
  GRAFANA_ADMIN_PASSWORD: 'compose-test',
};

interface CheckResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the checker with the host's environment minus anything compose interpolates, plus `env`. */
function check(env: Record<string, string>, args: string[] = []): CheckResult {
  const base: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(PRECIS_|OPENAI_|TEMPORAL_|POSTGRES_|GRAFANA_|KAFKA_)/.test(name)) base[name] = value;
  }
  const result = spawnSync('bash', [checker, ...args], { env: { ...base, ...env }, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface ComposeDocument {
  services: Record<string, Record<string, unknown>>;
}

let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'precis-compose-'));
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** Checks a copy of docker-compose.yml changed by `edit` (anchors resolved), in the repository's project folder. */
function checkEdited(edit: (doc: ComposeDocument) => void): CheckResult {
  const doc = parse(readFileSync(composeFile, 'utf8'), { merge: true, maxAliasCount: -1 }) as ComposeDocument;
  edit(doc);
  const file = join(scratch, `compose-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, stringify(doc, { aliasDuplicateObjects: false }));
  return check(required, ['-project-directory', root, file]);
}

test('with the required variables set, the compose file is valid and runs every part of precis', () => {
  const result = check(required);
  expect(result.status).toBe(0);
  const summary = JSON.parse(result.stdout) as { services: string[]; processes: string[]; builtBy: string };
  expect(summary.processes).toEqual(['api', 'ingest', 'llm-worker', 'pipeline-worker']);
  expect(summary.services).toEqual(
    expect.arrayContaining([
      'temporal',
      'temporal-schema',
      'temporal-setup',
      'temporal-ui',
      'postgres',
      'kafka',
      'redis',
      'prometheus',
      'grafana',
      'precis-setup',
    ]),
  );
  expect(summary.builtBy).toBe('precis-setup');
});

test.each(Object.keys(required))('without %s, loading fails up front and names the variable', (name) => {
  const env = { ...required };
  delete env[name];
  const result = check(env);
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain(`required variable ${name} is missing a value: set ${name}`);
});

test('the compose-spec schema is enforced', () => {
  const result = checkEdited((doc) => {
    const redis = doc.services.redis;
    if (redis) redis.helthcheck = { test: ['CMD', 'true'] };
  });
  expect(result.status).not.toBe(0);
  expect(result.stderr).toMatch(/services\.redis.*helthcheck/);
});

test('a worker with a fixed host port is refused (it could not scale)', () => {
  const result = checkEdited((doc) => {
    const worker = doc.services['pipeline-worker'];
    if (worker) worker.ports = ['9465:9465'];
  });
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain('pipeline-worker: publishes host ports');
});

test('a process whose health check does not ask its /readyz is refused', () => {
  const result = checkEdited((doc) => {
    const worker = doc.services['llm-worker'];
    if (worker) worker.healthcheck = { test: ['CMD', 'true'] };
  });
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain('llm-worker: health check');
});

test('a process on another image than the one built is refused', () => {
  const result = checkEdited((doc) => {
    const ingest = doc.services.ingest;
    if (ingest) ingest.image = 'precis:other';
  });
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain('ingest: image "precis:other"');
});

test('a process that does not receive the model settings is refused', () => {
  const result = checkEdited((doc) => {
    const api = doc.services.api as { environment?: Record<string, unknown> } | undefined;
    if (api?.environment) delete api.environment.PRECIS_LLM_BASE_URL;
  });
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain('api: PRECIS_LLM_BASE_URL is not passed through');
});

test("Prometheus's configuration passes promtool", () => {
  const result = spawnSync('promtool', ['check', 'config', join(root, 'deploy/prometheus/prometheus.yml')], {
    encoding: 'utf8',
  });
  expect(result.error).toBeUndefined();
  expect(result.stdout + result.stderr).toContain('SUCCESS');
  expect(result.status).toBe(0);
});
