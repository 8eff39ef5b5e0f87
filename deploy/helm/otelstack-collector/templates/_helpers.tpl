{{/* Names, labels and small pieces shared by the templates. */}}

{{- define "otelstack-collector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "otelstack-collector.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "otelstack-collector.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{- define "otelstack-collector.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* agent for daemonset mode, gateway otherwise. */}}
{{- define "otelstack-collector.component" -}}
{{- if eq .Values.mode "daemonset" }}agent{{ else }}gateway{{ end }}
{{- end }}

{{- define "otelstack-collector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "otelstack-collector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ include "otelstack-collector.component" . }}
{{- end }}

{{- define "otelstack-collector.labels" -}}
helm.sh/chart: {{ include "otelstack-collector.chart" . }}
{{ include "otelstack-collector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.additionalLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "otelstack-collector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "otelstack-collector.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "otelstack-collector.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The downward-API variables the default configs use, then extraEnvs. */}}
{{- define "otelstack-collector.env" -}}
- name: K8S_NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: K8S_POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: K8S_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- with .Values.extraEnvs }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "otelstack-collector.validateValues" -}}
{{- if not (has .Values.mode (list "deployment" "daemonset" "statefulset")) }}
{{- fail (printf "mode %q is not supported: set mode to deployment, daemonset or statefulset" .Values.mode) }}
{{- end }}
{{- end }}
