# apptrace in one image: apptrace-proxy, apptrace-profiler, and the demo guestbook.
#
#   docker build -t apptrace .
#   docker build --build-arg NODE_IMAGE=node:20-slim -t apptrace .     # another Node 20+ base
#
# NODE_IMAGE must be a Debian-like image with node and npm on the PATH and a `node`
# user (uid 1000), as the official node images have.
ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: all dependencies (TypeScript among them), then the compiled dist/ ---------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The benchmarks' dev dependency @memlab/heap-analysis brings puppeteer, whose install
# script downloads a browser; the image needs none.
RUN PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# --- production dependencies only, straight from the lock file ------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime: what the three services run, as a non-root user -------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY --from=build /app/dist/contract ./dist/contract
COPY --from=build /app/dist/common ./dist/common
COPY --from=build /app/dist/analyses ./dist/analyses
COPY --from=build /app/dist/proxy ./dist/proxy
COPY --from=build /app/dist/profiler ./dist/profiler
COPY --from=build /app/dist/ui ./dist/ui
COPY --from=build /app/dist/browser ./dist/browser
# Not compiled: the UI's browser scripts and the demo app (plain JavaScript).
COPY ui/client ./ui/client
COPY demo/app ./demo/app
# The package's two commands on the PATH, as `npm install -g` would link them; /data
# owned by the runtime user, so a named volume mounted there starts out writable.
RUN chmod 755 dist/proxy/cli.js dist/profiler/cli.js \
 && ln -s /app/dist/proxy/cli.js /usr/local/bin/apptrace-proxy \
 && ln -s /app/dist/profiler/cli.js /usr/local/bin/apptrace-profiler \
 && mkdir -p /data \
 && chown node:node /data
USER node
EXPOSE 3000 8080 9300
CMD ["apptrace-proxy", "--help"]
