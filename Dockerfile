# uasyncd as a container: built with the same install script and CMake commands as CI
# (scripts/install-deps.sh, scripts/test.sh), run from a slim image holding only the libraries.
#
#   docker build -t uasyncd .
#   docker run -p 8080:8080 -v uasyncd-data:/data uasyncd

FROM debian:bookworm AS build
WORKDIR /src
# The install script first, alone: its layer (the slow apt step) is reused until it changes.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DUASYNCD_BENCH=OFF \
 && cmake --build build/release -j "$(nproc)" --target uasyncd \
 && strip -o /uasyncd build/release/server/uasyncd

FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="uasyncd" \
      org.opencontainers.image.description="uasyncio tasks over HTTP"
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libuv1 libspdlog1.10 libfmt9 libcpp-httplib0.11 libsqlite3-0 libpq5 libssl3 libdate-tz3 \
      tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /data --shell /usr/sbin/nologin uasyncd \
 && mkdir -p /data \
 && chown uasyncd:uasyncd /data
COPY --from=build /uasyncd /usr/local/bin/uasyncd
USER uasyncd
WORKDIR /data
# Set as variables, not only flags, so that `docker run ... uasyncd --token x` keeps them and the
# health probe reads the same address.
ENV UASYNCD_LISTEN=0.0.0.0:8080 \
    UASYNCD_DATA_DIR=/data
EXPOSE 8080
VOLUME /data
# The daemon probes itself (GET /healthz, exit 0 or 1): no curl in the image. (No
# --start-period: dockerfilelint misreads hyphenated options; the daemon starts in milliseconds.)
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD ["uasyncd", "--healthcheck"]
ENTRYPOINT ["uasyncd"]
CMD ["--listen", "0.0.0.0:8080"]
