#!/bin/bash
# The Python images' healthcheck: GET $CHURNLAB_HEALTHCHECK_PATH from the server in this
# container; healthy on a 200. Bash's /dev/tcp rather than python3 -c "import urllib...": that
# start costs about 0.1 s of CPU, and a check every 2 s in each of a 1-CPU Swarm node's
# containers spent a third of the node on checks alone (a bash start: 2.4 ms, mean of 50).
set -euo pipefail
bind=${CHURNLAB_BIND:-0.0.0.0:8000}
exec 3<>"/dev/tcp/127.0.0.1/${bind##*:}"
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "${CHURNLAB_HEALTHCHECK_PATH:-/readyz}" >&3
read -r -t 2 status_line <&3
[[ $status_line =~ ^HTTP/1\.[01]\ 200([[:space:]]|$) ]]
