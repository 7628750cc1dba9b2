/**
 * Every operation of the API: path, required scope, request and response schemas. Routes take their path and
 * scope from here and the OpenAPI document is generated from it, so the two cannot drift apart.
 */
import type { z } from 'zod';
import type { ApiScope } from './auth';
import {
  dashboardListSchema,
  dashboardParamsSchema,
  healthSchema,
  historyQuerySchema,
  historySchema,
  ifNoneMatchSchema,
  lastEventIdSchema,
  readinessSchema,
  refreshAcceptedSchema,
  summaryViewSchema,
  workflowParamsSchema,
  workflowStatusSchema,
} from './schemas';

export interface ResponseSpec {
  description: string;
  /** JSON body schema; for other content types the body is described in words. */
  schema?: z.ZodType;
  contentType?: string;
  /** Response header name → description. */
  headers?: Record<string, string>;
}

export interface Operation {
  operationId: string;
  method: 'GET' | 'POST';
  /** OpenAPI path template, e.g. `/v1/dashboards/{id}/summary`. */
  path: string;
  summary: string;
  description?: string;
  tag: 'dashboards' | 'workflows' | 'operations';
  /** The scope an API key needs; undefined = open to anyone (see the security notes in api/app.ts). */
  scope?: ApiScope;
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** Request header name → schema. */
  headers?: Record<string, z.ZodType>;
  responses: Record<number, ResponseSpec>;
  /** Statuses answered with application/problem+json. */
  problems: number[];
}

const RATE_LIMITED = [401, 403, 429];

export interface OperationOptions {
  /** PRECIS_API_METRICS_AUTH=key: /metrics needs a key with the `metrics` scope. */
  metricsScope?: ApiScope;
}

export function apiOperations(options: OperationOptions = {}): Operation[] {
  return [
    {
      operationId: 'listDashboards',
      method: 'GET',
      path: '/v1/dashboards',
      summary: 'Dashboards with the status of their latest summary',
      tag: 'dashboards',
      scope: 'read',
      responses: { 200: { description: 'Every known dashboard', schema: dashboardListSchema } },
      problems: [...RATE_LIMITED, 503],
    },
    {
      operationId: 'getSummary',
      method: 'GET',
      path: '/v1/dashboards/{id}/summary',
      summary: 'The latest summary of a dashboard',
      description:
        'Served from process memory or Redis; never waits on Temporal or the model. Revalidate ' +
        'with If-None-Match: an unchanged summary answers 304.',
      tag: 'dashboards',
      scope: 'read',
      params: dashboardParamsSchema,
      headers: { 'If-None-Match': ifNoneMatchSchema },
      responses: {
        200: {
          description: 'The summary, its freshness, cost and run link',
          schema: summaryViewSchema,
          headers: {
            ETag: 'Strong validator of this representation',
            'Cache-Control': 'private, short max-age',
          },
        },
        304: { description: 'Not modified since the ETag in If-None-Match' },
      },
      problems: [400, ...RATE_LIMITED, 404, 503],
    },
    {
      operationId: 'listSummaries',
      method: 'GET',
      path: '/v1/dashboards/{id}/summaries',
      summary: 'Earlier summaries of a dashboard, newest first',
      tag: 'dashboards',
      scope: 'read',
      params: dashboardParamsSchema,
      query: historyQuerySchema,
      responses: { 200: { description: 'One page of the history', schema: historySchema } },
      problems: [400, ...RATE_LIMITED, 404, 503],
    },
    {
      operationId: 'refreshDashboard',
      method: 'POST',
      path: '/v1/dashboards/{id}/refresh',
      summary: 'Ask for a fresh summary',
      description:
        'Publishes a dashboard.refresh_requested event on the events topic (key = dashboard id), so it is ' +
        'debounced and coalesced with every other event of the dashboard.',
      tag: 'dashboards',
      scope: 'refresh',
      params: dashboardParamsSchema,
      responses: {
        202: {
          description: 'The event was accepted by Kafka',
          schema: refreshAcceptedSchema,
          headers: { Location: 'The workflow status resource' },
        },
      },
      problems: [400, ...RATE_LIMITED, 404, 413, 503],
    },
    {
      operationId: 'streamSummaries',
      method: 'GET',
      path: '/v1/dashboards/{id}/stream',
      summary: 'New summaries as Server-Sent Events',
      description:
        'Each stored summary arrives as `event: summary` with `id: <version>` and the Summary JSON as data; ' +
        'comment lines are heartbeats. Without Last-Event-ID the latest summary comes first; with it, the ' +
        'versions after it (from the history), then live ones.',
      tag: 'dashboards',
      scope: 'read',
      params: dashboardParamsSchema,
      headers: { 'Last-Event-ID': lastEventIdSchema },
      responses: {
        200: { description: 'An event stream of Summary objects', contentType: 'text/event-stream' },
      },
      problems: [400, ...RATE_LIMITED, 404, 503],
    },
    {
      operationId: 'getWorkflow',
      method: 'GET',
      path: '/v1/workflows/{workflowId}',
      summary: 'Status of a summarization workflow in Temporal',
      tag: 'workflows',
      scope: 'read',
      params: workflowParamsSchema,
      responses: { 200: { description: 'The latest run of the workflow', schema: workflowStatusSchema } },
      problems: [400, ...RATE_LIMITED, 404, 503],
    },
    {
      operationId: 'health',
      method: 'GET',
      path: '/healthz',
      summary: 'The process is up',
      tag: 'operations',
      responses: { 200: { description: 'Up', schema: healthSchema } },
      problems: [],
    },
    {
      operationId: 'readiness',
      method: 'GET',
      path: '/readyz',
      summary: 'Redis, Temporal and Kafka are reachable',
      tag: 'operations',
      responses: { 200: { description: 'Every dependency answered', schema: readinessSchema } },
      problems: [503],
    },
    {
      operationId: 'metrics',
      method: 'GET',
      path: '/metrics',
      summary: 'Prometheus metrics',
      tag: 'operations',
      scope: options.metricsScope,
      responses: { 200: { description: 'Prometheus text exposition format', contentType: 'text/plain' } },
      problems: options.metricsScope ? RATE_LIMITED : [],
    },
    {
      operationId: 'openapi',
      method: 'GET',
      path: '/openapi.json',
      summary: 'This document',
      tag: 'operations',
      responses: { 200: { description: 'OpenAPI 3.1', contentType: 'application/json' } },
      problems: [],
    },
    {
      operationId: 'docs',
      method: 'GET',
      path: '/docs',
      summary: 'Human-readable API reference',
      tag: 'operations',
      responses: { 200: { description: 'An HTML page rendering /openapi.json', contentType: 'text/html' } },
      problems: [],
    },
  ];
}

/** `/v1/dashboards/{id}/summary` → `/v1/dashboards/:id/summary`. */
export function fastifyPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}
