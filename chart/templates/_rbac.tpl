{{/*
RBAC: which namespaces get which rules. Everything here is derived from values, so least privilege follows
from the configured releases (external-dns' approach: rules only for what is enabled).
*/}}

{{/*
Namespaces of the releases helmbot deploys in THIS cluster (a release whose cluster has its own kubeconfig
is deployed with that kubeconfig's credentials, not this ServiceAccount), plus rbac.extraNamespaces.
JSON list, sorted and unique.
*/}}
{{- define "helmbot.deployNamespaces" -}}
{{- $out := list }}
{{- range .Values.config.releases }}
{{- $cluster := dict }}
{{- if .cluster }}
{{- $cluster = (get $.Values.config.clusters .cluster) | default dict }}
{{- end }}
{{- if not $cluster.kubeconfig }}
{{- $out = append $out .namespace }}
{{- end }}
{{- end }}
{{- $out = concat $out .Values.rbac.extraNamespaces }}
{{- $out | uniq | sortAlpha | toJson }}
{{- end }}

{{/*
Namespaces watched for passive notices only (config.notices.namespaces that are not deploy namespaces).
*/}}
{{- define "helmbot.noticeNamespaces" -}}
{{- $deploy := include "helmbot.deployNamespaces" . | fromJsonArray }}
{{- $out := list }}
{{- if .Values.config.notices.enabled }}
{{- range .Values.config.notices.namespaces }}
{{- if not (has . $deploy) }}
{{- $out = append $out . }}
{{- end }}
{{- end }}
{{- end }}
{{- $out | uniq | sortAlpha | toJson }}
{{- end }}

{{/*
Read rules: what the tracker and passive notices watch (bot/kube: core/v1 Events, not events.k8s.io). Helm's release records are Secrets (type
helm.sh/release.v1, label owner=helm); RBAC cannot select by label or type, so reading them means get/list/watch
on all Secrets of the namespace.
*/}}
{{- define "helmbot.readRules" -}}
# the tracker's base kinds, pod logs for failure diagnoses, and helm's release Secrets
- apiGroups: [""]
  resources: [pods, pods/log, events, persistentvolumeclaims, services, secrets]
  verbs: [get, list, watch]
- apiGroups: [apps]
  resources: [deployments, replicasets, statefulsets, daemonsets]
  verbs: [get, list, watch]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch]
{{- end }}

{{/*
Write rules for helm in deploy mode: its release storage (Secrets, same label caveat as above) and what the
charts create (rbac.deployRules).
*/}}
{{- define "helmbot.writeRules" -}}
# helm's release storage: one Secret per revision, created, updated (status) and pruned (--history-max);
# helm's storage driver never patches them
- apiGroups: [""]
  resources: [secrets]
  verbs: [create, update, delete]
{{- end }}

{{/*
The kinds releases contain (rbac.deployRules). The tracker watches every kind of a release, so they are
always readable; with write=true (deploy mode) they also get the rule's own verbs.
Call with (dict "root" $ "write" BOOL).
*/}}
{{- define "helmbot.kindRules" -}}
{{- $read := list "get" "list" "watch" }}
{{- range .root.Values.rbac.deployRules }}
# {{ if $.write }}what deployed charts contain{{ else }}read-only: kinds releases contain{{ end }} (rbac.deployRules)
- apiGroups: {{ toJson .apiGroups }}
  resources: {{ toJson .resources }}
  verbs: {{ ternary (concat $read .verbs | uniq) $read $.write | toJson }}
{{- with .resourceNames }}
  resourceNames: {{ toJson . }}
{{- end }}
{{- end }}
{{- end }}

{{- define "helmbot.additionalRules" -}}
{{- with .Values.rbac.additionalRules }}
# rbac.additionalRules
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Does any release create its namespace (cluster-wide deploy mode only)?
*/}}
{{- define "helmbot.createsNamespaces" -}}
{{- range .Values.config.releases }}{{ if .create_namespace }}true{{ end }}{{ end }}
{{- end }}
