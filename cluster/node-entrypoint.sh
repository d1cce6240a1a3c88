#!/bin/sh
# A cluster node: Debian's dockerd inside a container. Its containers' cgroups go under the
# node's own, so the node's --cpus and --memory bind everything it runs (the host's cgroup tree
# is shared: without this they would escape the budget). It pulls from the cluster's registry.
set -eu
parent=$(sed -n 's/^[0-9]*:cpu\(,cpuacct\)\{0,1\}:\(.*\)$/\2/p' /proc/self/cgroup | head -n 1)
[ -n "$parent" ] && [ "$parent" != / ] || { echo "no cgroup of this node's own" >&2; exit 1; }
# A node that was killed and started again keeps its writable layer: clear the pid files of
# the engine that died with it (its state, swarm membership included, is on the volume).
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
exec dockerd \
  --host unix:///var/run/docker.sock \
  --cgroup-parent "$parent" \
  --insecure-registry registry:5000 \
  --userland-proxy=false \
  --log-level warn
