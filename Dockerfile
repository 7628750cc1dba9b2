# One image for every precis process (api, ingest, pipeline worker, LLM worker, setup jobs); docker-compose.yml
# builds it once and picks the entry point per service.

# Build stage: every dependency (TypeScript, the workflow bundler), then dist/ and dist/workflow-bundle.js.
FROM node:20.19-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY api ./api
COPY scripts ./scripts
RUN npm run build

# Runtime dependencies only, installed apart so that no build tool reaches the final image.
FROM node:20.19-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

FROM node:20.19-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# Files precis reads at run time (defaults of PRECIS_DASHBOARDS_DIR, PRECIS_PROMPTS_DIR, PRECIS_PRICES_FILE).
COPY --chown=root:root dashboards ./dashboards
COPY --chown=root:root prompts ./prompts
COPY --chown=root:root config ./config
# Owned by root, run as the image's unprivileged `node` user: the process cannot rewrite its own code.
USER node
EXPOSE 8080 9464 9465 9466
CMD ["node", "dist/api/server.js"]
