/**
 * The zod → OpenAPI 3.1 bridge. OpenAPI 3.1 schemas are JSON Schema 2020-12, which is what zod 4's
 * `z.toJSONSchema` emits, so the bridge only places schemas: named ones (registered in `apiSchemas`) become
 * components referenced by `$ref`, parameters are taken from the properties of their object schema.
 */
import { z } from 'zod';
import type { Operation } from './operations';
import { apiSchemas, problemSchema } from './schemas';

type JsonSchema = Record<string, unknown>;

const COMPONENT_REF = (id: string): string => `#/components/schemas/${id}`;

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'A path parameter, query parameter or header is invalid (the detail names it)',
  401: 'No valid API key (Authorization: Bearer <key> or x-api-key)',
  403: 'The API key lacks the scope this operation needs',
  404: 'Unknown dashboard or workflow, or no summary yet',
  413: 'The request body is too large',
  429: 'The API key exceeded its rate limit',
  503: 'A dependency is unreachable; retry after the Retry-After delay',
};

const PROBLEM_HEADERS: Record<number, Record<string, string>> = {
  401: { 'WWW-Authenticate': 'Bearer' },
  429: { 'Retry-After': 'Seconds until the key may send again' },
  503: { 'Retry-After': 'Seconds to wait before retrying' },
};

/** Drops the keys that belong to a standalone JSON Schema document, not to a schema embedded in OpenAPI. */
function embedded(schema: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

function schemaRef(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const id = apiSchemas.get(schema)?.id;
  if (id !== undefined) return { $ref: COMPONENT_REF(id) };
  return embedded(z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema);
}

function parameters(where: 'path' | 'query', schema: z.ZodObject | undefined): JsonSchema[] {
  if (schema === undefined) return [];
  const json = z.toJSONSchema(schema, { io: 'input' }) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...propertySchema } = property;
    return {
      name,
      in: where,
      required: where === 'path' || (json.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: propertySchema,
    };
  });
}

function headerParameters(headers: Operation['headers']): JsonSchema[] {
  return Object.entries(headers ?? {}).map(([name, schema]) => {
    const { description, ...rest } = embedded(z.toJSONSchema(schema, { io: 'input' }) as JsonSchema);
    return {
      name,
      in: 'header',
      required: false,
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

function headerObjects(headers: Record<string, string> | undefined): JsonSchema | undefined {
  if (headers === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }]),
  );
}

function operationObject(operation: Operation): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, spec] of Object.entries(operation.responses)) {
    const content = spec.schema
      ? { 'application/json': { schema: schemaRef(spec.schema, 'output') } }
      : spec.contentType
        ? { [spec.contentType]: { schema: { type: 'string' } } }
        : undefined;
    const headers = headerObjects(spec.headers);
    responses[status] = {
      description: spec.description,
      ...(headers ? { headers } : {}),
      ...(content ? { content } : {}),
    };
  }
  for (const status of operation.problems) {
    const headers = headerObjects(PROBLEM_HEADERS[status]);
    responses[String(status)] = {
      description: PROBLEM_DESCRIPTIONS[status] ?? 'Problem',
      ...(headers ? { headers } : {}),
      content: { 'application/problem+json': { schema: { $ref: COMPONENT_REF('Problem') } } },
    };
  }
  const params = [
    ...parameters('path', operation.params),
    ...parameters('query', operation.query),
    ...headerParameters(operation.headers),
  ];
  return {
    operationId: operation.operationId,
    summary: operation.summary,
    ...(operation.description ? { description: operation.description } : {}),
    tags: [operation.tag],
    ...(params.length > 0 ? { parameters: params } : {}),
    security: operation.scope ? [{ bearerAuth: [] }, { apiKeyHeader: [] }] : [],
    ...(operation.scope ? { 'x-required-scope': operation.scope } : {}),
    responses,
  };
}

export function openApiDocument(operations: readonly Operation[], version: string): JsonSchema {
  // Referenced by every problem response, so it must be a component even if no operation names it directly.
  if (apiSchemas.get(problemSchema)?.id !== 'Problem') throw new Error('Problem schema is not registered');
  const components = z.toJSONSchema(apiSchemas, { io: 'output', uri: COMPONENT_REF }) as {
    schemas: Record<string, JsonSchema>;
  };
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const operation of operations) {
    paths[operation.path] ??= {};
    const item = paths[operation.path];
    if (item) item[operation.method.toLowerCase()] = operationObject(operation);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'precis API',
      version,
      description:
        'Cached AI summaries of dashboards, live updates, refresh requests and workflow status. Operations under ' +
        '/v1 need an API key with the scope named in `x-required-scope`; errors are RFC 9457 problem details.',
    },
    tags: [
      { name: 'dashboards', description: 'Summaries and refreshes' },
      { name: 'workflows', description: 'Summarization runs in Temporal' },
      { name: 'operations', description: 'Health, readiness, metrics and this document (no key needed)' },
    ],
    paths,
    components: {
      schemas: Object.fromEntries(
        Object.entries(components.schemas).map(([id, schema]) => [id, embedded(schema)]),
      ),
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key' },
      },
    },
  };
}
