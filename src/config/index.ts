import { z } from 'zod';

/**
 * precis's process configuration, read once from the environment at start-up, validated, and passed down.
 * Every field has a default that works against the local stack (scripts/stack.sh up).
 */
const csv = z
  .string()
  .transform((s) => s.split(',').map((part) => part.trim()))
  .pipe(z.array(z.string().min(1)).min(1));

/** Like csv, but an unset variable means an empty list. */
const optionalCsv = z.string().transform((s) =>
  s
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0),
);

/** A JSON object of name → URL, e.g. {"default":"postgres://user@host/db"}. */
const namedUrls = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of name → URL' });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.string().min(1), z.string().url()));

/** PRECIS_API_KEYS: only hashes are configured, so a leaked config file does not leak working keys. */
export const API_SCOPES = ['read', 'refresh', 'metrics'] as const;
const apiKeys = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of {"id","sha256","scopes"}' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(
        z
          .object({
            id: z
              .string()
              .regex(/^[A-Za-z0-9._-]{1,64}$/, 'id must be 1-64 letters, digits, ".", "_" or "-"'),
            sha256: z
              .string()
              .regex(/^[0-9a-fA-F]{64}$/, 'sha256 must be 64 hex digits')
              .transform((hex) => hex.toLowerCase()),
            scopes: z.array(z.enum(API_SCOPES)).min(1),
          })
          .strict(),
      )
      .refine((keys) => new Set(keys.map((key) => key.id)).size === keys.length, 'key ids must be unique'),
  );

