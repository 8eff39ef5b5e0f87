//! The pinned image of every backend, in one place: rendered into `.env` as
//! `X_IMAGE=...` and into the compose file as `${X_IMAGE:-...}` defaults.
//! Never `latest`. Each backend's config template is written for the version
//! pinned here and cites that version's documentation.

/// Grafana 13.2.0 (provisioning format: grafana.com/docs/grafana/v13.0/administration/provisioning/).
pub const GRAFANA: &str = "grafana/grafana:13.2.0";
/// Tempo 3.0.3, monolithic (`target: all`, no Kafka).
pub const TEMPO: &str = "grafana/tempo:3.0.3";
/// Prometheus 3.14.0. The rendered prometheus.yml also loads in 2.42, which the tests run.
pub const PROMETHEUS: &str = "prom/prometheus:v3.14.0";
/// Jaeger v2 (collector-style YAML config).
pub const JAEGER: &str = "jaegertracing/jaeger:2.19.0";
/// Alertmanager 0.28 (optional: `stackctl init --with alertmanager`; v2 API, config format:
/// prometheus.io/docs/alerting/0.28/configuration/).
pub const ALERTMANAGER: &str = "prom/alertmanager:v0.28.1";
/// MariaDB 11.8 LTS (its image ships `healthcheck.sh`).
pub const MARIADB: &str = "mariadb:11.8";

/// This project's collector image, tagged with the crate version: built by
/// the root `Dockerfile` (clone) or `stackctl image build` (init'd project).
pub fn collector() -> String {
    format!("otelstack/collector:{}", env!("CARGO_PKG_VERSION"))
}
