import { Client, DatabaseError, type FieldDef, Pool, type PoolClient, Query, TypeOverrides } from 'pg';
import type { Config } from '../config';
import { durationMs, type PostgresSource } from '../domain/dashboard';
import type { Point } from '../domain/event';
import { previewValue } from '../pipeline/redact';
import {
  type CollectRequest,
  type SeriesData,
  type SourceConnector,
  SourceError,
  type WidgetData,
} from './types';

/** More rows than any widget can show; a bigger answer is a missing GROUP BY or a runaway query. */
export const MAX_ROWS = 100_000;
/** Connections per named database: a few widgets at once, without crowding a shared server. */
const POOL_SIZE = 4;
/** Waiting for a connection (a new one, or a free one when all four are busy) gives up after this. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Time the server gets beyond statement_timeout to report the timeout itself before precis stops waiting. */
const DEADLINE_GRACE_MS = 2_000;
/**
 * Heartbeats while the query runs: a source timeout may be longer than the activity's heartbeat timeout, and the
 * wait is honest (bounded by statement_timeout and the deadline). Temporal throttles what it actually sends.
 */
export const HEARTBEAT_INTERVAL_MS = 2_000;

const OID = { date: 1082, timestamp: 1114 } as const;
const ISO_TIMESTAMP =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;
const HAS_OFFSET = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/**
 * SQLSTATE classes a later attempt may get past: 08 connection, 40 transaction rollback (serialization, deadlock),
 * 53 insufficient resources (too many connections), 57 operator intervention (cancel, shutdown, starting up),
 * 58 system error (I/O). Everything else (42 syntax/undefined/permission, 25 read-only, 22 data, 28 auth, ...)
 * comes from the query or the configuration and will fail again.
 */
const RETRYABLE_CLASSES = new Set(['08', '40', '53', '57', '58']);
const RETRYABLE_CODES = new Set(['55P03', '55006']);

type Row = Record<string, unknown>;

/** What collectRows learns about its connection while the transaction runs. */
interface Session {
  /** Server process id of the connection, for pg_cancel_backend. */
  backend?: number;
  /** The connection is in an unknown state and must be destroyed instead of returned to the pool. */
  broken: boolean;
}

interface Rows {
  rows: Row[];
  fields: FieldDef[];
}

/**
 * `timestamp` (without time zone) and `date` stay text, read as UTC below: pg's default reads them in the worker's
 * local zone, which would make the data depend on where the worker runs.
 */
function typeOverrides(): TypeOverrides {
  const types = new TypeOverrides();
  types.setTypeParser(OID.timestamp, (text: string) => text);
  types.setTypeParser(OID.date, (text: string) => text);
  return types;
}

/** Duck-typed: socket errors come from Node's realm, which is not a test sandbox's. */
function message(error: unknown): string {
  if (
    typeof error === 'object' &&
    error !== null &&
    'message' in error &&
    typeof error.message === 'string'
  ) {
    return error.message;
  }
  return String(error);
}

function classify(error: unknown, source: PostgresSource): SourceError {
  if (error instanceof SourceError) return error;
  const name = `postgres "${source.database}"`;
  if (error instanceof DatabaseError) {
    const code = error.code ?? '';
    if (code === '57014' && /statement timeout/i.test(error.message)) {
      return new SourceError(`${name}: query ran longer than ${source.timeout} (statement_timeout)`, true, {
        cause: error,
      });
    }
    if (code === '08P01') {
      // A protocol violation here means the query does not take the two parameters it is always given.
      const hint = 'the query must use $1 = window start, $2 = window end';
      return new SourceError(`${name}: ${error.message} (${hint})`, false, { cause: error });
    }
    const retryable = RETRYABLE_CLASSES.has(code.slice(0, 2)) || RETRYABLE_CODES.has(code);
    return new SourceError(`${name}: ${error.message} (SQLSTATE ${code})`, retryable, { cause: error });
  }
  // Not an answer from the server: the socket (refused, reset, name lookup) or the pool's wait for a connection.
  return new SourceError(`${name} unreachable: ${message(error)}`, true, { cause: error });
}