const port = z.coerce.number().int().min(0).max(65535);
const httpUrl = z
  .string()
  .url()
  .refine((url) => /^https?:\/\//i.test(url), 'must be an http:// or https:// URL');
const millis = z.coerce.number().int().min(0);

export const configSchema = z.object({
  kafka: z.object({
    /** PRECIS_KAFKA_BROKERS, comma-separated host:port list. Default `127.0.0.1:9092`. */
    brokers: csv.default(['127.0.0.1:9092']),
    /** PRECIS_KAFKA_CLIENT_ID. Default `precis`. */
    clientId: z.string().min(1).default('precis'),
    /** PRECIS_KAFKA_GROUP_ID, the ingest consumer group. Default `precis-ingest`. */
    groupId: z.string().min(1).default('precis-ingest'),
    /**
     * PRECIS_KAFKA_SESSION_TIMEOUT_MS: how long the group waits for a silent ingest consumer before giving its
     * partitions to another. A consumer that was killed holds its partitions this long (kafkajs's default is 30 s);
     * a live one heartbeats every 3 s, also while it waits for Temporal. Default 10000.
     */
    sessionTimeoutMs: z.coerce.number().int().min(6000).max(300_000).default(10_000),
    /** PRECIS_TOPIC_EVENTS. Default `dashboard.events`. */
    eventsTopic: z.string().min(1).default('dashboard.events'),
    /** PRECIS_TOPIC_DLQ. Default `dashboard.events.dlq`. */
    deadLetterTopic: z.string().min(1).default('dashboard.events.dlq'),
    /** PRECIS_TOPIC_SUMMARIES. Default `dashboard.summaries`. */
    summariesTopic: z.string().min(1).default('dashboard.summaries'),
    /** PRECIS_TOPIC_PARTITIONS, used when precis creates its topics. Default 6. */
    topicPartitions: z.coerce.number().int().min(1).max(1000).default(6),
    /** PRECIS_MAX_EVENT_BYTES: larger messages are dead-lettered. Default 1 MiB. */
    maxEventBytes: z.coerce
      .number()
      .int()
      .min(256)
      .default(1024 * 1024),
  }),
  redis: z.object({
    /** PRECIS_REDIS_URL. Default `redis://127.0.0.1:6379`. */
    url: z.string().url().default('redis://127.0.0.1:6379'),
    /** PRECIS_REDIS_PREFIX, prepended to every key precis writes. Default `precis:`. */
    keyPrefix: z.string().default('precis:'),
    /** PRECIS_SUMMARY_HISTORY: summaries kept per dashboard. Default 50. */
    summaryHistory: z.coerce.number().int().min(1).max(10_000).default(50),
  }),
  temporal: z.object({
    /** TEMPORAL_ADDRESS. Default `127.0.0.1:7233`. */
    address: z.string().min(1).default('127.0.0.1:7233'),
    /** TEMPORAL_NAMESPACE. Default `default`. */
    namespace: z.string().min(1).default('default'),
    /** PRECIS_TASK_QUEUE, where pipeline workflows and activities run. Default `precis-pipeline`. */
    taskQueue: z.string().min(1).default('precis-pipeline'),
    /** PRECIS_WORKFLOW_ID_PREFIX; the workflow id is prefix + dashboard id. Default `precis-dashboard-`. */
    workflowIdPrefix: z.string().default('precis-dashboard-'),
    /** TEMPORAL_UI_URL, used to link summaries to their runs. Default `http://127.0.0.1:8233`. */
    uiUrl: z.string().url().default('http://127.0.0.1:8233'),
  }),
  pipeline: z.object({
    /** PRECIS_QUIET_PERIOD_MS: wait this long after the last event before summarizing. Default 0. */
    quietPeriodMs: millis.default(0),
    /** PRECIS_MAX_DELAY_MS: never wait longer than this after the first pending event. Default 30000. */
    maxDelayMs: millis.default(30_000),
    /** PRECIS_TOKEN_BUDGET: estimated tokens the model input may use; larger inputs are shrunk. Default 3000. */
    tokenBudget: z.coerce.number().int().min(200).default(3000),
    /**
     * PRECIS_WORKFLOW_IDLE_MS: how long a dashboard's workflow stays open, waiting for the next change, after its
     * last summary. An open workflow takes the next change with one signal instead of a new execution. 0 = complete
     * as soon as nothing is pending (one execution per burst). Default 600000 (10 min).
     */
    idleTimeoutMs: millis.default(600_000),
    /**
     * PRECIS_SUMMARIES_PER_RUN: summaries one execution makes before it continues as new, which bounds its history
     * (and what a worker keeps of it in memory). Default 100.
     */
    summariesPerRun: z.coerce.number().int().min(1).default(100),
    /**
     * PRECIS_RUN_RETRY_INITIAL_MS: when a summary cannot be made (every source failed, Redis kept refusing), the
     * dashboard's events wait and the run is tried again after this long, doubling each time. Default 10000.
     */
    runRetryInitialMs: z.coerce.number().int().min(100).default(10_000),
    /** PRECIS_RUN_RETRY_MAX_MS: the cap of that doubling. Default 600000 (10 min). */
    runRetryMaxMs: z.coerce.number().int().min(100).default(600_000),
    /**
     * PRECIS_OUTBOX_INTERVAL_MS: how often a pipeline worker publishes stored summaries that Kafka refused when they
     * were stored (the publish outbox). Default 5000.
     */
    outboxIntervalMs: z.coerce.number().int().min(100).default(5_000),
    /**
     * PRECIS_PIPELINE_METRICS_PORT: where the pipeline worker serves GET /metrics (its own and its Temporal core's)
     * and GET /readyz (0 = off). Default 9465.
     */
    metricsPort: port.default(9465),
    /** PRECIS_PIPELINE_METRICS_HOST. Default `127.0.0.1` (`0.0.0.0` in containers). */
    metricsHost: z.string().min(1).default('127.0.0.1'),
  }),
  api: z.object({
    /** PRECIS_API_HOST. Default `127.0.0.1`. */
    host: z.string().min(1).default('127.0.0.1'),
    /** PRECIS_API_PORT. Default 8080. */
    port: port.default(8080),
    /**
     * PRECIS_API_AUTH: `enabled` or `disabled`. Enabled with no PRECIS_API_KEYS, the API refuses to start, so an
     * open API is always a deliberate choice. Default `enabled`.
     */
    auth: z.enum(['enabled', 'disabled']).default('enabled'),
    /** PRECIS_API_KEYS: JSON array of `{"id","sha256","scopes"}`; only the SHA-256 (hex) of each key is kept. */
    keys: apiKeys.default([]),
    /** PRECIS_API_METRICS_AUTH: `open`, or `key` to require a key with the `metrics` scope. Default `open`. */
    metricsAuth: z.enum(['open', 'key']).default('open'),
    /** PRECIS_API_RATE_LIMIT_RPM: requests per minute per API key, shared by every API process. Default 600. */
    rateLimitPerMinute: z.coerce.number().int().min(1).default(600),
    /** PRECIS_API_BODY_LIMIT_BYTES: largest request body accepted. Default 16384. */
    bodyLimitBytes: z.coerce
      .number()
      .int()
      .min(256)
      .max(16 * 1024 * 1024)
      .default(16 * 1024),
    /** PRECIS_API_CORS_ORIGINS: comma-separated origins allowed to call the API from a browser. Default none. */
    corsOrigins: optionalCsv.pipe(z.array(z.string().url())).default([]),
    /** PRECIS_API_STALE_AFTER_MS: a summary last checked longer ago than this is served with `stale: true`. */
    staleAfterMs: millis.default(3_600_000),
    /** PRECIS_API_CACHE_MAX_AGE_S: `max-age` of summary responses (clients revalidate with the ETag after). */
    cacheMaxAgeSeconds: z.coerce.number().int().min(0).max(3600).default(5),
    /** PRECIS_API_SUMMARY_CACHE_MS: how long a process serves a rendered summary from memory. Default 1000. */
    summaryCacheMs: millis.default(1000),
    /** PRECIS_API_SSE_HEARTBEAT_MS: comment lines that keep idle streams open through proxies. Default 15000. */
    sseHeartbeatMs: z.coerce.number().int().min(100).default(15_000),
    /** PRECIS_API_SSE_MAX_CLIENTS: concurrent streams per process; more are answered 503. Default 1000. */
    sseMaxClients: z.coerce.number().int().min(1).default(1000),
    /** PRECIS_API_DEPENDENCY_TIMEOUT_MS: longest wait on Redis, Temporal or Kafka, and per readiness check. */
    dependencyTimeoutMs: z.coerce.number().int().min(50).default(2000),
  }),
  ingest: z.object({
    /** PRECIS_INGEST_METRICS_PORT: where the ingest process serves GET /metrics (0 = off). Default 9464. */
    metricsPort: port.default(9464),
    /** PRECIS_INGEST_METRICS_HOST. Default `127.0.0.1`. */
    metricsHost: z.string().min(1).default('127.0.0.1'),
    /** PRECIS_DEDUPE_TTL_S: how long a handed-over event id is remembered to drop redeliveries. Default 7 days. */
    dedupeTtlSeconds: z.coerce
      .number()
      .int()
      .min(60)
      .default(7 * 86_400),
  }),
  sources: z.object({
    /** PRECIS_HTTP_ALLOWED_HOSTS: hosts `http` sources may call (exact names or `*.example.com`). Default none. */
    httpAllowedHosts: optionalCsv.default([]),
    /**
     * PRECIS_HTTP_ALLOWED_NETWORKS: CIDRs exempt from the refusal of loopback, private, link-local and metadata
     * addresses, e.g. `10.1.2.0/24`. Default none.
     */
    httpAllowedNetworks: optionalCsv.default([]),
    /** PRECIS_PROMETHEUS_URL: default server for `prometheus` sources. Default `http://127.0.0.1:9090`. */
    prometheusUrl: z.string().url().default('http://127.0.0.1:9090'),
    /** PRECIS_POSTGRES_URLS: JSON object of connection name → postgres:// URL for `postgres` sources. */
    postgresUrls: namedUrls.default({}),
    /** PRECIS_BLOB_TTL_S: how long collected data stays in Redis for the stages after collect. Default 86400. */
    blobTtlSeconds: z.coerce.number().int().min(60).default(86_400),
  }),
  llm: z.object({
    /** OPENAI_API_KEY. Without it (and without PRECIS_LLM_BASE_URL) precis uses its local summarizer only. */
    apiKey: z.string().min(1).optional(),
    /** PRECIS_LLM_BASE_URL: any OpenAI-compatible endpoint (Azure OpenAI, vLLM, Ollama…). Default: OpenAI. */
    baseUrl: z.string().url().optional(),
    /** PRECIS_LLM_MODEL. Default `gpt-4o`. */
    model: z.string().min(1).default('gpt-4o'),
    /** PRECIS_LLM_FALLBACK_MODEL: the second rung; `none` disables it. Default `gpt-4o-mini`. */
    fallbackModel: z.string().min(1).default('gpt-4o-mini'),
    /** PRECIS_LLM_TIMEOUT_MS per call. Default 30000. */
    timeoutMs: z.coerce.number().int().min(100).default(30_000),
    /** PRECIS_LLM_MAX_OUTPUT_TOKENS. Default 800. */
    maxOutputTokens: z.coerce.number().int().min(50).max(16_384).default(800),
    /** PRECIS_LLM_TEMPERATURE. Default 0.2. */
    temperature: z.coerce.number().min(0).max(2).default(0.2),
    /** PRECIS_LLM_TASK_QUEUE: where model calls run, apart from the pipeline. Default `precis-llm`. */
    taskQueue: z.string().min(1).default('precis-llm'),
    /** PRECIS_LLM_MAX_ACTIVITIES_PER_SECOND: server-side cap of the LLM task queue. Default 20. */
    maxActivitiesPerSecond: z.coerce.number().positive().default(20),
    /** PRECIS_LLM_PRIMARY_ATTEMPTS: Temporal attempts at the primary model before the next rung. Default 4. */
    primaryAttempts: z.coerce.number().int().min(1).max(20).default(4),
    /** PRECIS_LLM_MAX_RETRY_MS: total time spent retrying one summary before degrading. Default 120000. */
    maxRetryMs: z.coerce.number().int().min(1000).default(120_000),
    /** PRECIS_LLM_RPM / PRECIS_LLM_TPM: shared limits across every AI worker. Defaults 500 / 60000. */
    requestsPerMinute: z.coerce.number().int().min(1).default(500),
    tokensPerMinute: z.coerce.number().int().min(100).default(60_000),
    /** PRECIS_LLM_CACHE_TTL_S: content-addressed summary cache. Default 7 days. */
    cacheTtlSeconds: z.coerce
      .number()
      .int()
      .min(60)
      .default(7 * 86_400),
    /** PRECIS_MATERIALITY_PCT: widget changes that move by less than this (percentage points) reuse the summary. */
    materialityPct: z.coerce.number().min(0).default(1),
    /** PRECIS_BUDGET_DAILY_USD / PRECIS_BUDGET_DASHBOARD_DAILY_USD: spend limits; at the limit precis degrades. */
    dailyBudgetUsd: z.coerce.number().min(0).default(50),
    dashboardDailyBudgetUsd: z.coerce.number().min(0).default(5),
    /** PRECIS_LLM_UPGRADE_DELAYS_MS: waits before re-offering a degraded summary's input to the model. */
    upgradeDelaysMs: optionalCsv
      .transform((parts) => parts.map(Number))
      .pipe(z.array(z.number().int().min(0)))
      .default([30_000, 60_000, 120_000, 300_000, 600_000]),
    /** PRECIS_BREAKER_*: the shared circuit breaker per (endpoint, model). */
    breakerWindowMs: z.coerce.number().int().min(100).default(60_000),
    breakerMinimumRequests: z.coerce.number().int().min(1).default(10),
    breakerFailureRate: z.coerce.number().gt(0).max(1).default(0.5),
    breakerCooldownMs: z.coerce.number().int().min(10).default(30_000),
    /** PRECIS_PROMPTS_DIR: folder of versioned prompt files. Default `prompts`. */
    promptsDir: z.string().min(1).default('prompts'),
    /** PRECIS_PRICES_FILE: versioned price table (USD per million tokens). Default `config/prices.json`. */
    pricesFile: z.string().min(1).default('config/prices.json'),
    /**
     * PRECIS_PRICE_DEFAULT_INPUT_USD / PRECIS_PRICE_DEFAULT_OUTPUT_USD: USD per million tokens for a model the price
     * table does not list (vLLM, Ollama…; 0 for a free local model). Without them, a configured model missing from
     * the table stops start-up, because a model that costs nothing would never reach a budget.
     */
    defaultInputPriceUsd: z.coerce.number().min(0).optional(),
    defaultOutputPriceUsd: z.coerce.number().min(0).optional(),
    /**
     * PRECIS_LLM_QUOTA_HOLD_MS: after `insufficient_quota`, calls stop for this long, then one probe call is let
     * through (success closes the circuit); `npm run llm -- quota clear` ends the hold at once. Default 15 min.
     */
    quotaHoldMs: z.coerce.number().int().min(1000).default(900_000),
    /** PRECIS_LLM_LIMITER_MAX_WAIT_MS: longest wait for the shared limiter before handing the wait to Temporal. */
    limiterMaxWaitMs: millis.default(10_000),
    /**
     * PRECIS_LLM_HEARTBEAT_TIMEOUT_MS: a model activity that stops heartbeating this long is retried elsewhere (it
     * resumes from the replies already paid for). It beats every third of this whatever it waits on, so only a lost
     * worker misses it. Default 15 s.
     */
    heartbeatTimeoutMs: z.coerce.number().int().min(1000).default(15_000),
    /**
     * PRECIS_LLM_WORKER_METRICS_PORT: where the LLM worker serves GET /metrics (its own and its Temporal core's) and
     * GET /readyz (0 = off). Default 9466.
     */
    workerMetricsPort: port.default(9466),
    /** PRECIS_LLM_WORKER_METRICS_HOST. Default `127.0.0.1` (`0.0.0.0` in containers). */
    workerMetricsHost: z.string().min(1).default('127.0.0.1'),
  }),
  tracing: z.object({
    /**
     * PRECIS_TRACING: `off` (nothing is traced, no span is made, nothing is sent) or `otlp` (spans go to an
     * OpenTelemetry collector over OTLP/HTTP, JSON). Default `off`.
     */
    mode: z.enum(['off', 'otlp']).default('off'),
    /**
     * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the full URL spans are POSTed to. Else OTEL_EXPORTER_OTLP_ENDPOINT with
     * `/v1/traces` appended (the OpenTelemetry convention). Default `http://localhost:4318/v1/traces`.
     */
    tracesEndpoint: httpUrl.optional(),
    /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL (`/v1/traces` is appended). */
    endpoint: httpUrl.optional(),
    /** OTEL_SERVICE_NAME. Default per process: precis-api, precis-ingest, precis-pipeline, precis-llm. */
    serviceName: z.string().min(1).optional(),
  }),
  /** PRECIS_DASHBOARDS_DIR: folder of dashboard definitions (YAML or JSON). Default `dashboards`. */
  dashboardsDir: z.string().min(1).default('dashboards'),
  /** PRECIS_LOG_LEVEL. Default `info`. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof configSchema>;

/** Which environment variable feeds which config field; the error message names the variable. */
const ENV_FIELDS = {
  PRECIS_KAFKA_BROKERS: ['kafka', 'brokers'],
  PRECIS_KAFKA_CLIENT_ID: ['kafka', 'clientId'],
  PRECIS_KAFKA_GROUP_ID: ['kafka', 'groupId'],
  PRECIS_KAFKA_SESSION_TIMEOUT_MS: ['kafka', 'sessionTimeoutMs'],
  PRECIS_TOPIC_EVENTS: ['kafka', 'eventsTopic'],
  PRECIS_TOPIC_DLQ: ['kafka', 'deadLetterTopic'],
  PRECIS_TOPIC_SUMMARIES: ['kafka', 'summariesTopic'],
  PRECIS_TOPIC_PARTITIONS: ['kafka', 'topicPartitions'],
  PRECIS_MAX_EVENT_BYTES: ['kafka', 'maxEventBytes'],
  PRECIS_REDIS_URL: ['redis', 'url'],
  PRECIS_REDIS_PREFIX: ['redis', 'keyPrefix'],
  PRECIS_SUMMARY_HISTORY: ['redis', 'summaryHistory'],
  TEMPORAL_ADDRESS: ['temporal', 'address'],
  TEMPORAL_NAMESPACE: ['temporal', 'namespace'],
  PRECIS_TASK_QUEUE: ['temporal', 'taskQueue'],
  PRECIS_WORKFLOW_ID_PREFIX: ['temporal', 'workflowIdPrefix'],
  TEMPORAL_UI_URL: ['temporal', 'uiUrl'],
  PRECIS_QUIET_PERIOD_MS: ['pipeline', 'quietPeriodMs'],
  PRECIS_MAX_DELAY_MS: ['pipeline', 'maxDelayMs'],
  PRECIS_TOKEN_BUDGET: ['pipeline', 'tokenBudget'],
  PRECIS_WORKFLOW_IDLE_MS: ['pipeline', 'idleTimeoutMs'],
  PRECIS_SUMMARIES_PER_RUN: ['pipeline', 'summariesPerRun'],
  PRECIS_RUN_RETRY_INITIAL_MS: ['pipeline', 'runRetryInitialMs'],
  PRECIS_RUN_RETRY_MAX_MS: ['pipeline', 'runRetryMaxMs'],
  PRECIS_OUTBOX_INTERVAL_MS: ['pipeline', 'outboxIntervalMs'],
  PRECIS_PIPELINE_METRICS_PORT: ['pipeline', 'metricsPort'],
  PRECIS_PIPELINE_METRICS_HOST: ['pipeline', 'metricsHost'],
  PRECIS_API_HOST: ['api', 'host'],
  PRECIS_API_PORT: ['api', 'port'],
  PRECIS_API_AUTH: ['api', 'auth'],
  PRECIS_API_KEYS: ['api', 'keys'],
  PRECIS_API_METRICS_AUTH: ['api', 'metricsAuth'],
  PRECIS_API_RATE_LIMIT_RPM: ['api', 'rateLimitPerMinute'],
  PRECIS_API_BODY_LIMIT_BYTES: ['api', 'bodyLimitBytes'],
  PRECIS_API_CORS_ORIGINS: ['api', 'corsOrigins'],
  PRECIS_API_STALE_AFTER_MS: ['api', 'staleAfterMs'],
  PRECIS_API_CACHE_MAX_AGE_S: ['api', 'cacheMaxAgeSeconds'],
  PRECIS_API_SUMMARY_CACHE_MS: ['api', 'summaryCacheMs'],
  PRECIS_API_SSE_HEARTBEAT_MS: ['api', 'sseHeartbeatMs'],
  PRECIS_API_SSE_MAX_CLIENTS: ['api', 'sseMaxClients'],
  PRECIS_API_DEPENDENCY_TIMEOUT_MS: ['api', 'dependencyTimeoutMs'],
  PRECIS_HTTP_ALLOWED_HOSTS: ['sources', 'httpAllowedHosts'],
  PRECIS_HTTP_ALLOWED_NETWORKS: ['sources', 'httpAllowedNetworks'],
  PRECIS_PROMETHEUS_URL: ['sources', 'prometheusUrl'],
  PRECIS_POSTGRES_URLS: ['sources', 'postgresUrls'],
  PRECIS_BLOB_TTL_S: ['sources', 'blobTtlSeconds'],
  OPENAI_API_KEY: ['llm', 'apiKey'],
  PRECIS_LLM_BASE_URL: ['llm', 'baseUrl'],
  PRECIS_LLM_MODEL: ['llm', 'model'],
  PRECIS_LLM_FALLBACK_MODEL: ['llm', 'fallbackModel'],
  PRECIS_LLM_TIMEOUT_MS: ['llm', 'timeoutMs'],
  PRECIS_LLM_MAX_OUTPUT_TOKENS: ['llm', 'maxOutputTokens'],
  PRECIS_LLM_TEMPERATURE: ['llm', 'temperature'],
  PRECIS_LLM_TASK_QUEUE: ['llm', 'taskQueue'],
  PRECIS_LLM_MAX_ACTIVITIES_PER_SECOND: ['llm', 'maxActivitiesPerSecond'],
  PRECIS_LLM_PRIMARY_ATTEMPTS: ['llm', 'primaryAttempts'],
  PRECIS_LLM_MAX_RETRY_MS: ['llm', 'maxRetryMs'],
  PRECIS_LLM_RPM: ['llm', 'requestsPerMinute'],
  PRECIS_LLM_TPM: ['llm', 'tokensPerMinute'],
  PRECIS_LLM_CACHE_TTL_S: ['llm', 'cacheTtlSeconds'],
  PRECIS_MATERIALITY_PCT: ['llm', 'materialityPct'],
  PRECIS_BUDGET_DAILY_USD: ['llm', 'dailyBudgetUsd'],
  PRECIS_BUDGET_DASHBOARD_DAILY_USD: ['llm', 'dashboardDailyBudgetUsd'],
  PRECIS_PRICES_FILE: ['llm', 'pricesFile'],
  PRECIS_PRICE_DEFAULT_INPUT_USD: ['llm', 'defaultInputPriceUsd'],
  PRECIS_PRICE_DEFAULT_OUTPUT_USD: ['llm', 'defaultOutputPriceUsd'],
  PRECIS_LLM_QUOTA_HOLD_MS: ['llm', 'quotaHoldMs'],
  PRECIS_LLM_LIMITER_MAX_WAIT_MS: ['llm', 'limiterMaxWaitMs'],
  PRECIS_LLM_HEARTBEAT_TIMEOUT_MS: ['llm', 'heartbeatTimeoutMs'],
  PRECIS_LLM_UPGRADE_DELAYS_MS: ['llm', 'upgradeDelaysMs'],
  PRECIS_LLM_WORKER_METRICS_PORT: ['llm', 'workerMetricsPort'],
  PRECIS_LLM_WORKER_METRICS_HOST: ['llm', 'workerMetricsHost'],
  PRECIS_PROMPTS_DIR: ['llm', 'promptsDir'],
  PRECIS_BREAKER_WINDOW_MS: ['llm', 'breakerWindowMs'],
  PRECIS_BREAKER_MIN_REQUESTS: ['llm', 'breakerMinimumRequests'],
  PRECIS_BREAKER_FAILURE_RATE: ['llm', 'breakerFailureRate'],
  PRECIS_BREAKER_COOLDOWN_MS: ['llm', 'breakerCooldownMs'],
  PRECIS_INGEST_METRICS_PORT: ['ingest', 'metricsPort'],
  PRECIS_INGEST_METRICS_HOST: ['ingest', 'metricsHost'],
  PRECIS_DEDUPE_TTL_S: ['ingest', 'dedupeTtlSeconds'],
  PRECIS_TRACING: ['tracing', 'mode'],
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: ['tracing', 'tracesEndpoint'],
  OTEL_EXPORTER_OTLP_ENDPOINT: ['tracing', 'endpoint'],
  OTEL_SERVICE_NAME: ['tracing', 'serviceName'],
  PRECIS_DASHBOARDS_DIR: ['dashboardsDir'],
  PRECIS_LOG_LEVEL: ['logLevel'],
} as const satisfies Record<string, readonly string[]>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads and validates the configuration; throws ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, Record<string, string> | string> = {
    kafka: {},
    redis: {},
    temporal: {},
    pipeline: {},
    api: {},
    sources: {},
    llm: {},
    ingest: {},
    tracing: {},
  };
  for (const [variable, path] of Object.entries(ENV_FIELDS)) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    if (path.length === 1) raw[path[0]] = value;
    else (raw[path[0]] as Record<string, string>)[path[1]] = value;
  }
  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const variable = Object.entries(ENV_FIELDS).find(
      ([, path]) => path.join('.') === issue.path.slice(0, path.length).join('.'),
    );
    return `${variable?.[0] ?? issue.path.join('.')}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration (environment): ${problems.join('; ')}`);
}
