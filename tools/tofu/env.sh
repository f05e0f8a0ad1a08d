#!/usr/bin/env bash
# OpenTofu for an environment by name: the Makefile's infra-apply / infra-destroy / infra-plan.
#
#   tools/tofu/env.sh apply|destroy|plan|output ENV [extra tofu args...]
#
# ENV with terraform/envs/cloud/<ENV>.tfvars.json is a cloud environment: its own state
# (<ENV>.s3.tfbackend, encrypted, terraform/README.md) and that file. Any other ENV is a local
# one on this Docker engine: terraform/envs/local in workspace ENV ("local" is the default
# workspace), with <ENV>.tfvars when there is one (local-staging, local-prod: small ones for
# promotion). Either way the inventory lands in <root>/generated/<ENV>/inventory.yml.
# $TOFU is the OpenTofu command (the Makefile sets it: the pinned build, mirror-only providers).
set -euo pipefail

action=${1:?usage: env.sh apply|destroy|plan|output ENV [tofu args...]}
env=${2:?usage: env.sh apply|destroy|plan|output ENV [tofu args...]}
shift 2
here=$(cd "$(dirname "$0")/../.." && pwd)
read -r -a tofu <<<"${TOFU:?set TOFU to the tofu command}"

if [[ ! $env =~ ^[a-z][a-z0-9-]{0,30}$ ]]; then
  echo "env.sh: ENV=$env: lower-case letters, digits and dashes, starting with a letter" >&2
  exit 2
fi

cloud=$here/terraform/envs/cloud
if [[ -f $cloud/$env.tfvars.json ]]; then
  root=$cloud
  "${tofu[@]}" -chdir="$root" init -input=false -lockfile=readonly -reconfigure \
    -backend-config="$env.s3.tfbackend" >/dev/null
  var_args=(-var-file="$env.tfvars.json")
else
  root=$here/terraform/envs/local
  workspace=$env
  [[ $env == local ]] && workspace=default
  "${tofu[@]}" -chdir="$root" init -input=false -lockfile=readonly >/dev/null
  # The workspace is chosen for this command only (TF_WORKSPACE), so a plain `tofu` in
  # envs/local afterwards still acts on the default one.
  if [[ $workspace != default ]] &&
    ! "${tofu[@]}" -chdir="$root" workspace list | tr -d ' *' | grep -qx -- "$workspace"; then
    "${tofu[@]}" -chdir="$root" workspace new "$workspace" >/dev/null
    "${tofu[@]}" -chdir="$root" workspace select default >/dev/null
  fi
  export TF_WORKSPACE=$workspace
  var_args=()
  [[ -f $root/$env.tfvars ]] && var_args=(-var-file="$env.tfvars")
fi

case $action in
  apply | destroy) exec "${tofu[@]}" -chdir="$root" "$action" -input=false -auto-approve "${var_args[@]}" "$@" ;;
  plan) exec "${tofu[@]}" -chdir="$root" plan -input=false "${var_args[@]}" "$@" ;;
  output) exec "${tofu[@]}" -chdir="$root" output "$@" ;;
  *) echo "env.sh: unknown action $action (apply, destroy, plan, output)" >&2; exit 2 ;;
esac
