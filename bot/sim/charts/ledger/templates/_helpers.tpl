{{- define "ledger.labels" -}}
app.kubernetes.io/name: ledger
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "ledger.selector" -}}
app.kubernetes.io/name: ledger
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* A simulated container script (env HELMBOT_SIM_SCRIPT); `.` is a dict. */}}
{{- define "ledger.script" -}}
- name: HELMBOT_SIM_SCRIPT
  value: {{ toJson . | quote }}
{{- end }}

{{/* The script of a long-running container: Ready after .readySeconds, or a crash loop with .crash. */}}
{{- define "ledger.serviceScript" -}}
{{- $script := dict "readySeconds" (float64 .readySeconds) "logs" (list (printf "%s starting" .name) "ready to accept connections") }}
{{- if .crash }}
{{- $_ := unset $script "readySeconds" }}
{{- $_ := set $script "exitCode" (int (.crashExitCode | default 1)) }}
{{- $_ := set $script "runSeconds" (float64 (.crashAfterSeconds | default 0.3)) }}
{{- $_ := set $script "logs" (list (printf "%s starting" .name) (.crashLog | default "fatal error")) }}
{{- end }}
{{- include "ledger.script" $script }}
{{- end }}
