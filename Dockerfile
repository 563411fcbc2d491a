# syntax=docker/dockerfile:1
# One image for every gateway process: the api (default command), the workers
# (node dist/worker/main.js) and the one-shot migration (node dist/api/cli/main.js migrate).

FROM node:20-bookworm-slim AS build
WORKDIR /app
# swagger-ui-dist depends on @scarf/scarf, whose install script reports downloads to scarf.sh.
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf dist/test dist/bench

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Owned by root: the node user can read the code but not rewrite it.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# For WA_DRIVER=sim SIM_WORLD=examples/sim-world.json (an offline demo of the whole deployment).
COPY --from=build /app/examples ./examples
USER node
EXPOSE 3000
CMD ["node", "dist/api/main.js"]
