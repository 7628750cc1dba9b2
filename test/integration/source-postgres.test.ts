import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../../src/config';
import type { PostgresSource } from '../../src/domain/dashboard';
import { createPostgresConnector, HEARTBEAT_INTERVAL_MS, MAX_ROWS } from '../../src/sources/postgres';
import { collectFailure, collectRequest, TEST_POSTGRES_URL } from '../support/engines';

/**
 * The postgres connector against the real PostgreSQL of scripts/stack.sh (127.0.0.1:55432, database and role
 * precis). Each run works in a schema of its own, dropped at the end.
 */

const schema = `precis_test_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const table = `${schema}.samples`;
const config = loadConfig({ PRECIS_POSTGRES_URLS: JSON.stringify({ default: TEST_POSTGRES_URL }) });
const connector = createPostgresConnector(config.sources);
let admin: Client;

const asOf = new Date('2026-03-04T12:00:00.000Z');
const from = new Date('2026-03-04T11:00:00.000Z');
const window = { asOf, from };

function source(query: string, extra: Partial<PostgresSource> = {}): PostgresSource {
  return { type: 'postgres', database: 'default', query, timeout: '10s', ...extra };
}

beforeAll(async () => {
  admin = new Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(
    `CREATE TABLE ${table} (t timestamptz NOT NULL, v double precision, amount numeric, series text)`,
  );
  // Two series inside the window, one row before it and one at its end (the window is [from, asOf)).
  await admin.query(
    `INSERT INTO ${table} (t, v, amount, series) VALUES
      ('2026-03-04T10:59:00Z', 99, 99.99, 'a'),
      ('2026-03-04T11:10:00Z', 1.5, 10.25, 'a'),
      ('2026-03-04T11:20:00Z', 2.5, 20.50, 'a'),
      ('2026-03-04T11:15:00Z', 7, 12345678901234.5, 'b'),
      ('2026-03-04T12:00:00Z', 42, 42, 'b')`,
  );
});

afterAll(async () => {
  await connector.close();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

async function rowCount(): Promise<number> {
  const result = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(result.rows[0]?.n);
}

describe('postgres source connector (real PostgreSQL)', () => {
  it('reads the rows of the window as series, with $1/$2 bound to the window', async () => {
    const request = collectRequest(window);
    const data = await connector.collect(
      source(`SELECT t, v, series FROM ${table} WHERE t >= $1 AND t < $2 ORDER BY series, t`, { unit: 'ms' }),
      request,
    );
    expect(data).toEqual({
      unit: 'ms',
      series: [
        {
          key: 'a',
          points: [
            { t: '2026-03-04T11:10:00.000Z', v: 1.5 },
            { t: '2026-03-04T11:20:00.000Z', v: 2.5 },
          ],
        },
        { key: 'b', points: [{ t: '2026-03-04T11:15:00.000Z', v: 7 }] },
      ],
    });
    // Before and after the query, so Temporal knows a slow query is still alive.
    expect(request.heartbeats.length).toBeGreaterThanOrEqual(2);
  });

  it('converts numeric and bigint values, which pg returns as strings, to numbers', async () => {
    const data = await connector.collect(
      source(`SELECT t, amount AS v, series FROM ${table} WHERE t >= $1 AND t < $2 ORDER BY t`),
      collectRequest(window),
    );
    expect(data.series).toEqual([
      {
        key: 'a',
        points: [
          { t: '2026-03-04T11:10:00.000Z', v: 10.25 },
          { t: '2026-03-04T11:20:00.000Z', v: 20.5 },
        ],
      },
      { key: 'b', points: [{ t: '2026-03-04T11:15:00.000Z', v: 12345678901234.5 }] },
    ]);
    expect(data).not.toHaveProperty('unit');

    const counted = await connector.collect(
      source(`SELECT max(t) AS t, count(*) AS v FROM ${table} WHERE t >= $1 AND t < $2`),
      collectRequest(window),
    );
    // No series column: one series named after the widget.
    expect(counted.series).toEqual([
      { key: 'engine-widget', points: [{ t: '2026-03-04T11:20:00.000Z', v: 3 }] },
    ]);
  });

  it("reads timestamp without time zone and date as UTC, whatever the worker's zone", () => {
    // pg's default parsers read these types in the local zone. Jest cannot change the zone of its own process,
    // so the connector runs in a child process in a zone far from UTC.
    const cases: [string, string][] = [
      ["'2026-03-04 11:30:00.25'::timestamp", '2026-03-04T11:30:00.250Z'],
      ["'2026-03-05'::date", '2026-03-05T00:00:00.000Z'],
      ["'2026-03-06T00:00:00+02:00'::timestamptz", '2026-03-05T22:00:00.000Z'],
      ["'2026-03-06T00:00:00+02:00'::text", '2026-03-05T22:00:00.000Z'],
      ["'2026-03-06 01:02:03'::text", '2026-03-06T01:02:03.000Z'],
    ];
    const script = `
      (async () => {
        const loaded = await import(${JSON.stringify(path.resolve(__dirname, '../../src/sources/postgres.ts'))});
        const { createPostgresConnector } = loaded.createPostgresConnector ? loaded : loaded.default;
        const connector = createPostgresConnector({ postgresUrls: { default: ${JSON.stringify(TEST_POSTGRES_URL)} } });
        const times = [];
        for (const expression of ${JSON.stringify(cases.map(([expression]) => expression))}) {
          const data = await connector.collect(
            { type: 'postgres', database: 'default', timeout: '10s',
              query: 'SELECT ' + expression + ' AS t, 1 AS v WHERE $1::timestamptz < $2::timestamptz' },
            { widget: { id: 'w' }, asOf: new Date(), from: new Date(0), resolutionMs: 60000, events: [],
              signal: new AbortController().signal, heartbeat: () => {} },
          );
          times.push(data.series[0].points[0].t);
        }
        await connector.close();
        console.log(JSON.stringify({ localNoon: new Date(2026, 2, 4, 12).toISOString(), times }));
      })().catch((error) => { console.error(error); process.exit(1); });
    `;
    const child = spawnSync(path.resolve(__dirname, '../../node_modules/.bin/tsx'), ['-e', script], {
      env: { ...process.env, TZ: 'America/New_York' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.stderr).toBe('');
    const output: { localNoon: string; times: string[] } = JSON.parse(child.stdout);
    // The child really ran five hours behind UTC, so a local-time reading would have shown.
    expect(output.localNoon).toBe('2026-03-04T17:00:00.000Z');
    expect(output.times).toEqual(cases.map(([, expected]) => expected));
  });

  it('keeps NULL, NaN and Infinity values as non-finite numbers for cleaning to count', async () => {
    const data = await connector.collect(
      source(
        `SELECT $1::timestamptz + make_interval(mins => n) AS t, v FROM (VALUES
           (1, NULL::numeric), (2, 'NaN'::numeric), (3, 'Infinity'::numeric), (4, '-5.5'::numeric)) AS x(n, v)
         WHERE $2::timestamptz IS NOT NULL ORDER BY n`,
      ),
      collectRequest(window),
    );
    const values = data.series[0]?.points.map((p) => p.v);
    expect(values).toHaveLength(4);
    expect(values?.[0]).toBeNaN();
    expect(values?.[1]).toBeNaN();
    expect(values?.[2]).toBe(Number.POSITIVE_INFINITY);
    expect(values?.[3]).toBe(-5.5);
  });

  it('refuses writes: the query runs in a READ ONLY transaction', async () => {
    const before = await rowCount();
    const insert = await collectFailure(
      connector,
      source(`INSERT INTO ${table} (t, v, series) VALUES ($1, 1, 'x'), ($2, 2, 'x') RETURNING t, v`),
      collectRequest(window),
    );
    expect(insert.retryable).toBe(false);
    expect(insert.message).toMatch(/cannot execute INSERT in a read-only transaction/);

    const remove = await collectFailure(
      connector,
      source(
        `WITH gone AS (DELETE FROM ${table} WHERE t >= $1 AND t < $2 RETURNING t, v) SELECT t, v FROM gone`,
      ),
      collectRequest(window),
    );
    expect(remove.retryable).toBe(false);
    expect(remove.message).toMatch(/read-only transaction/);
    expect(await rowCount()).toBe(before);
  });

  it('does not let a query change the session for the next one (the transaction is rolled back)', async () => {
    const changed = await connector.collect(
      source(
        `SELECT $1::timestamptz AS t, 1 AS v, set_config('search_path', 'nowhere', false) AS series
         WHERE $2::timestamptz IS NOT NULL`,
      ),
      collectRequest(window),
    );
    expect(changed.series[0]?.key).toBe('nowhere');
    const after = await connector.collect(
      source(
        `SELECT $1::timestamptz AS t, 1 AS v, current_setting('search_path') AS series WHERE $2::timestamptz IS NOT NULL`,
      ),
      collectRequest(window),
    );
    expect(after.series[0]?.key).not.toBe('nowhere');
  });

  it('keeps heartbeating while a slow query runs', async () => {
    const request = collectRequest(window);
    const data = await connector.collect(
      source('SELECT $1::timestamptz AS t, 1 AS v FROM pg_sleep(2.5) WHERE $2::timestamptz IS NOT NULL'),
      request,
    );
    expect(data.series[0]?.points).toHaveLength(1);
    // Before, at least once during (every HEARTBEAT_INTERVAL_MS), and after.
    expect(request.heartbeats.length).toBeGreaterThanOrEqual(3);
    expect(request.heartbeats).toContainEqual({ waiting: 'query' });
    expect(HEARTBEAT_INTERVAL_MS).toBeLessThan(2_500);
  });

  it('stops a query at the source timeout (statement_timeout) with a retryable error', async () => {
    const started = Date.now();
    const error = await collectFailure(
      connector,
      source('SELECT now() AS t, 1 AS v FROM pg_sleep(5) WHERE $1::timestamptz < $2::timestamptz', {
        timeout: '1s',
      }),
      collectRequest(window),
    );
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/longer than 1s \(statement_timeout\)/);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('returns at once when the activity is cancelled, and cancels the statement on the server', async () => {
    const controller = new AbortController();
    const marker = `precis_cancel_${randomBytes(4).toString('hex')}`;
    const started = Date.now();
    setTimeout(() => controller.abort(), 500);
    const error = await collectFailure(
      connector,
      source(
        `SELECT now() AS t, 1 AS v, '${marker}' AS series FROM pg_sleep(30) WHERE $1::timestamptz < $2`,
        {
          timeout: '60s',
        },
      ),
      collectRequest({ ...window, signal: controller.signal }),
    );
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/cancelled/);
    expect(Date.now() - started).toBeLessThan(3_000);
    // The backend must not keep sleeping for 30 s: pg_cancel_backend reaches it within moments.
    const deadline = Date.now() + 5_000;
    let running = 1;
    while (Date.now() < deadline) {
      const result = await admin.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()`,
        [marker],
      );
      running = Number(result.rows[0]?.n);
      if (running === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(running).toBe(0);
  });

  it('reports SQL errors from the database as non-retryable, with its message', async () => {
    const syntax = await collectFailure(
      connector,
      source('SELEC t, v FROM nowhere WHERE $1 < $2'),
      collectRequest(window),
    );
    expect(syntax.retryable).toBe(false);
    expect(syntax.message).toMatch(/syntax error at or near "SELEC"/);

    const missing = await collectFailure(
      connector,
      source(`SELECT t, v FROM ${schema}.no_such_table WHERE t >= $1 AND t < $2`),
      collectRequest(window),
    );
    expect(missing.retryable).toBe(false);
    expect(missing.message).toMatch(/relation ".*no_such_table" does not exist/);

    // The connection that failed went back to the pool clean: the next query works.
    const ok = await connector.collect(
      source(`SELECT t, v FROM ${table} WHERE t >= $1 AND t < $2`),
      collectRequest(window),
    );
    expect(ok.series[0]?.points).toHaveLength(3);
  });

  it('names what is wrong with the shape of the result', async () => {
    const noValue = await collectFailure(
      connector,
      source(`SELECT t, amount FROM ${table} WHERE t >= $1 AND t < $2`),
      collectRequest(window),
    );
    expect(noValue.retryable).toBe(false);
    expect(noValue.message).toMatch(/no column "v"/);

    const badTime = await collectFailure(
      connector,
      source(`SELECT 'yesterday-ish' AS t, 1 AS v WHERE $1::timestamptz < $2::timestamptz`),
      collectRequest(window),
    );
    expect(badTime.retryable).toBe(false);
    expect(badTime.message).toMatch(/row 1: column "t"/);

    const unused = await collectFailure(
      connector,
      source('SELECT now() AS t, 1 AS v'),
      collectRequest(window),
    );
    expect(unused.retryable).toBe(false);
    expect(unused.message).toMatch(/\$1 = window start/);
  });

  it(`refuses more than ${MAX_ROWS} rows without reading them all`, async () => {
    const error = await collectFailure(
      connector,
      source(
        'SELECT $1::timestamptz AS t, g AS v FROM generate_series(1, 5000000) g WHERE $2::timestamptz IS NOT NULL',
      ),
      collectRequest(window),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/more than 100000 rows/);
  });

  it('refuses a connection name that is not configured, naming it', async () => {
    const error = await collectFailure(
      connector,
      source('SELECT 1', { database: 'analytics' }),
      collectRequest(window),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/no PostgreSQL connection named "analytics".*configured: default/);
  });

  it('treats an unreachable server as retryable', async () => {
    const unreachable = createPostgresConnector(
      loadConfig({
        PRECIS_POSTGRES_URLS: JSON.stringify({ default: 'postgres://precis@127.0.0.1:1/precis' }),
      }).sources,
    );
    try {
      const error = await collectFailure(
        unreachable,
        source('SELECT 1 WHERE $1 < $2'),
        collectRequest(window),
      );
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/ECONNREFUSED/);
    } finally {
      await unreachable.close();
    }
  });
});
