{{- define "shop.labels" -}}
app.kubernetes.io/name: shop
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "shop.migrateJob" -}}
{{- if .Values.migration.hook -}}
{{ .Release.Name }}-migrate
{{- else -}}
{{ .Release.Name }}-migrate-r{{ .Release.Revision }}
{{- end -}}
{{- end }}

{{/* A simulated container script (env HELMBOT_SIM_SCRIPT); `.` is a dict. */}}
{{- define "shop.script" -}}
- name: HELMBOT_SIM_SCRIPT
  value: {{ toJson . | quote }}
{{- end }}
