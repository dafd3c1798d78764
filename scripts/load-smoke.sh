#!/usr/bin/env bash
# A short finesse-load run against the built server, part of `make test`:
# 300 WebSocket and 100 BOSH sessions of numbered users, each subscribed to
# its own node, 600 events; the run fails (exit 1) when any event is lost
# or arrives twice or out of order.
#
#   scripts/load-smoke.sh SERVER_BIN LOAD_BIN
set -euo pipefail

server_bin=${1:?usage: load-smoke.sh SERVER_BIN LOAD_BIN}
load_bin=${2:?usage: load-smoke.sh SERVER_BIN LOAD_BIN}

work=$(mktemp -d)
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/directory.yaml" <<'YAML'
teams: [{id: 1, name: Load}]
users:
  - {id: admin, password: password, role: Administrator}
userRanges:
  - {from: 3001, to: 3400, password: password, role: Agent, team: 1}
YAML

# Only the plain HTTP listener, on a port the system picks; the banner
# names it.
mkfifo "$work/banner"
"$server_bin" --directory "$work/directory.yaml" --notify-addr= --rest-addr= --xmpp-addr= --xmpps-addr= \
	--notify-plain-addr=127.0.0.1:0 --log-level=warn >"$work/banner" 2>"$work/server.log" &
server_pid=$!
base=
while IFS= read -r line; do
	case "$line" in
	*"http://127.0.0.1:"*"/http-bind"*) base=$(sed -E 's|.*(http://127\.0\.0\.1:[0-9]+)/http-bind.*|\1|' <<<"$line") ;;
	Ready.*) break ;;
	esac
done <"$work/banner"
cat "$work/banner" >/dev/null &
if [ -z "$base" ]; then
	echo "load-smoke: the server did not start:" >&2
	cat "$work/server.log" >&2
	exit 1
fi

echo "load-smoke: finesse-load against $base (300 WebSocket + 100 BOSH sessions, own nodes, 600 events)"
"$load_bin" --server finesse --domain localhost --transport mix --mix ws=300,bosh=100 \
	--ws-url "${base/http:/ws:}/ws" --bosh-url "$base/http-bind" \
	--users 3001-3400 --mode own --rate 300 --events 600 --max-loss 0 --timeout 90s
