# syntax=docker/dockerfile:1
#
# Gatehouse: the authenticating gateway for the Ollama API, as a small non-root image.
#   docker build -t gatehouse .
#   docker compose up -d            (compose.yaml: Ollama on an internal network, only Gatehouse published)
#
# Base images are pinned by exact tag and by digest (the multi-arch index digest published for that
# tag). The digests were not pulled from this repository's build machine, which has no registry
# access: they are the values several independent public projects pin for the same tags. A wrong
# digest makes the build fail; it can never silently swap the image. To refresh them:
#   docker buildx imagetools inspect node:20.20.2-bookworm-slim

# --- 1. Compile TypeScript (needs the dev dependencies; nothing of this stage ships) -------------
FROM node:20.20.2-bookworm@sha256:8f693eaa7e0a8e71560c9a82b55fd54c2ae920a2ba5d2cde28bac7d1c01c9ba5 AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json
# The web console (console/ → dist/console, esbuild; its JS API needs no install script).
COPY scripts/build-console.mjs ./scripts/build-console.mjs
COPY console ./console
RUN node scripts/build-console.mjs

# --- 2. Production dependencies only; better-sqlite3 is native and is built here, where the ------
#        compiler is (the full image has python3, make and g++), for the same Node and glibc.
FROM node:20.20.2-bookworm@sha256:8f693eaa7e0a8e71560c9a82b55fd54c2ae920a2ba5d2cde28bac7d1c01c9ba5 AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 \
 && npm cache clean --force

# --- 3. Runtime: slim, no compiler, no npm cache; code owned by root, run as the image's `node` ---
FROM node:20.20.2-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0 AS runtime
ENV NODE_ENV=production \
    GATEHOUSE_CONFIG=/etc/gatehouse/gatehouse.yaml
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/console ./dist/console
COPY package.json ./
COPY deploy/docker/healthcheck.mjs ./deploy/docker/healthcheck.mjs
COPY deploy/docker/gatehouse.yaml /etc/gatehouse/gatehouse.yaml
# The data dir belongs to `node` (uid 1000) with mode 0700; a named volume mounted there inherits that.
RUN install -d -o node -g node -m 0700 /var/lib/gatehouse \
 && chmod 0755 /app/dist/src/main.js \
 && ln -s /app/dist/src/main.js /usr/local/bin/gatehouse
USER node
VOLUME ["/var/lib/gatehouse"]
EXPOSE 11435
# /healthz over http or https, whichever the configuration says (see healthcheck.mjs).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "/app/deploy/docker/healthcheck.mjs"]
ENTRYPOINT ["node", "/app/dist/src/main.js"]
CMD ["serve"]