/** Tells the server to stop the backend's statement, from a connection of its own (the pool may be exhausted). */
function cancelBackend(url: string, pid: number): void {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // Best effort: if it fails, statement_timeout still ends the statement. The error handler keeps a late socket
  // error from becoming an uncaught exception.
  client.on('error', () => {});
  client
    .connect()
    .then(() => client.query('SELECT pg_cancel_backend($1)', [pid]))
    .catch(() => {})
    .finally(() => client.end().catch(() => {}));
}

/**
 * Runs the query and collects rows, stopping at MAX_ROWS + 1 (`overflow`) without waiting for the rest: the rows
 * arrive one by one, so a runaway query is cut off before it fills the worker's memory.
 */
function streamRows(
  client: PoolClient,
  text: string,
  values: unknown[],
  overflow: () => void,
): Promise<Rows> {
  return new Promise((resolve, reject) => {
    const rows: Row[] = [];
    let fields: FieldDef[] = [];
    let over = false;
    // rowMode default (objects); the result builder still accumulates rows, which is fine below MAX_ROWS + 1.
    const query = new Query<Row>({ text, values });
    query.on('row', (row: Row, result) => {
      if (over) return;
      if (result) fields = result.fields;
      rows.push(row);
      if (rows.length > MAX_ROWS) {
        over = true;
        overflow();
      }
    });
    query.on('error', reject);
    query.on('end', (result) => resolve({ rows, fields: result.fields.length > 0 ? result.fields : fields }));
    client.query(query);
  });
}

/**
 * One read-only transaction on a pooled connection. It always ends in ROLLBACK, also on success: a read-only
 * transaction has nothing to commit, and rolling back undoes session settings the query may have changed
 * (`set_config(..., false)`: search_path, timeouts), so one dashboard's query cannot change the connection the
 * next one gets from the pool.
 */
async function readOnly(
  client: PoolClient,
  source: PostgresSource,
  request: CollectRequest,
  session: Session,
  overflow: () => void,
): Promise<Rows> {
  await client.query('BEGIN READ ONLY');
  let result: Rows;
  try {
    // set_config(..., true) is SET LOCAL with a bound parameter; the pid is what a cancel needs.
    const setup = await client.query<{ pid: number }>(
      "SELECT pg_backend_pid() AS pid, set_config('statement_timeout', $1, true)",
      [String(durationMs(source.timeout))],
    );
    session.backend = setup.rows[0]?.pid;
    result = await streamRows(client, source.query, [request.from, request.asOf], overflow);
  } catch (error) {
    // The query's own error is the one to report; a connection that cannot even roll back is not reused.
    await client.query('ROLLBACK').catch(() => {
      session.broken = true;
    });
    throw error;
  }
  await client.query('ROLLBACK').catch((error: unknown) => {
    session.broken = true;
    throw error;
  });
  return result;
}

/**
 * Checks out a connection unless the collection is cancelled first; one that arrives after the cancel goes
 * straight back to the pool instead of leaking.
 */
