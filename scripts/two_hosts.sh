#!/usr/bin/env bash
# two_hosts.sh: two network hosts on one Linux machine, for trying `mpirun --hostfile` across hosts without a
# second machine. Each host is a network namespace (its own interface and address, 10.77.N.1 and 10.77.N.2,
# joined by a bridge at 10.77.N.254) with a hostname of its own (a UTS namespace per launched process). mpirun
# reaches them through its remote launcher (plm rsh) with an agent script instead of ssh, so the ranks start,
# connect and exchange data exactly as on two machines: out-of-band and MPI traffic over TCP between two
# addresses, no shared memory between the hosts. They do share the kernel, the CPUs and the file system.
# Needs root (ip netns, ip link). `up` checks that TCP passes between the hosts and fails (removing them) where it
# does not.
#
#   scripts/two_hosts.sh up DIR [N]   creates them (N: 0..249, default 77), writes DIR/hostfile, DIR/rsh-agent and
#                                     DIR/mpirun-args (the options to give mpirun), prints the mpirun-args; exit
#                                     status 3 when hosts number N exist already
#   scripts/two_hosts.sh down DIR     removes what `up DIR` made
#
# Example:
#   scripts/two_hosts.sh up /tmp/hosts
#   mpirun --allow-run-as-root -np 2 $(cat /tmp/hosts/mpirun-args) build/bin/sprint train --distributed ...
#   scripts/two_hosts.sh down /tmp/hosts
set -euo pipefail
action=${1:-}
dir=${2:-}
[[ ($action == up || $action == down) && -n $dir ]] || { echo "usage: $0 up|down DIR [N]" >&2; exit 2; }

if [[ $action == down ]]; then
  [[ -f $dir/names ]] || exit 0
  read -r bridge ns1 ns2 < "$dir/names"
  ip netns del "$ns1" 2>/dev/null || true
  ip netns del "$ns2" 2>/dev/null || true
  ip link del "$bridge" 2>/dev/null || true
  rm -f "$dir/names" "$dir/hostfile" "$dir/rsh-agent" "$dir/mpirun-args"
  exit 0
fi

n=${3:-77}
[[ $n =~ ^[0-9]+$ && $n -le 249 ]] || { echo "$0: N must be 0..249, got $n" >&2; exit 2; }
mkdir -p "$dir"
bridge=spbr$n ns1=sprint$n-a ns2=sprint$n-b net=10.77.$n
if ip link show "$bridge" > /dev/null 2>&1 || [[ -e /run/netns/$ns1 || -e /run/netns/$ns2 ]]; then
  echo "$0: hosts number $n exist already (another run has them; choose another N)" >&2
  exit 3
fi
echo "$bridge $ns1 $ns2" > "$dir/names"
trap '"$0" down "$dir"' ERR
ip link add "$bridge" type bridge
# Bridged packets skip the host's iptables where br_netfilter would pass them through (a FORWARD policy of DROP,
# as Docker sets, would drop the ranks' traffic).
ip link set dev "$bridge" type bridge nf_call_iptables 0 2>/dev/null || true
ip addr add "$net.254/24" dev "$bridge"
ip link set "$bridge" up
i=0
for ns in "$ns1" "$ns2"; do
  i=$((i + 1))
  ip netns add "$ns"
  ip link add "sp$n-$i" type veth peer name eth0 netns "$ns"
  ip link set "sp$n-$i" master "$bridge" up
  ip -n "$ns" addr add "$net.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done
# TCP between the hosts and to mpirun's address: a refused connection (nothing listens on port 9) proves the path
# open; a filtered one times out.
reachable() {
  local said
  said=$(ip netns exec "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1) && return 0
  [[ $said == *refused* ]]
}
for path in "$ns2 $net.1" "$ns1 $net.2" "$ns1 $net.254" "$ns2 $net.254"; do
  if ! reachable $path; then
    echo "$0: no TCP from ${path% *} to ${path#* } (filtered on this machine); removed the hosts" >&2
    trap - ERR
    "$0" down "$dir"
    exit 1
  fi
done
printf '%s slots=1\n%s slots=1\n' "$net.1" "$net.2" > "$dir/hostfile"
# mpirun runs "<agent> <host> <command>" where it would run "ssh <host> <command>".
cat > "$dir/rsh-agent" <<AGENT
#!/bin/sh
host=\$1; shift
case \$host in
  $net.1) ns=$ns1; name=host-a ;;
  $net.2) ns=$ns2; name=host-b ;;
  *) echo "rsh-agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec \$ns unshare --uts sh -c "hostname \$name; \$*"
AGENT
chmod +x "$dir/rsh-agent"
# --bind-to none: each host's launcher would bind its one rank to "its" first core, the same core on both hosts.
echo "--hostfile $dir/hostfile --mca plm_rsh_agent $dir/rsh-agent --mca oob_tcp_if_include $net.0/24" \
  "--mca btl_tcp_if_include $net.0/24 --mca btl tcp,self --bind-to none" > "$dir/mpirun-args"
cat "$dir/mpirun-args"
