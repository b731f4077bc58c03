{{/*
The bot's config file: .Values.config with the keys of docs/bot-design.md ("Configuration"), plus what the
chart owns (the leader Lease's namespace and name). Empty optional sections are left out.
*/}}
{{- define "helmbot.config" -}}
{{- $cfg := deepCopy .Values.config }}
{{- $le := deepCopy .Values.config.leader_election }}
{{- $_ := set $le "namespace" (include "helmbot.leaseNamespace" .) }}
{{- $_ = set $le "lease_name" (include "helmbot.leaseName" .) }}
{{- $_ = set $cfg "leader_election" $le }}
{{- if not $cfg.clusters }}
{{- $_ = unset $cfg "clusters" }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}
