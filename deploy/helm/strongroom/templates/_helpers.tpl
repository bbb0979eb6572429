{{/* Names, labels and the checks every template relies on. */}}

{{- define "strongroom.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name; names of all namespaced objects. */}}
{{- define "strongroom.fullname" -}}
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

{{/* The metrics Service: <fullname>-metrics, within a Service name's 63 characters. */}}
{{- define "strongroom.metricsServiceName" -}}
{{- printf "%s-metrics" (include "strongroom.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{- define "strongroom.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "strongroom.selectorLabels" -}}
app.kubernetes.io/name: {{ include "strongroom.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "strongroom.labels" -}}
helm.sh/chart: {{ include "strongroom.chart" . }}
{{ include "strongroom.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: strongroom
{{- end }}

{{- define "strongroom.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "strongroom.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* <repository>@<digest> when image.digest is set, else <repository>:<tag>. */}}
{{- define "strongroom.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* image.pullPolicy, else Always for a tag and IfNotPresent for a digest. */}}
{{- define "strongroom.imagePullPolicy" -}}
{{- if .Values.image.pullPolicy }}
{{- .Values.image.pullPolicy }}
{{- else if .Values.image.digest }}
{{- "IfNotPresent" }}
{{- else }}
{{- "Always" }}
{{- end }}
{{- end }}

{{/* The public URL: publicUrl, else https://<ingress.host>. */}}
{{- define "strongroom.publicUrl" -}}
{{- if .Values.publicUrl }}
{{- .Values.publicUrl | trimSuffix "/" }}
{{- else if and .Values.ingress.enabled .Values.ingress.host }}
{{- printf "https://%s" .Values.ingress.host }}
{{- else }}
{{- fail "publicUrl is required (the URL people open, e.g. https://strongroom.example.com), or enable the Ingress with a host" }}
{{- end }}
{{- end }}

{{/*
Checks relations between values that a schema cannot express, with a
message that says what to change. Included by the Deployment, so every
render runs it.
*/}}
{{- define "strongroom.validate" -}}
{{- $db := .Values.database.mode }}
{{- if not (has $db (list "sqlite" "postgres")) }}
{{- fail (printf "database.mode must be sqlite or postgres, got %q" $db) }}
{{- end }}
{{- if and (eq $db "sqlite") (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "replicaCount is %d but database.mode is sqlite: SQLite is a file on a ReadWriteOnce volume and supports exactly one replica. Use replicaCount: 1, or database.mode: postgres with database.postgres.existingSecret for several replicas." (int .Values.replicaCount)) }}
{{- end }}
{{- if and (eq $db "postgres") (not .Values.database.postgres.existingSecret) }}
{{- fail "database.mode is postgres: set database.postgres.existingSecret to a Secret holding the connection URL (key database.postgres.existingSecretKey)" }}
{{- end }}
{{- if and (eq $db "postgres") .Values.database.postgres.existingSecret (or (not .Values.audit.hmacKey.existingSecret) (not .Values.audit.chainKey.existingSecret)) }}
{{- fail "database.mode is postgres: set audit.hmacKey.existingSecret and audit.chainKey.existingSecret (every replica needs the same audit keys, and they must not live in the database)" }}
{{- end }}
{{- $reuse := "is not set: `helm upgrade --reuse-values` keeps the previous chart's defaults, which lack values this chart added; upgrade with your values file or --reset-then-reuse-values" }}
{{- if not .Values.metrics.port }}
{{- fail (printf "metrics.port %s" $reuse) }}
{{- end }}
{{- $tls := .Values.database.postgres.tls }}
{{- if not $tls.mode }}
{{- fail (printf "database.postgres.tls.mode %s" $reuse) }}
{{- end }}
{{- if and $tls.caSecret $tls.caConfigMap }}
{{- fail "database.postgres.tls: set caSecret or caConfigMap, not both (one CA bundle is mounted)" }}
{{- end }}
{{- if and (eq $db "postgres") (or $tls.caSecret $tls.caConfigMap) (not (has $tls.mode (list "verify-ca" "verify-full"))) }}
{{- fail (printf "database.postgres.tls.mode is %s but a CA bundle is set: the server only checks certificates with verify-ca or verify-full (verify-full also checks the host name; unlike libpq, require does not use the bundle)" $tls.mode) }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled .Values.networkPolicy.enabled (not .Values.networkPolicy.metricsFrom) }}
{{- fail "metrics.serviceMonitor.enabled is true but networkPolicy.metricsFrom is empty: the NetworkPolicy closes the metrics port to everyone not named there, so Prometheus could not scrape it. Set networkPolicy.metricsFrom to Prometheus' peers, e.g. [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}, podSelector: {matchLabels: {app.kubernetes.io/name: prometheus}}}]" }}
{{- end }}
{{- if eq (int .Values.metrics.port) 3000 }}
{{- fail "metrics.port must not be 3000: that is the app's port, and /metrics is served apart from it" }}
{{- end }}
{{- if not .Values.oidc.issuer }}
{{- fail "oidc.issuer is required (your IdP's issuer URL)" }}
{{- end }}
{{- if not .Values.oidc.existingSecret }}
{{- fail "oidc.existingSecret is required: the name of a Secret holding the OIDC client secret" }}
{{- end }}
{{- if not (has .Values.rbac.mode (list "auto" "classic" "constrained")) }}
{{- fail (printf "rbac.mode must be auto, classic or constrained, got %q" .Values.rbac.mode) }}
{{- end }}
{{- $mode := include "strongroom.rbacMode" . }}
{{- if and (eq $mode "constrained") (not (contains "/" .Values.rbac.auditExtraKey)) }}
{{- fail (printf "rbac.mode is constrained but rbac.auditExtraKey %q has no domain prefix: constrained impersonation refuses extra keys that are not domain-prefixed paths (such as strongroom.dev/audit-id), so every reveal and change would be forbidden. Use a server that sends a domain-prefixed key and set rbac.auditExtraKey to it, or use rbac.mode: classic." .Values.rbac.auditExtraKey) }}
{{- end }}
{{- if not .Values.audit.required }}
{{- fail "audit.required must name at least one sink: values never leave unaudited" }}
{{- end }}
{{- range .Values.audit.required }}
{{- if not (has . $.Values.audit.sinks) }}
{{- fail (printf "audit.required names %q, which is not in audit.sinks" .) }}
{{- end }}
{{- end }}
{{- if and .Values.cookieSecure (not (hasPrefix "https://" (include "strongroom.publicUrl" .))) }}
{{- fail "cookieSecure is true but publicUrl is not https: secure cookies need https (set cookieSecure: false only for plain-http experiments)" }}
{{- end }}
{{- end }}

{{/*
The impersonation mode in effect: rbac.mode, with "auto" resolved to the
narrowest mode the cluster supports (constrained impersonation from
Kubernetes 1.36 on).
*/}}
{{- define "strongroom.rbacMode" -}}
{{- if eq .Values.rbac.mode "auto" -}}
{{- if semverCompare ">=1.36.0-0" .Capabilities.KubeVersion.Version -}}constrained{{- else -}}classic{{- end -}}
{{- else -}}
{{- .Values.rbac.mode -}}
{{- end -}}
{{- end }}
