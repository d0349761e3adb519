{{/* The instance name: every object's name derives from it (as the operator names them). */}}
{{- define "meshglass-server.instance" -}}
{{- .Values.deployment.instance_name | default "kiali" }}
{{- end }}

{{- define "meshglass-server.serviceAccountName" -}}
{{- printf "%s-service-account" (include "meshglass-server.instance" .) }}
{{- end }}

{{/* ClusterRole name: <instance>, or <instance>-viewer in view-only mode. */}}
{{- define "meshglass-server.roleName" -}}
{{- if .Values.deployment.view_only_mode }}
{{- printf "%s-viewer" (include "meshglass-server.instance" .) }}
{{- else }}
{{- include "meshglass-server.instance" . }}
{{- end }}
{{- end }}

{{/* Selector labels of the Deployment and the Service (the operator's). */}}
{{- define "meshglass-server.selectorLabels" -}}
app.kubernetes.io/instance: {{ include "meshglass-server.instance" . }}
app.kubernetes.io/name: kiali
{{- end }}

{{/* Labels of every object: Kiali's set (as the operator sets them) plus Helm's. */}}
{{- define "meshglass-server.labels" -}}
app: kiali
{{ include "meshglass-server.selectorLabels" . }}
app.kubernetes.io/part-of: kiali
app.kubernetes.io/version: {{ printf "v%s" .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
version: {{ printf "v%s" .Chart.AppVersion | quote }}
{{- end }}

{{- define "meshglass-server.image" -}}
{{- $d := .Values.deployment }}
{{- if $d.image_digest }}
{{- printf "%s@%s" $d.image_name $d.image_digest }}
{{- else }}
{{- $tag := $d.image_version | default "" }}
{{- if or (eq $tag "") (eq $tag "default") }}{{ $tag = printf "v%s" .Chart.AppVersion }}{{ end }}
{{- printf "%s:%s" $d.image_name $tag }}
{{- end }}
{{- end }}

{{/* Checks the values the templates cannot honour; renders nothing. */}}
{{- define "meshglass-server.validate" -}}
{{- $d := .Values.deployment }}
{{- if and (hasKey $d "cluster_wide_access") (not $d.cluster_wide_access) }}
{{- fail "deployment.cluster_wide_access: false is not supported by the meshglass-server chart (only true); the meshglass operator creates per-namespace Roles for it" }}
{{- end }}
{{- if and $d.namespace (ne $d.namespace .Release.Namespace) }}
{{- fail (printf "deployment.namespace %q differs from the release namespace %q: install the release into %q (helm --namespace)" $d.namespace .Release.Namespace $d.namespace) }}
{{- end }}
{{- end }}

{{/* Removes "" and null values from maps, recursively (also inside lists): in a Kiali CR they mean "default". */}}
{{- define "meshglass-server.prune" -}}
{{- $m := . }}
{{- range $k, $v := $m }}
{{- if or (kindIs "invalid" $v) (and (kindIs "string" $v) (eq $v "")) }}
{{- $_ := unset $m $k }}
{{- else if kindIs "map" $v }}
{{- include "meshglass-server.prune" $v }}
{{- else if kindIs "slice" $v }}
{{- range $v }}{{ if kindIs "map" . }}{{ include "meshglass-server.prune" . }}{{ end }}{{ end }}
{{- end }}
{{- end }}
{{- end }}

{{/* config.yaml: the values (a Kiali CR spec) with the defaults the operator resolves from other fields
  (meshglass_crds::config::Config::from_spec); the server fills in every other default itself. */}}
{{- define "meshglass-server.config" -}}
{{- $cfg := omit (deepCopy .Values) "remoteSecrets" "global" }}
{{- include "meshglass-server.prune" $cfg }}
{{- $dep := get $cfg "deployment" | default dict }}
{{- $_ := set $dep "instance_name" (include "meshglass-server.instance" .) }}
{{- $_ := set $dep "namespace" .Release.Namespace }}
{{- $_ := set $cfg "deployment" $dep }}
{{- $auth := get $cfg "auth" | default dict }}
{{- $_ := set $auth "strategy" (get $auth "strategy" | default "token") }}
{{- $_ := set $cfg "auth" $auth }}
{{- if not (get $cfg "istio_namespace") }}
{{- $_ := set $cfg "istio_namespace" .Release.Namespace }}
{{- end }}
{{- $es := get $cfg "external_services" | default dict }}
{{- $prom := get $es "prometheus" | default dict }}
{{- if not (get $prom "url") }}
{{- $_ := set $prom "url" (printf "http://prometheus.%s:9090" .Release.Namespace) }}
{{- end }}
{{- /* Inline credentials go into Secret <instance>-prometheus-auth; the ConfigMap holds the reference. */}}
{{- $pauth := get $prom "auth" | default dict }}
{{- $refs := (include "meshglass-server.prometheusAuth" . | fromYaml).references | default dict }}
{{- range $field, $ref := $refs }}
{{- $_ := set $pauth $field $ref }}
{{- end }}
{{- if $pauth }}
{{- $_ := set $prom "auth" $pauth }}
{{- end }}
{{- $_ := set $es "prometheus" $prom }}
{{- $_ := set $cfg "external_services" $es }}
{{- $server := get $cfg "server" | default dict }}
{{- $_ := set $server "web_root" (get $server "web_root" | default "/kiali") }}
{{- $_ := set $cfg "server" $server }}
{{- $health := get $cfg "health_config" | default dict }}
{{- if hasKey $health "rate" }}
{{- $rates := list }}
{{- range $health.rate }}
{{- $r := . }}
{{- range $f := list "namespace" "kind" "name" }}
{{- $_ := set $r $f (get $r $f | default ".*") }}
{{- end }}
{{- range (get $r "tolerance" | default list) }}
{{- $_ := set . "protocol" (get . "protocol" | default ".*") }}
{{- $_ := set . "direction" (get . "direction" | default ".*") }}
{{- end }}
{{- $rates = append $rates $r }}
{{- end }}
{{- $default := dict "namespace" ".*" "kind" ".*" "name" ".*" "tolerance" (list
  (dict "code" "5XX" "degraded" 0 "failure" 10 "protocol" "http" "direction" ".*")
  (dict "code" "4XX" "degraded" 10 "failure" 20 "protocol" "http" "direction" ".*")
  (dict "code" "^[1-9]$|^1[0-6]$" "degraded" 0 "failure" 10 "protocol" "grpc" "direction" ".*")
  (dict "code" "-" "degraded" 0 "failure" 10 "protocol" "http|grpc" "direction" ".*")) }}
{{- $_ := set $health "rate" (append $rates $default) }}
{{- $_ := set $cfg "health_config" $health }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/* Remote-cluster Secrets to mount, sorted and unique: remoteSecrets, clustering.clusters[].secret_name, and —
  where Helm can look the cluster up (install, upgrade, template --dry-run=server) — the Secrets carrying
  clustering.autodetect_secrets.label and `kiali-multi-cluster-secret`, as the operator finds them. */}}
{{- define "meshglass-server.remoteSecrets" -}}
{{- $names := list }}
{{- range .Values.remoteSecrets }}{{ $names = append $names . }}{{ end }}
{{- range (.Values.clustering.clusters | default list) }}
{{- if .secret_name }}{{ $names = append $names .secret_name }}{{ end }}
{{- end }}
{{- $found := lookup "v1" "Secret" .Release.Namespace "" }}
{{- $auto := .Values.clustering.autodetect_secrets | default dict }}
{{- $key := "" }}{{- $value := "" }}
{{- $label := splitList "=" ($auto.label | default "") }}
{{- if and $auto.enabled (eq (len $label) 2) }}
{{- $key = index $label 0 | trim }}{{- $value = index $label 1 | trim }}
{{- end }}
{{- range ($found.items | default list) }}
{{- $labels := .metadata.labels | default dict }}
{{- if eq .metadata.name "kiali-multi-cluster-secret" }}
{{- $names = append $names .metadata.name }}
{{- else if and $key $value (eq (get $labels $key) $value) }}
{{- $names = append $names .metadata.name }}
{{- end }}
{{- end }}
{{- toJson (dict "names" ($names | uniq | sortAlpha)) }}
{{- end }}

{{/* The metrics store's credentials as the operator handles them (operator/src/build/credentials.rs): an inline
  `password` or `token` of external_services.prometheus.auth moves into Secret <instance>-prometheus-auth (`inline`),
  the config then holding Kiali's `secret:<name>:<key>` reference (`references`), and every referenced key (the
  username's too when it is a reference) is mounted at /kiali-override-secrets/prometheus-<field>/value.txt
  (`mounts`). As YAML. */}}
{{- define "meshglass-server.prometheusAuth" -}}
{{- $own := printf "%s-prometheus-auth" (include "meshglass-server.instance" .) }}
{{- $es := .Values.external_services | default dict }}
{{- $prom := get $es "prometheus" | default dict }}
{{- $auth := get $prom "auth" | default dict }}
{{- $inline := dict }}{{- $refs := dict }}{{- $mounts := list }}
{{- range $field := list "username" "password" "token" }}
{{- $v := toString (get $auth $field | default "") }}
{{- $parts := splitn ":" 3 $v }}
{{- if and (hasPrefix "secret:" $v) $parts._1 $parts._2 }}
{{- $mounts = append $mounts (dict "setting" (printf "prometheus-%s" $field) "secret" $parts._1 "key" $parts._2) }}
{{- else if and $v (ne $field "username") }}
{{- $_ := set $inline $field $v }}
{{- $_ := set $refs $field (printf "secret:%s:%s" $own $field) }}
{{- $mounts = append $mounts (dict "setting" (printf "prometheus-%s" $field) "secret" $own "key" $field) }}
{{- end }}
{{- end }}
{{- toYaml (dict "name" $own "inline" $inline "references" $refs "mounts" $mounts) }}
{{- end }}
