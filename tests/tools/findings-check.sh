#!/usr/bin/env bash
# Mutation check of the findings of issue "Trust" (README, "Trust findings, each undone"): for every
# numbered finding, tests/tools/findings/<id>.patch undoes one guard of the fix in production code (the
# behaviour before it); with the patch applied the named test must FAIL (a panic in that test, not a
# compile error), and without it pass. Each patch is reverted right after its run, also on Ctrl-C.
#
#   make findings-check                          every case (about an hour on the 2-core machine)
#   FINDINGS="1a 5" make findings-check          the cases whose id starts with 1a or 5
#   FINDINGS_E2E=0 make findings-check           unit-level cases only (no test bed)
#   FINDINGS_BASELINE=0 make findings-check      skip the runs without a patch
#
# Prints one line per case, `FINDING | <id> | <test> | KILLED|SURVIVED|BROKEN | <first line of the panic>`,
# and exits non-zero when a mutation survives, a patch no longer applies or compiles, or a test fails
# without its patch. Not part of `make test` (each case rebuilds a crate). Refuses to run when a file a
# patch touches has uncommitted changes, so it never clobbers work in progress.
set -uo pipefail
cd "$(git rev-parse --show-toplevel)"
CARGO=${CARGO:-cargo}
DIR=tests/tools/findings
LOGS=${CARGO_TARGET_DIR:-$PWD/target}/findings
ONLY=${FINDINGS:-}
E2E=${FINDINGS_E2E:-1}
BASELINE=${FINDINGS_BASELINE:-1}
mkdir -p "$LOGS"

OP="-p meshglass-operator --lib"
SRV="-p meshglass-server --lib"
CRDS="-p meshglass-crds --lib"
TRUST="-p meshglass-testbed --test operator_trust"
MEMORY="-p meshglass-testbed --test operator_memory"

# id | cargo package and target | exact test name(s), space-separated: each must fail (crates whose
# rebuild is cheap first, the server last)
CASES=(
  "3a-user-fields|$CRDS|kubeconfig::tests::refuses_each_field_by_name_without_its_value"
  "3b-exec|$CRDS|kubeconfig::tests::exec_only_with_enable_exec_provider"
  "1a-namespace|$OP|reconcile::validate::tests::tenancy_refuses_another_namespace_another_image_and_remote_tokens_by_default"
  "1b-image|$OP|reconcile::validate::tests::tenancy_refuses_another_namespace_another_image_and_remote_tokens_by_default"
  "1c-remote-token|$OP|reconcile::validate::tests::tenancy_refuses_another_namespace_another_image_and_remote_tokens_by_default"
  "2b-labels-suffice|$OP|reconcile::apply::tests::only_objects_labelled_for_this_cr_and_written_by_the_operator_are_ours"
  "3d-operator-skips-allow-list|$OP|secrets::tests::refuses_token_files_and_exec_unless_enabled"
  "5m-readiness-on-healthz|$OP|build::tests::primary_creates_exactly_the_server_objects"
  "8d-inline-password-in-configmap|$OP|build::tests::inline_metrics_credentials_go_to_a_secret_never_the_configmap"
  "2a-adopt-existing|$TRUST|pre_existing_objects_with_a_childs_name_are_not_adopted a_second_cr_with_the_same_instance_name_fails_naming_the_first"
  "2c-prune-deletes-copied-labels|$TRUST|an_object_with_copied_owner_labels_survives_the_crs_deletion"
  "7-operator-watches-whole-secrets|$MEMORY|two_thousand_unrelated_secrets_stay_under_the_memory_limit"
  "3c-server-skips-allow-list|$SRV|registry::tests::refused_kubeconfigs_name_the_field_never_the_value"
  "4a-traffic-unfiltered|$SRV|trust_tests::graph_hides_other_clusters_namespaces_and_marks_them_inaccessible"
  "4b-no-isInaccessible|$SRV|trust_tests::graph_hides_other_clusters_namespaces_and_marks_them_inaccessible"
  "5a-token-review-unlimited|$SRV|trust_tests::junk_tokens_cost_a_bounded_number_of_reviews"
  "5b-no-negative-cache|$SRV|trust_tests::junk_tokens_cost_a_bounded_number_of_reviews"
  "5c-token-length|$SRV|trust_tests::junk_tokens_cost_a_bounded_number_of_reviews"
  "5d-review-every-namespace|$SRV|trust_tests::access_is_reviewed_for_the_requested_namespaces_only"
  "5e-duration-uncapped|$SRV|trust_tests::durations_query_times_and_namespace_counts_are_capped"
  "5f-namespaces-uncapped|$SRV|trust_tests::durations_query_times_and_namespace_counts_are_capped"
  "5g-no-concurrency-cap|$SRV|edge::tests::requests_beyond_the_cap_wait_for_a_slot_then_get_503_with_retry_after"
  "5h-no-header-read-timeout|$SRV|edge::tests::a_client_that_never_finishes_its_headers_is_cut_off_at_the_timeout"
  "5i-no-body-limit|$SRV|trust_tests::every_response_has_security_headers_and_writes_check_origin"
  "5j-prometheus-body-uncapped|$SRV|upstream_tests::hanging_and_endless_upstreams_are_cut_off"
  "5k-queries-by-get|$SRV|upstream_tests::queries_are_posted_with_auth_and_custom_headers"
  "5l-work-on-async-workers|$SRV|trust_tests::cpu_work_runs_off_the_async_workers"
  "6a-watch-errors-at-debug|$SRV|registry::tests::watch_errors_and_revoked_permissions_are_warned_with_the_cluster_named"
  "6b-revoked-rbac-looks-fine|$SRV|registry::tests::denied_kinds_mark_the_cluster_missing_with_the_reason"
  "6c-rotation-serves-at-once|$SRV|registry::tests::a_staged_entry_replaces_the_serving_one_only_when_promoted"
  "8a-status-shows-prometheus-url|$SRV|trust_tests::public_status_shows_no_cluster_errors_or_urls"
  "8b-status-shows-cluster-errors|$SRV|trust_tests::public_status_shows_no_cluster_errors_or_urls"
  "8c-503-echoes-url-and-body|$SRV|upstream_tests::failures_are_named_without_url_credentials_or_upstream_body"
)

