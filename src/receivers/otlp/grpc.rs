//! OTLP/gRPC: the three `Export` methods, served by tonic with a bytes codec
//! so requests are never decoded into message trees here.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::IntoResponse;
use bytes::Bytes;
use futures::future::Either;
use serde::Deserialize;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use super::ingest::Ingest;
use crate::component::{ConsumeError, Invalid};
use crate::config::types::GoDuration;
use crate::otlp::grpc_codec::BytesCodec;
use crate::receivers::http_server;
use crate::runtime::auth::ServerAuth;
use crate::runtime::bind;
use crate::signal::{Batch, Signal};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcConfig {
    pub endpoint: String,
    pub transport: String,
    pub max_recv_msg_size_mib: u64,
    pub max_concurrent_streams: u32,
    pub read_buffer_size: Option<u64>,
    pub write_buffer_size: Option<u64>,
    pub keepalive: Option<ServerKeepalive>,
    pub include_metadata: bool,
    pub tls: Option<crate::tls::TlsServerConfig>,
    pub auth: Option<crate::runtime::auth::AuthSettings>,
}

/// configgrpc's server `keepalive`: `server_parameters.time`/`timeout`
/// drive HTTP/2 pings; the settings tonic has no knob for are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerKeepalive {
    pub server_parameters: Option<ServerParameters>,
    pub enforcement_policy: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerParameters {
    pub max_connection_idle: Option<GoDuration>,
    pub max_connection_age: Option<GoDuration>,
    pub max_connection_age_grace: Option<GoDuration>,
    pub time: Option<GoDuration>,
    pub timeout: Option<GoDuration>,
}

impl GrpcConfig {
    /// The keys this receiver cannot honour, refused rather than ignored;
    /// paths are relative to `protocols.grpc`.
    pub fn validate_options(&self) -> Result<(), Invalid> {
        if self.transport != "tcp" {
            return Err(Invalid::at(
                "transport",
                format!(
                    "{:?} is not supported: the gRPC server listens on TCP only (no unix sockets); use transport: tcp \
                     with a host:port endpoint",
                    self.transport
                ),
            ));
        }
        if self.include_metadata {
            return Err(Invalid::at("include_metadata", http_server::INCLUDE_METADATA));
        }
        for (key, size) in [("read_buffer_size", self.read_buffer_size), ("write_buffer_size", self.write_buffer_size)]
        {
            if size.is_some() {
                return Err(Invalid::at(
                    key,
                    "is not supported: socket buffer sizes are left to the operating system here; remove it",
                ));
            }
        }
        let Some(k) = &self.keepalive else { return Ok(()) };
        if k.enforcement_policy.is_some() {
            return Err(Invalid::at(
                "keepalive.enforcement_policy",
                "is not supported: clients' pings are not policed here; remove enforcement_policy",
            ));
        }
        if let Some(p) = &k.server_parameters {
            for (key, set) in [
                ("max_connection_idle", p.max_connection_idle.is_some()),
                ("max_connection_age", p.max_connection_age.is_some()),
                ("max_connection_age_grace", p.max_connection_age_grace.is_some()),
            ] {
                if set {
                    return Err(Invalid::at(
                        format!("keepalive.server_parameters.{key}"),
                        "is not supported: connections are not aged out here; remove it (keepalive time/timeout are supported)",
                    ));
                }
            }
            if p.time.is_some_and(|t| t.is_zero()) {
                return Err(Invalid::at(
                    "keepalive.server_parameters.time",
                    "must be above 0; remove it to send no pings",
                ));
            }
        }
        Ok(())
    }
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            endpoint: "localhost:4317".into(),
            transport: "tcp".into(),
            max_recv_msg_size_mib: 4,
            max_concurrent_streams: 0,
            read_buffer_size: None,
            write_buffer_size: None,
            keepalive: None,
            include_metadata: false,
            tls: None,
            auth: None,
        }
    }
}

