#!/usr/bin/env bash
# A single-node SLURM on this machine, to test the study's `slurm` profile against a real scheduler
# (`make test-cluster`). Debian's slurm-wlm and munge; no systemd: the daemons run in the background and are
# stopped by their PIDs. Everything lives under one scratch folder (default _build/cluster).
#
#   workflow/cluster/slurm.sh start [DIR]   # install the packages if missing, write the config, start munged,
#                                           # slurmctld and slurmd, wait for the node; prints the env to source
#   workflow/cluster/slurm.sh stop  [DIR]   # stop the daemons
#
# The node declares one GPU (gres "gpu", backed by /dev/null: there is no device, but a job asking for a GPU is
# scheduled as it would be on a GPU node), so the profile's `gpu=1` training jobs are exercised.
# Inside a job, the executor's jobstep plugin clears every SLURM_* variable before its `srun`, so the config
# outside /etc/slurm is lost there: DIR/bin/srun, first on PATH, sets SLURM_CONF again and runs the real srun.
set -euo pipefail

cmd=${1:?usage: slurm.sh start|stop [DIR]}
dir=$(realpath -m "${2:-_build/cluster}")
host=$(hostname -s)

stop() {          # SIGTERM, then SIGKILL after 10 s; waits until each daemon is gone
  for name in slurmd slurmctld munged; do
    if [ -f "$dir/$name.pid" ]; then
      pid=$(cat "$dir/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
}

if [ "$cmd" = stop ]; then stop; echo "slurm: stopped ($dir)"; exit 0; fi
[ "$cmd" = start ] || { echo "slurm.sh: unknown command '$cmd' (start or stop)" >&2; exit 2; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  SUDO=$(test "$(id -u)" = 0 || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

stop
for daemon in slurmctld slurmd; do          # one cluster per machine: the daemons' ports are fixed
  if pid=$(pgrep -x "$daemon"); then
    echo "slurm: a $daemon is already running (pid $pid; another cluster on this machine): stop it first" >&2
    exit 1
  fi
done
mkdir -p "$dir"/{munge,state,spool,log,bin}
chmod 755 "$dir" "$dir/munge"                  # munge's socket folder must be world-executable
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
cpus=$(nproc)
cat >"$dir/slurm.conf" <<EOF
ClusterName=fusionstudy
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid.slurm
SlurmdPidFile=$dir/slurmd.pid.slurm
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$dir/gres.conf" <<EOF
AutoDetect=off
NodeName=$host Name=gpu File=/dev/null
EOF
cat >"$dir/bin/srun" <<EOF
#!/bin/sh
export SLURM_CONF=$dir/slurm.conf
exec /usr/bin/srun "\$@"
EOF
chmod +x "$dir/bin/srun"
cat >"$dir/env.sh" <<EOF
export SLURM_CONF=$dir/slurm.conf
export PATH=$dir/bin:\$PATH
EOF

export SLURM_CONF=$dir/slurm.conf
# each daemon detached (its own session, no terminal, no inherited output): the caller's pipes close at once
setsid munged -F --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munge.seed" \
  </dev/null >>"$dir/log/munged.out" 2>&1 &
echo $! >"$dir/munged.pid"
sleep 1
setsid slurmctld -D -f "$dir/slurm.conf" </dev/null >>"$dir/log/slurmctld.out" 2>&1 &
echo $! >"$dir/slurmctld.pid"
sleep 1
setsid slurmd -D -f "$dir/slurm.conf" </dev/null >>"$dir/log/slurmd.out" 2>&1 &
echo $! >"$dir/slurmd.pid"
for _ in $(seq 60); do
  for daemon in munged slurmctld slurmd; do
    kill -0 "$(cat "$dir/$daemon.pid")" 2>/dev/null || {
      echo "slurm: $daemon exited at start; see $dir/log/$daemon.*" >&2; tail -3 "$dir/log/$daemon".* >&2; stop; exit 1; }
  done
  if timeout 5 sinfo -h -o %t 2>/dev/null | grep -qx idle; then
    echo "slurm: node $host idle ($cpus CPUs, ${mem} MB, gpu:1); source $dir/env.sh"
    exit 0
  fi
  sleep 0.5
done
echo "slurm: the node did not come up; logs in $dir/log" >&2
timeout 5 sinfo >&2 || true
stop
exit 1
