// OpenTelemetry set-up, loaded before the app (`node --require ./tracing.js`).
// The NodeSDK reads the OTEL_* environment: exporters (OTLP/gRPC to
// host.docker.internal:4317 in the compose file), OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES (service.version, deployment.environment).
// Auto-instrumentation covers express, the HTTP server and client (W3C
// traceparent in and out); OTEL_SEMCONV_STABILITY_OPT_IN=http gives the
// stable `http.server.request.duration` histogram.
'use strict';

const { NodeSDK } = require('@opentelemetry/sdk-node');
const { getNodeAutoInstrumentations } = require('@opentelemetry/auto-instrumentations-node');

const sdk = new NodeSDK({
  instrumentations: [
    getNodeAutoInstrumentations({
      '@opentelemetry/instrumentation-fs': { enabled: false },
      '@opentelemetry/instrumentation-dns': { enabled: false },
      '@opentelemetry/instrumentation-net': { enabled: false },
    }),
  ],
});
sdk.start();

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => sdk.shutdown().finally(() => process.exit(0)));
}
