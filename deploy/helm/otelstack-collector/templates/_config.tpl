{{/*
The collector config: the default for the mode, with .Values.config
deep-merged over it (maps key by key, lists replaced whole, as the upstream
chart does).

Gateway (deployment, statefulset): OTLP in; memory_limiter, batch; traces to
Tempo and to spanmetrics; OTLP metrics and span metrics on the prometheus
exporter (:8889) for a ServiceMonitor. It is the compose stack's collector
without what needs a credential (the mysql exporter: see
examples/kubernetes/gateway-mariadb-values.yaml) or a remote-write receiver.

Agent (daemonset): OTLP in on the node's hostPort; memory_limiter, the
node's name as a resource attribute, batch; everything on to the gateway
Service with the otlp exporter.
*/}}

{{- define "otelstack-collector.commonConfig" -}}
extensions:
  health_check:
    endpoint: 0.0.0.0:13133
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
      http:
        endpoint: 0.0.0.0:4318
processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 25
  batch: {}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 0.0.0.0:8888
{{- end }}

{{- define "otelstack-collector.gatewayConfig" -}}
connectors:
  spanmetrics:
    exemplars:
      enabled: true
    metrics_flush_interval: 15s
exporters:
  otlp/tempo:
    endpoint: tempo:4317
    tls:
      insecure: true
  prometheus:
    endpoint: 0.0.0.0:8889
    enable_open_metrics: true
  # Logs have no backend in the stack's Kubernetes layout yet: replace it
  # (config.exporters + config.service.pipelines.logs) with yours.
  debug:
    verbosity: basic
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlp/tempo, spanmetrics]
    metrics:
      receivers: [otlp, spanmetrics]
      processors: [memory_limiter, batch]
      exporters: [prometheus]
    logs:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [debug]
{{- end }}

{{- define "otelstack-collector.agentConfig" -}}
processors:
  resource/node:
    attributes:
      - key: k8s.node.name
        value: ${env:K8S_NODE_NAME}
        action: insert
exporters:
  otlp:
    endpoint: otelstack-collector.{{ include "otelstack-collector.namespace" . }}.svc.cluster.local:4317
    tls:
      insecure: true
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, resource/node, batch]
      exporters: [otlp]
    metrics:
      receivers: [otlp]
      processors: [memory_limiter, resource/node, batch]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [memory_limiter, resource/node, batch]
      exporters: [otlp]
{{- end }}

{{- define "otelstack-collector.config" -}}
{{- $config := include "otelstack-collector.commonConfig" . | fromYaml }}
{{- if eq .Values.mode "daemonset" }}
{{- $config = mustMergeOverwrite $config (include "otelstack-collector.agentConfig" . | fromYaml) }}
{{- else }}
{{- $config = mustMergeOverwrite $config (include "otelstack-collector.gatewayConfig" . | fromYaml) }}
{{- end }}
{{- $config = mustMergeOverwrite $config (deepCopy .Values.config) }}
{{- toYaml $config }}
{{- end }}
