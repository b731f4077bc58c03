{{/*
Names, labels and the values every template derives from (one place each).
*/}}

{{- define "helmbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: <release>-helmbot, or the release name when it already contains the chart name.
*/}}
{{- define "helmbot.fullname" -}}
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

{{- define "helmbot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "helmbot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "helmbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "helmbot.labels" -}}
helm.sh/chart: {{ include "helmbot.chart" . }}
{{ include "helmbot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: helmbot
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "helmbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "helmbot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image, pinned by tag (default: appVersion), optionally by digest too.
*/}}
{{- define "helmbot.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The Secret holding the tokens: the existing one, or the chart's own.
*/}}
{{- define "helmbot.secretName" -}}
{{- default (include "helmbot.fullname" .) .Values.auth.existingSecret }}
{{- end }}

{{/*
State store: "postgresql" or "sqlite" (from config.state.url).
*/}}
{{- define "helmbot.stateKind" -}}
{{- $url := .Values.config.state.url }}
{{- if or (hasPrefix "postgresql://" $url) (hasPrefix "postgres://" $url) }}postgresql
{{- else if hasPrefix "sqlite:///" $url }}sqlite
{{- else }}{{ fail (printf "config.state.url must be sqlite:////ABSOLUTE/PATH or postgresql://USER@HOST/DB, got %q" $url) }}
{{- end }}
{{- end }}

{{/*
The directory of the SQLite database file (the volume mounted there). The URL follows SQLAlchemy, as the bot
does: sqlite:////var/lib/helmbot/helmbot.db is the absolute path /var/lib/helmbot/helmbot.db, while
sqlite:///var/lib/... would be relative to the working directory, outside the volume: refused.
*/}}
{{- define "helmbot.sqliteDir" -}}
{{- $url := .Values.config.state.url }}
{{- if not (hasPrefix "sqlite:////" $url) }}
{{- fail (printf "config.state.url %q is a relative path (sqlite:///PATH is relative to the working directory, outside the volume): use an absolute one with four slashes, e.g. sqlite:////var/lib/helmbot/helmbot.db" $url) }}
{{- end }}
{{- $path := clean (trimPrefix "sqlite:///" $url) }}
{{- if eq (dir $path) "/" }}
{{- fail (printf "config.state.url %q: the database must be a file in a directory of its own (e.g. sqlite:////var/lib/helmbot/helmbot.db)" $url) }}
{{- end }}
{{- dir $path }}
{{- end }}

{{- define "helmbot.leaseNamespace" -}}
{{- default .Release.Namespace .Values.config.leader_election.namespace }}
{{- end }}

{{- define "helmbot.leaseName" -}}
{{- default (printf "%s-leader" (include "helmbot.fullname" .)) .Values.config.leader_election.lease_name }}
{{- end }}

{{/*
Checks across values that a JSON schema cannot express; each fails the render with what to change.
*/}}
{{- define "helmbot.validate" -}}
{{- $state := include "helmbot.stateKind" . }}
{{- $url := .Values.config.state.url }}
{{- if and (gt (int .Values.replicaCount) 1) (ne $state "postgresql") }}
{{- fail (printf "replicaCount is %d but config.state.url is SQLite: SQLite is one pod only. Use a PostgreSQL URL (postgresql://USER@HOST:5432/DB) for several replicas, or replicaCount: 1." (int .Values.replicaCount)) }}
{{- end }}
{{- if and (eq $state "postgresql") (regexMatch "^postgres(ql)?://[^/@]*:[^/@]*@" $url) }}
{{- fail "config.state.url must not contain a password: put it in the Secret under auth.secretKeys.statePassword (HELMBOT_STATE_PASSWORD)" }}
{{- end }}
{{- if and .Values.ingress.enabled (ne .Values.config.slack.mode "http") }}
{{- fail "ingress.enabled needs config.slack.mode: http (Socket Mode needs no public endpoint)" }}
{{- end }}
{{- if not .Values.auth.existingSecret }}
{{- if not .Values.auth.botToken }}
{{- fail "no Slack bot token: set auth.existingSecret to a Secret holding SLACK_BOT_TOKEN (recommended), or auth.botToken" }}
{{- end }}
{{- if and (eq .Values.config.slack.mode "http") (not .Values.auth.signingSecret) }}
{{- fail "HTTP mode needs the signing secret: set auth.existingSecret (with SLACK_SIGNING_SECRET) or auth.signingSecret" }}
{{- end }}
{{- if and (eq .Values.config.slack.mode "socket") (not .Values.auth.appToken) }}
{{- fail "Socket Mode needs an app-level token: set auth.existingSecret (with SLACK_APP_TOKEN) or auth.appToken" }}
{{- end }}
{{- end }}
{{- if and (eq .Values.rbac.mode "noticesOnly") .Values.rbac.create }}
{{- range $i, $rule := .Values.rbac.additionalRules }}
{{- range $rule.verbs }}
{{- if not (has . (list "get" "list" "watch")) }}
{{- fail (printf "rbac.additionalRules[%d] grants %q, but rbac.mode noticesOnly allows only get, list and watch" $i .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.rbac.create (not .Values.rbac.clusterWide) (eq .Values.rbac.mode "deploy") }}
{{- range $i, $r := .Values.config.releases }}
{{- if $r.create_namespace }}
{{- fail (printf "config.releases[%d] (%s) has create_namespace: true, which needs rbac.clusterWide: true (a Role cannot be granted in a namespace that does not exist yet, and creating namespaces is cluster-wide)" $i $r.name) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
