#!/bin/sh
# bench/deps.sh: install what the benchmarks need (bench only: `make test` never
# needs these), and keep the packages' system services stopped, since the
# benchmarks start their own instances on 127.0.0.0/8 high ports.
set -eu

need=""
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have haproxy || need="$need haproxy"
have nginx || need="$need nginx"
have nsd || need="$need nsd"
have knotd || need="$need knot"
have wrk || need="$need wrk"
have dnsperf || need="$need dnsperf"
have dig || need="$need bind9-dnsutils"
have perf || need="$need linux-perf"
[ -x /usr/bin/python3 ] || need="$need python3"
/usr/bin/python3 -c 'import requests' 2>/dev/null || need="$need python3-requests"

if [ -n "$need" ]; then
	echo "bench/deps.sh: installing:$need" >&2
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO="sudo"
	# The packages' postinst scripts would start their daemons; forbid that.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod +x /usr/sbin/policy-rc.d
		cleanup_policy=1
	fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need
	[ "${cleanup_policy:-0}" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
fi

# Their system services must not run (they would take CPU and, for nginx, port 80).
for svc in haproxy nginx nsd knot; do
	pidfile=""
	case $svc in
	haproxy) pidfile=/run/haproxy.pid ;;
	nginx) pidfile=/run/nginx.pid ;;
	nsd) pidfile=/run/nsd/nsd.pid ;;
	knot) pidfile=/run/knot/knot.pid ;;
	esac
	if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		echo "bench/deps.sh: stopping the system's $svc (pid $(cat "$pidfile"))" >&2
		if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
			systemctl stop "$svc" || true
		elif [ -x "/etc/init.d/$svc" ]; then
			"/etc/init.d/$svc" stop || true
		fi
		if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
			kill "$(cat "$pidfile")" || true
		fi
	fi
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now "$svc" >/dev/null 2>&1 || true
	fi
done
exit 0
