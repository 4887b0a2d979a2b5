#!/usr/bin/env bash
# `make test-cluster`: the smoke study through the `slurm` profile on a real single-node SLURM started here
# (workflow/cluster/slurm.sh), then its pins; with a local smoke book beside it (`make test` makes
# _build/smoke-book) also every results file against the local run's. The cluster is stopped however it ends.
#   workflow/cluster/test-cluster.sh PYTHON [ROOT] [LOCAL_ROOT]
set -euo pipefail
py=${1:?usage: test-cluster.sh PYTHON [ROOT] [LOCAL_ROOT]}
root=${2:-_build/cluster-book}
local_root=${3:-_build/smoke-book}
cluster=_build/cluster
here=$(dirname "$0")

"$here/slurm.sh" start "$cluster"
trap '"$here/slurm.sh" stop "$cluster"' EXIT
# shellcheck disable=SC1091
. "$cluster/env.sh"
t0=$(date +%s)
# this test cluster has no accounting database: job states come from squeue (sacct would fail and hang the
# executor), and the first status check comes after 5 s rather than 40 s
"$py" -m fusionstudy.build.study --scale smoke --root "$root" --profile slurm --force \
  --engine-args "--slurm-status-command squeue --slurm-init-seconds-before-status-checks 5 --slurm-no-account"
echo "cluster study: $(( $(date +%s) - t0 )) s wall; batch jobs submitted: $(grep -c '_slurm_rpc_submit_batch_job: JobId' "$cluster/log/slurmctld.log") (slurmctld.log)"
"$py" -m fusionstudy.build.pin --scale smoke --root "$root"
if [ -d "$local_root/book/generated/results" ]; then
  for d in "$root"/book/generated/results/*/; do
    name=$(basename "$d")
    echo "== $name: the cluster's results against $local_root's"
    "$py" benchmarks/compare_results.py "$local_root/book/generated/results/$name" "$d" | sed -n '1,4p'
  done
fi
