# The otelstack collector image: a multi-stage build into a small final image
# with no shell, running as uid 10001.
#
#   docker build -t otelstack/collector:0.1.0 .
#   (compose/docker-compose.yml builds it for `cd compose && docker compose up`)
#
# Both base images are build arguments so a machine without a registry can
# substitute local ones, e.g.
#   docker build --build-arg BUILD_IMAGE=my/rust:local --build-arg RUNTIME_IMAGE=my/debian:bookworm .
# The runtime image needs glibc (the binary links it dynamically) and, for
# TLS to public endpoints, the CA certificates: distroless/cc has both and
# nothing else. Container contract (the compose file relies on it): binary
# /usr/local/bin/otelstack-collector, config /etc/otelstack/config.yaml,
# health probe `otelstack-collector healthcheck` (GETs 127.0.0.1:13133).

ARG BUILD_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# Cargo.toml names the bench target, so benches/ must be present to build.
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
COPY src ./src
# `install -s` strips the copy that goes into the image (the release profile
# keeps line tables for `perf` in target/release; the image has no use for
# them: ~94 MB -> ~20 MB). Symbols stay in the build stage's target/.
RUN cargo build --release --locked --bin otelstack-collector \
    && install -D -s -m 0755 target/release/otelstack-collector /out/otelstack-collector

FROM ${RUNTIME_IMAGE} AS runtime
COPY --from=build /out/otelstack-collector /usr/local/bin/otelstack-collector
USER 10001:10001
# OTLP gRPC, OTLP HTTP, self metrics, prometheus exporter, health_check.
EXPOSE 4317 4318 8888 8889 13133
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=6 \
    CMD ["/usr/local/bin/otelstack-collector", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/otelstack-collector"]
CMD ["--config", "/etc/otelstack/config.yaml"]
