{{/* An image reference: repository@digest when a digest is given, else repository:tag. */}}
{{- define "portforward.image" -}}
{{- if .digest -}}{{ .repository }}@{{ .digest }}{{- else -}}{{ .repository }}:{{ .tag }}{{- end -}}
{{- end -}}

{{/* The uninstall step's hook annotations; the argument is its weight (RBAC before the Job). */}}
{{- define "portforward.uninstallHook" -}}
helm.sh/hook: pre-delete
helm.sh/hook-weight: {{ . | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end -}}
