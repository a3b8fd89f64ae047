# live-origin: RTMP ingest on 1935, HLS origin + player on 8000.
# Node 22 LTS: Node 20 reached end of life in April 2026 (package.json's engines still allows
# 20.19+, for machines that have only that).
# Build stage: TypeScript and the player bundle need the dev dependencies.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY server ./server
COPY player ./player
RUN npm run build

# Runtime: Debian's ffmpeg (5.1, libx264 + AAC), production dependencies only. The optional npm
# ffmpeg binaries are left out (--omit=optional): the system ffmpeg is the one to use here.
FROM node:22-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    ORIGIN_MEDIA_DIR=/data \
    ORIGIN_HOST=0.0.0.0
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY transcode-profiles ./transcode-profiles
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 1935 1936 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.ORIGIN_HTTP_PORT||8000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node directly (not npm start): signals reach the server, which ends every stream cleanly on SIGTERM.
CMD ["node", "dist/server/main.js"]
