#!/bin/sh
# The three-region simulation's "internet": a container on every region network that adds one-way delay
# to what it sends into a region (tc netem on that network's interface) and forwards the inter-region TCP
# ports (socat). Relay regions reach the primary through it, so their traffic pays the delay both ways.
#
# Environment:
#   DELAYS    "SUBNET_PREFIX=DELAY ..."   e.g. "172.20.2.=80ms 172.20.3.=200ms"
#   FORWARDS  "PORT=HOST:PORT ..."        e.g. "7422=nats-hub:7422 8880=pool-eu:8880"
# Needs NET_ADMIN (tc). Docker Desktop and rootless engines may lack the sch_netem module: the forwards
# still work, without delay (a warning says so).
set -eu
apk add --no-cache iproute2 socat >/dev/null

for pair in $DELAYS; do
  prefix=${pair%%=*}
  delay=${pair#*=}
  dev=$(ip -o -4 addr show | awk -v p="$prefix" 'index($4, p) == 1 { print $2; exit }')
  if [ -z "$dev" ]; then echo "latency-bridge: no interface in $prefix*" >&2; exit 1; fi
  if tc qdisc replace dev "$dev" root netem delay "$delay"; then
    echo "latency-bridge: $dev ($prefix*) +$delay"
  else
    echo "latency-bridge: WARNING: netem unavailable on $dev; no delay" >&2
  fi
done

for fwd in $FORWARDS; do
  port=${fwd%%=*}
  target=${fwd#*=}
  socat "TCP-LISTEN:$port,fork,reuseaddr" "TCP:$target" &
  echo "latency-bridge: :$port -> $target"
done
wait
