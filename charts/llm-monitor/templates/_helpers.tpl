{{/*
Chart name, overridable with nameOverride.
*/}}
{{- define "llm-monitor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, truncated to 63 characters because some Kubernetes name
fields are limited to that (DNS-1123 labels). If the release name already contains
the chart name it is used as is.
*/}}
{{- define "llm-monitor.fullname" -}}
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

{{/*
Chart name and version, as used by the helm.sh/chart label.
*/}}
{{- define "llm-monitor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels every object of this chart carries, without the component.
*/}}
{{- define "llm-monitor.baseLabels" -}}
helm.sh/chart: {{ include "llm-monitor.chart" . }}
app.kubernetes.io/name: {{ include "llm-monitor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "llm-monitor.name" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels of the gateway's objects.
*/}}
{{- define "llm-monitor.labels" -}}
{{ include "llm-monitor.baseLabels" . }}
app.kubernetes.io/component: gateway
{{- end }}

{{/*
Labels that select the gateway pods. They must never change between upgrades:
a Deployment's selector is immutable.
*/}}
{{- define "llm-monitor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-monitor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{/*
The simulator: its own name and selector, so the gateway's Service never selects it.
*/}}
{{- define "llm-monitor.simulator.fullname" -}}
{{- printf "%s-simulator" (include "llm-monitor.fullname" . | trunc 53 | trimSuffix "-") }}
{{- end }}