selected() {
  local id=$1 target=$2
  if [[ $E2E == 0 && $target == *meshglass-testbed* ]]; then return 1; fi
  [[ -z $ONLY ]] && return 0
  local p
  for p in $ONLY; do [[ $id == "$p"* ]] && return 0; done
  return 1
}

# Whether every test of the list failed in the log (`test <name> ... FAILED` in libtest's summary).
all_failed() {
  local log=$1 t
  for t in $2; do
    grep -q "^test $t \.\.\. FAILED" "$log" || grep -q "^    $t\$" "$log" || return 1
  done
}

APPLIED=""
restore() {
  if [[ -n $APPLIED ]]; then
    git apply -R "$APPLIED" || echo "findings-check: could not revert $APPLIED; run: git apply -R $APPLIED" >&2
    APPLIED=""
  fi
}
trap 'restore; exit 130' INT TERM
trap restore EXIT

# Never clobber uncommitted changes of a patched file.
for c in "${CASES[@]}"; do
  IFS='|' read -r id target test <<<"$c"
  selected "$id" "$target" || continue
  for f in $(git apply --numstat "$DIR/$id.patch" | cut -f3); do
    if ! git diff --quiet HEAD -- "$f"; then
      echo "findings-check: $f has uncommitted changes; commit or stash them first" >&2
      exit 2
    fi
  done
done

bad=0
declare -A base_tests=()
for c in "${CASES[@]}"; do
  IFS='|' read -r id target test <<<"$c"
  selected "$id" "$target" || continue
  base_tests[$target]+=" $test"
  patch=$DIR/$id.patch
  log=$LOGS/$id.log
  if ! git apply --check "$patch" 2>/dev/null; then
    echo "FINDING | $id | $test | BROKEN | the patch no longer applies (update $patch)"
    bad=1
    continue
  fi
  git apply "$patch" && APPLIED=$patch
  started=$SECONDS
  # shellcheck disable=SC2086 # $target is several words on purpose
  # shellcheck disable=SC2086 # $test is one or more names
  $CARGO test --locked $target -- --exact $test --test-threads=1 >"$log" 2>&1
  rc=$?
  restore
  took=$((SECONDS - started))
  if [[ $rc == 0 ]]; then
    echo "FINDING | $id | $test | SURVIVED | the test passes with the guard undone (${took} s; $log)"
    bad=1
  elif ! grep -q "could not compile\|^error\[E" "$log" && all_failed "$log" "$test"; then
    why=$(grep -A1 -m1 "panicked at" "$log" | tail -1 | cut -c1-220)
    echo "FINDING | $id | $test | KILLED | $why (${took} s)"
  else
    echo "FINDING | $id | $test | BROKEN | failed without a test failure: $(grep -m1 '^error' "$log" | cut -c1-160) ($log)"
    bad=1
  fi
done

if [[ $BASELINE != 0 ]]; then
  for target in "${!base_tests[@]}"; do
    # shellcheck disable=SC2086
    names=$(tr ' ' '\n' <<<"${base_tests[$target]}" | sort -u | tr '\n' ' ')
    log=$LOGS/baseline-$(tr -c 'a-z0-9' '_' <<<"$target").log
    # shellcheck disable=SC2086
    if $CARGO test --locked $target -- --exact $names --test-threads=1 >"$log" 2>&1; then
      echo "BASELINE | $target | $(grep -c '\.\.\. ok$' "$log") tests pass without a patch"
    else
      echo "BASELINE | $target | FAILED without a patch ($log)"
      bad=1
    fi
  done
fi
exit $bad