pub(super) async fn serve(
    cfg: &GrpcConfig,
    ingest: Ingest,
    auth: Option<Arc<dyn ServerAuth>>,
    stop: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let tls = cfg.tls.as_ref().map(|t| t.server_config(&[b"h2"])).transpose()?;
    let listener = bind(&cfg.endpoint, "OTLP/gRPC").await?;
    let max = usize::try_from(cfg.max_recv_msg_size_mib.max(1) * 1024 * 1024).unwrap_or(usize::MAX);
    let mut router = axum::Router::new();
    for signal in Signal::ALL.into_iter().filter(|s| ingest.accepts(*s)) {
        let ingest = ingest.clone();
        let auth = auth.clone();
        router = router.route(
            signal.grpc_path(),
            axum::routing::post(move |req: http::Request<Body>| {
                let (ingest, auth) = (ingest.clone(), auth.clone());
                async move {
                    // credentials are checked before the message is read
                    if let Some(Err(message)) = auth.map(|a| a.authenticate(req.headers())) {
                        return Status::unauthenticated(message).into_http::<Body>().into_response();
                    }
                    let mut grpc = tonic::server::Grpc::new(BytesCodec)
                        .accept_compressed(CompressionEncoding::Gzip)
                        .accept_compressed(CompressionEncoding::Zstd)
                        .send_compressed(CompressionEncoding::Gzip)
                        .max_decoding_message_size(max);
                    let mut response = grpc.unary(ExportService { ingest, signal }, req).await;
                    too_large_is_resource_exhausted(&mut response);
                    response.into_response()
                }
            }),
        );
    }
    let streams = (cfg.max_concurrent_streams > 0).then_some(cfg.max_concurrent_streams);
    let keepalive = cfg.keepalive.as_ref().and_then(|k| k.server_parameters.as_ref());
    let server = tonic::transport::Server::builder()
        .max_concurrent_streams(streams)
        .tcp_nodelay(true)
        .http2_adaptive_window(Some(true))
        .http2_keepalive_interval(keepalive.and_then(|p| p.time).map(|t| t.0))
        // grpc-go's server default ping timeout
        .http2_keepalive_timeout(keepalive.and_then(|p| p.timeout).map(|t| t.0).or(Some(Duration::from_secs(20))))
        .add_routes(tonic::service::Routes::from(router));
    let endpoint = cfg.endpoint.clone();
    tracing::info!(endpoint = %endpoint, tls = tls.is_some(), "OTLP/gRPC receiver listening");
    let incoming = match tls {
        Some(config) => Either::Left(crate::tls::TlsListener::new(listener, config, stop.clone())?.into_stream()),
        None => Either::Right(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    };
    Ok(tokio::spawn(async move {
        let served = match incoming {
            Either::Left(tls) => server.serve_with_incoming_shutdown(tls, stop.cancelled_owned()).await,
            Either::Right(tcp) => server.serve_with_incoming_shutdown(tcp, stop.cancelled_owned()).await,
        };
        if let Err(e) = served {
            tracing::error!(endpoint = %endpoint, error = %e, "OTLP/gRPC server stopped with an error");
        }
    }))
}

#[derive(Clone)]
struct ExportService {
    ingest: Ingest,
    signal: Signal,
}

impl tonic::server::UnaryService<Bytes> for ExportService {
    type Response = Bytes;
    type Future = futures::future::BoxFuture<'static, Result<Response<Bytes>, Status>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let message = request.into_inner();
            let _admitted = match this.ingest.admission.admit(message.len()) {
                Ok(permit) => permit,
                Err(ConsumeError::Refused { reason, retry_after }) => return Err(unavailable(&reason, retry_after)),
                Err(e) => return Err(Status::internal(e.to_string())),
            };
            let batch =
                Batch::from_encoded(this.signal, message).map_err(|e| Status::invalid_argument(e.to_string()))?;
            match this.ingest.push(batch).await {
                Ok(()) => Ok(Response::new(Bytes::new())),
                Err(ConsumeError::Refused { reason, retry_after }) => Err(unavailable(&reason, retry_after)),
                Err(ConsumeError::Permanent(reason)) => Err(Status::internal(reason)),
            }
        })
    }
}

/// tonic answers a message over the size limit with OUT_OF_RANGE; OTLP
/// (and otelcol) use RESOURCE_EXHAUSTED, which clients do not retry.
fn too_large_is_resource_exhausted<B>(response: &mut http::Response<B>) {
    let headers = response.headers_mut();
    if headers.get("grpc-status").is_some_and(|v| v == "11") {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
}

/// UNAVAILABLE with a `google.rpc.RetryInfo` detail when a delay is known.
fn unavailable(reason: &str, retry_after: Option<Duration>) -> Status {
    let Some(delay) = retry_after else { return Status::unavailable(reason) };
    let mut duration = Vec::new();
    prost::encoding::int64::encode(1, &(delay.as_secs() as i64), &mut duration);
    let mut retry_info = Vec::new();
    prost::encoding::bytes::encode(1, &duration, &mut retry_info);
    let mut any = Vec::new();
    prost::encoding::string::encode(1, &"type.googleapis.com/google.rpc.RetryInfo".to_owned(), &mut any);
    prost::encoding::bytes::encode(2, &retry_info, &mut any);
    let mut status = crate::otlp::status_proto(tonic::Code::Unavailable as i32, reason);
    prost::encoding::bytes::encode(3, &any, &mut status);
    Status::with_details(tonic::Code::Unavailable, reason, Bytes::from(status))
}