{{- define "llm-monitor.simulator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-monitor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: simulator
{{- end }}

{{- define "llm-monitor.simulator.labels" -}}
{{ include "llm-monitor.baseLabels" . }}
app.kubernetes.io/component: simulator
{{- end }}

{{/*
The image reference: by digest when one is given, else by tag, which defaults to the
chart's appVersion (the release workflow publishes the image and the chart together).
*/}}
{{- define "llm-monitor.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Name of the ServiceAccount the gateway runs as.
*/}}
{{- define "llm-monitor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "llm-monitor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Secret holding the Hugging Face token: the user's existingSecret, or the one this
chart creates from hfToken. Empty when there is no token at all.
*/}}
{{- define "llm-monitor.hfTokenSecretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else if .Values.hfToken }}
{{- include "llm-monitor.fullname" . }}
{{- end }}
{{- end }}

{{- define "llm-monitor.hfTokenSecretKey" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecretKey }}
{{- else }}
{{- "HF_TOKEN" }}
{{- end }}
{{- end }}

{{/*
The simulator's headless Service: its name resolves to every simulator pod, one pool
address each.
*/}}
{{- define "llm-monitor.simulator.podsName" -}}
{{- printf "%s-pods" (include "llm-monitor.simulator.fullname" . | trunc 58 | trimSuffix "-") }}
{{- end }}

{{/*
Where the gateway sends inference requests: the bundled simulator's pods when it is
on, else gateway.upstreamUrl and gateway.upstreamUrls as one comma-separated pool
(empty lets the gateway use Hugging Face's providers).
*/}}
{{- define "llm-monitor.upstreamUrl" -}}
{{- if .Values.simulator.enabled }}
{{- printf "http://%s:%d" (include "llm-monitor.simulator.podsName" .) (int .Values.simulator.service.port) }}
{{- else }}
{{- concat (compact (list .Values.gateway.upstreamUrl)) .Values.gateway.upstreamUrls | join "," }}
{{- end }}
{{- end }}

{{/*
The bundled Redis: its name and selector, apart from the gateway's.
*/}}
{{- define "llm-monitor.redis.fullname" -}}
{{- printf "%s-redis" (include "llm-monitor.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{- define "llm-monitor.redis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-monitor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "llm-monitor.redis.labels" -}}
{{ include "llm-monitor.baseLabels" . }}
app.kubernetes.io/component: redis
{{- end }}

{{/*
The Redis holding the rate limits: the bundled one, or redis.url; empty for none.
*/}}
{{- define "llm-monitor.redisUrl" -}}
{{- if .Values.redis.enabled }}
{{- printf "redis://%s:6379/0" (include "llm-monitor.redis.fullname" .) }}
{{- else }}
{{- .Values.redis.url }}
{{- end }}
{{- end }}

{{/*
Secret holding the Redis password: redis.existingSecret, or the one the chart
generates for the bundled Redis. Empty when there is no password.
*/}}
{{- define "llm-monitor.redisPasswordSecretName" -}}
{{- if .Values.redis.existingSecret }}
{{- .Values.redis.existingSecret }}
{{- else if .Values.redis.enabled }}
{{- include "llm-monitor.redis.fullname" . }}
{{- end }}
{{- end }}

{{- define "llm-monitor.redisPasswordSecretKey" -}}
{{- if .Values.redis.existingSecret }}
{{- .Values.redis.existingSecretKey }}
{{- else }}
{{- "redis-password" }}
{{- end }}
{{- end }}

{{/*
The `release` label kube-prometheus-stack's Prometheus selects ServiceMonitors and
PrometheusRules on. Defaults to this release, which is right for the umbrella install.
*/}}
{{- define "llm-monitor.prometheusReleaseLabel" -}}
{{- .Values.monitoring.releaseLabel | default .Release.Name }}
{{- end }}

{{/*
Where the client API keys Secret is mounted (read-only); LLM_GATEWAY_API_KEYS_FILE points into it.
*/}}
{{- define "llm-monitor.apiKeysDir" -}}
/etc/llm-gateway/api-keys
{{- end }}

{{/* Where the routing table's ConfigMap is mounted, and the file LLM_GATEWAY_CONFIG names. */}}
{{- define "llm-monitor.routingDir" -}}
/etc/llm-gateway/routing
{{- end }}
{{- define "llm-monitor.routingFile" -}}
{{ include "llm-monitor.routingDir" . }}/routing.yaml
{{- end }}

{{/*
The PromQL matchers every alert and recording rule selects its series with:
prometheusRule.selector, or the job the ServiceMonitor sets (and this release's
namespace with prometheusRule.scopeToNamespace).
*/}}
{{- define "llm-monitor.ruleSelector" -}}
{{- with .Values.prometheusRule.selector }}
{{- . }}
{{- else }}
{{- printf "job=%q" .Values.serviceMonitor.jobLabel }}
{{- if .Values.prometheusRule.scopeToNamespace }}
{{- printf ", namespace=%q" .Release.Namespace }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The pod spec both Deployments share: one image, ServiceAccount and pull secrets, the
security contexts, a writable /tmp (the root filesystem is read-only), node selection
and tolerations. Called with a dict:
  root          the chart's context
  name          the container's name
  command       its first argument, `serve` or `simulate`, which listens on 0.0.0.0:<port>
  port          its HTTP port, named `http`
  pod           YAML of the pod fields only this Deployment has (optional)
  container     YAML of the container fields only it has: env, lifecycle, probes, resources
  mounts        YAML of more volumeMounts, volumes: of more volumes (optional)
  tmpSizeLimit  the size limit of /tmp (empty: none)
*/}}
{{- define "llm-monitor.podSpec" -}}
{{- $values := .root.Values -}}
# Service links would inject variables such as LLM_GATEWAY_PORT=tcp://... for a
# Service named llm-gateway, which the settings (env prefix LLM_GATEWAY_) reject.
enableServiceLinks: false
serviceAccountName: {{ include "llm-monitor.serviceAccountName" .root }}
automountServiceAccountToken: {{ $values.serviceAccount.automountServiceAccountToken }}
{{- with $values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $values.podSecurityContext | nindent 2 }}
{{- with .pod }}
{{ . }}
{{- end }}
containers:
  - name: {{ .name }}
    image: {{ include "llm-monitor.image" .root | quote }}
    imagePullPolicy: {{ $values.image.pullPolicy }}
    args: [{{ .command | quote }}, "--host", "0.0.0.0", "--port", "{{ .port }}"]
    ports:
      - name: http
        containerPort: {{ .port }}
        protocol: TCP
    {{- with .container }}
    {{- . | nindent 4 }}
    {{- end }}
    securityContext:
      {{- toYaml $values.securityContext | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      {{- with .mounts }}
      {{- . | nindent 6 }}
      {{- end }}
volumes:
  - name: tmp
    {{- if .tmpSizeLimit }}
    emptyDir:
      sizeLimit: {{ .tmpSizeLimit }}
    {{- else }}
    emptyDir: {}
    {{- end }}
  {{- with .volumes }}
  {{- . | nindent 2 }}
  {{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