async function connect(pool: Pool, signal: AbortSignal): Promise<PoolClient | undefined> {
  if (signal.aborted) return undefined;
  const pending = pool.connect();
  let onAbort = (): void => {};
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const client = await Promise.race([pending, aborted]);
    if (client === undefined) pending.then((late) => late.release()).catch(() => {});
    return client;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Runs the source's query and returns its rows, bounded three ways: statement_timeout on the server, a client
 * deadline a little later (a server that stopped answering), and the activity's cancellation. When precis stops
 * waiting it returns at once: the connection is destroyed (it may be mid-transaction) and the backend is told
 * to cancel, since the server would otherwise only notice the closed socket when the statement ends.
 */
async function collectRows(
  pool: Pool,
  url: string,
  source: PostgresSource,
  request: CollectRequest,
): Promise<Rows> {
  const deadline = AbortSignal.timeout(durationMs(source.timeout) + DEADLINE_GRACE_MS);
  const signal = AbortSignal.any([request.signal, deadline]);
  let client: PoolClient | undefined;
  try {
    client = await connect(pool, signal);
  } catch (error) {
    throw classify(error, source);
  }
  const stopped = (): SourceError =>
    request.signal.aborted
      ? new SourceError('collection cancelled', true)
      : new SourceError(`postgres "${source.database}": no answer within ${source.timeout}`, true);
  if (client === undefined) throw stopped();
  const connection = client;

  let released = false;
  const release = (destroy?: Error): void => {
    if (released) return;
    released = true;
    connection.release(destroy);
  };
  const session: Session = { broken: false };
  let stop: (error: SourceError) => void = () => {};
  const halted = new Promise<never>((_, reject) => {
    stop = (error) => {
      reject(error);
      if (session.backend !== undefined) cancelBackend(url, session.backend);
      release(error);
    };
  });
  const onAbort = (): void => stop(stopped());
  const tooMany = (): void =>
    stop(
      new SourceError(`query returned more than ${MAX_ROWS} rows; aggregate it or narrow the window`, false),
    );
  signal.addEventListener('abort', onAbort, { once: true });

  const work = readOnly(connection, source, request, session, tooMany);
  try {
    const rows = await Promise.race([work, halted]);
    release();
    return rows;
  } catch (error) {
    // A connection whose ROLLBACK failed (or that failed itself) is destroyed rather than handed out again.
    release(session.broken || !(error instanceof DatabaseError) ? new Error(message(error)) : undefined);
    throw classify(error, source);
  } finally {
    signal.removeEventListener('abort', onAbort);
    // The losing side of the race settles later (the connection was destroyed under it); nothing waits for it.
    work.catch(() => {});
    halted.catch(() => {});
  }
}

/** Only four-digit years: the extended "+010000-…" form is not a timestamp the rest of precis accepts. */
function isoString(ms: number): string | undefined {
  if (!Number.isFinite(ms)) return undefined;
  const iso = new Date(ms).toISOString();
  return /^\d{4}-/.test(iso) ? iso : undefined;
}

/** `t`: timestamptz (a Date), or text: ISO 8601, `timestamp` and `date` as PostgreSQL prints them; no offset = UTC. */
function parseTime(raw: unknown, index: number): string {
  let ms = Number.NaN;
  if (raw instanceof Date) ms = raw.getTime();
  else if (typeof raw === 'string' && ISO_TIMESTAMP.test(raw.trim())) {
    const text = raw.trim();
    const zoned = text.length === 10 || HAS_OFFSET.test(text) ? text : `${text}Z`;
    ms = Date.parse(zoned.replace(' ', 'T'));
  }
  const iso = isoString(ms);
  if (iso === undefined) {
    throw new SourceError(`row ${index + 1}: column "t" is ${previewValue(raw)}, not a timestamp`, false);
  }
  return iso;
}

/**
 * `v`: a number, or the text pg gives for numeric and bigint (exact types JavaScript numbers cannot always hold).
 * NULL and NaN/Infinity become non-finite numbers: cleaning removes and counts them, so the gap is reported.
 */
function parseValue(raw: unknown, index: number): number {
  if (raw === null) return Number.NaN;
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string') {
    const text = raw.trim();
    if (DECIMAL.test(text)) return Number(text);
    if (text === 'NaN') return Number.NaN;
    if (text === 'Infinity') return Number.POSITIVE_INFINITY;
    if (text === '-Infinity') return Number.NEGATIVE_INFINITY;
  }
  throw new SourceError(`row ${index + 1}: column "v" is ${previewValue(raw)}, not a number`, false);
}

