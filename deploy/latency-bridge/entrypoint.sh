#!/bin/sh
# The three-region simulation's "internet": a container on every region network that delays the traffic
# between that region and the others (tc netem) and forwards the inter-region TCP ports (socat). Relay
# regions reach the primary through it.
#
# DELAYS gives each region's added ROUND TRIP; half of it goes on each direction: netem on the region
# network's interface delays what the bridge sends into the region, and netem on an ifb device that the
# interface's ingress is redirected to delays what the region sends to the bridge. (One netem on egress
# alone would put the whole round trip on the bridge→region direction.)
#
# Environment:
#   DELAYS    "SUBNET_PREFIX=RTT_MS ..."   e.g. "172.20.2.=80ms 172.20.3.=200ms" (milliseconds, even or odd)
#   FORWARDS  "PORT=HOST:PORT ..."         e.g. "7422=nats-hub:7422 8880=pool-eu:8880"
# Needs NET_ADMIN (tc). Docker Desktop and rootless engines may lack the sch_netem or ifb modules: without
# netem the forwards work with no delay; without ifb the whole round trip goes on the egress direction
# (a warning says which).
set -eu
if [ -z "${LATENCY_BRIDGE_NO_APK:-}" ]; then apk add --no-cache iproute2 socat >/dev/null; fi

for pair in $DELAYS; do
  prefix=${pair%%=*}
  rtt=${pair#*=}
  rtt_ms=${rtt%ms}
  case "$rtt_ms" in
    ''|*[!0-9]*) echo "latency-bridge: DELAYS entry $pair: the round trip must be whole milliseconds, e.g. 80ms" >&2; exit 1 ;;
  esac
  out_us=$((rtt_ms * 500))            # half, in microseconds (an odd millisecond count splits exactly)
  in_us=$((rtt_ms * 1000 - out_us))
  dev=$(ip -o -4 addr show | awk -v p="$prefix" 'index($4, p) == 1 { print $2; exit }')
  if [ -z "$dev" ]; then echo "latency-bridge: no interface in $prefix*" >&2; exit 1; fi
  ifb="ifb-$dev"
  if { ip link add "$ifb" type ifb 2>/dev/null || ip link show "$ifb" >/dev/null 2>&1; } && ip link set "$ifb" up &&
    tc qdisc replace dev "$dev" handle ffff: ingress &&
    tc filter replace dev "$dev" parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev "$ifb"; then
    if tc qdisc replace dev "$dev" root netem delay "${out_us}us" && tc qdisc replace dev "$ifb" root netem delay "${in_us}us"; then
      echo "latency-bridge: $dev ($prefix*) +${out_us}us to the region, +${in_us}us from it (round trip +$rtt)"
    else
      echo "latency-bridge: WARNING: netem unavailable on $dev; no delay" >&2
    fi
  elif tc qdisc replace dev "$dev" root netem delay "$((rtt_ms * 1000))us"; then
    echo "latency-bridge: WARNING: no ifb device or ingress redirect: $dev ($prefix*) +$rtt on the way to the region only" >&2
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