function parseSeries(raw: unknown, index: number): string {
  if (typeof raw === 'string' && raw !== '') return raw;
  if ((typeof raw === 'number' && Number.isFinite(raw)) || typeof raw === 'bigint') return String(raw);
  throw new SourceError(
    `row ${index + 1}: column "series" is ${previewValue(raw)}, not a series name (use COALESCE for NULLs)`,
    false,
  );
}

/**
 * Rows to series. Strict like the http mapping: one row with a bad `t` or `series` fails the whole answer,
 * naming the row, because silently dropping points would make the summary describe other data than the query's.
 * Without a `series` column every row belongs to one series named after the widget.
 */
function toSeries({ rows, fields }: Rows, widgetId: string): SeriesData[] {
  const columns = new Set(fields.map((field) => field.name));
  for (const column of ['t', 'v']) {
    if (!columns.has(column)) {
      const found = fields.length === 0 ? 'none' : fields.map((field) => `"${field.name}"`).join(', ');
      throw new SourceError(
        `query result has no column "${column}" (it must return t, v and optionally series; found ${found})`,
        false,
      );
    }
  }
  const hasSeries = columns.has('series');
  const bySeries = new Map<string, Point[]>();
  rows.forEach((row, index) => {
    const point = { t: parseTime(row.t, index), v: parseValue(row.v, index) };
    const key = hasSeries ? parseSeries(row.series, index) : widgetId;
    const points = bySeries.get(key);
    if (points) points.push(point);
    else bySeries.set(key, [point]);
  });
  return [...bySeries].map(([key, points]) => ({ key, points }));
}

/**
 * Reads series from PostgreSQL with the SQL a dashboard gives, inside a READ ONLY transaction with the source's
 * statement_timeout. Connections come from PRECIS_POSTGRES_URLS by name; each gets a small pool, opened on first
 * use so that a worker without PostgreSQL widgets never connects.
 */
export function createPostgresConnector(
  sources: Config['sources'],
): SourceConnector<PostgresSource> & { close(): Promise<void> } {
  const pools = new Map<string, Pool>();
  const types = typeOverrides();

  function poolFor(name: string): { pool: Pool; url: string } {
    const url = sources.postgresUrls[name];
    if (url === undefined) {
      const known = Object.keys(sources.postgresUrls);
      const hint = known.length === 0 ? 'none configured' : `configured: ${known.join(', ')}`;
      throw new SourceError(
        `no PostgreSQL connection named "${name}" in PRECIS_POSTGRES_URLS (${hint})`,
        false,
      );
    }
    let pool = pools.get(name);
    if (pool === undefined) {
      pool = new Pool({
        connectionString: url,
        max: POOL_SIZE,
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
        idleTimeoutMillis: 30_000,
        application_name: 'precis',
        types,
      });
      // An idle connection that breaks (server restart) emits here; without a listener that would crash the
      // worker. The pool drops the connection and the next checkout opens a fresh one.
      pool.on('error', () => {});
      pools.set(name, pool);
    }
    return { pool, url };
  }

  return {
    type: 'postgres',
    async collect(source: PostgresSource, request: CollectRequest): Promise<WidgetData> {
      const { pool, url } = poolFor(source.database);
      request.heartbeat();
      const beating = setInterval(() => request.heartbeat({ waiting: 'query' }), HEARTBEAT_INTERVAL_MS);
      let result: Rows;
      try {
        result = await collectRows(pool, url, source, request);
      } finally {
        clearInterval(beating);
      }
      request.heartbeat({ rows: result.rows.length });
      const series = toSeries(result, request.widget.id);
      return source.unit === undefined ? { series } : { series, unit: source.unit };
    },
    async close(): Promise<void> {
      const open = [...pools.values()];
      pools.clear();
      await Promise.all(open.map((pool) => pool.end()));
    },
  };
}
