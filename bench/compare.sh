#!/usr/bin/env bash
# bench/compare.sh: the same load scenarios against Prosody, ejabberd and
# finesse-notify, back to back on this machine, measured by finesse-load,
# and one table of the results.
#
# It installs Debian's prosody and ejabberd when they are missing (without
# letting their services start), runs each server from its own
# configuration in a work directory on loopback ports of its own, creates
# the load users, starts a fresh server for every scenario, runs
# finesse-load against it, and stops it. Every server it started is stopped
# on success, failure and Ctrl-C. See bench/README.md.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: bench/compare.sh [options]

Runs the issue's four scenarios against each server and prints the table
(server x scenario) on stdout; progress goes to stderr.

Options:
  --quick               small numbers (a few hundred sessions, a few seconds
                        per scenario), to try the script out
  --servers LIST        comma list of prosody, ejabberd, finesse
                        (default: prosody,ejabberd,finesse)
  --scenarios LIST      comma list of own-ws, shared-ws, own-bosh, idle-ws,
                        idle (default: all five)
  --work DIR            work directory (configs, data, logs); default: a new
                        directory under ${TMPDIR:-/tmp}, removed after a
                        successful run unless --keep
  --keep                keep the work directory
  --json FILE           also write the JSON summary lines to FILE
  --no-install          never run apt-get; fail when a server is missing
  -h, --help            this text

Environment: FINESSE_LOAD_FLAGS adds flags to every finesse-load run;
BENCH_PORT_BASE (default 25000) moves every port the script uses (keep
them below the ephemeral range, 32768 on Linux); BENCH_SETTLE_SECONDS
(default 3) is the pause between a server's start and finesse-load.
EOF
}

# ---------------------------------------------------------------- settings

ALL_SERVERS=(prosody ejabberd finesse)
ALL_SCENARIOS=(own-ws shared-ws own-bosh idle-ws idle)

quick=0
servers_arg="prosody,ejabberd,finesse"
scenarios_arg="own-ws,shared-ws,own-bosh,idle-ws,idle"
work=""
keep=0
json_out=""
install=1

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--servers) servers_arg="${2:?--servers needs a list}"; shift ;;
	--servers=*) servers_arg="${1#*=}" ;;
	--scenarios) scenarios_arg="${2:?--scenarios needs a list}"; shift ;;
	--scenarios=*) scenarios_arg="${1#*=}" ;;
	--work) work="${2:?--work needs a directory}"; shift ;;
	--work=*) work="${1#*=}" ;;
	--keep) keep=1 ;;
	--json) json_out="${2:?--json needs a file}"; shift ;;
	--json=*) json_out="${1#*=}" ;;
	--no-install) install=0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

# pick LIST ALLOWED...: the comma list, checked against the allowed names,
# in the order given.
pick() {
	local list="$1" name ok allowed
	shift
	local IFS=,
	for name in $list; do
		ok=0
		for allowed in "$@"; do [ "$name" = "$allowed" ] && ok=1; done
		if [ "$ok" = 0 ]; then
			echo "compare.sh: unknown name '$name' (expected one of: $*)" >&2
			return 1
		fi
		echo "$name"
	done
}
pick "$servers_arg" "${ALL_SERVERS[@]}" >/dev/null || exit 2
pick "$scenarios_arg" "${ALL_SCENARIOS[@]}" >/dev/null || exit 2
mapfile -t servers < <(pick "$servers_arg" "${ALL_SERVERS[@]}")
mapfile -t scenarios < <(pick "$scenarios_arg" "${ALL_SCENARIOS[@]}")
if [ "${#servers[@]}" -eq 0 ] || [ "${#scenarios[@]}" -eq 0 ]; then
	echo "compare.sh: nothing to run" >&2
	exit 2
fi

DOMAIN=localhost
PASSWORD=password
ADMIN="admin"
FIRST_USER=3001
# Prosody and ejabberd users are load3001…; finesse-notify's are 3001… (its
# directory declares them as a user range).
USER_PREFIX=load

# Ports: loopback only, none of finesse-notify's defaults
# (5222/5223/7071/7443/8445), one block per server.
base=${BENCH_PORT_BASE:-25000}
PROSODY_C2S_PORT=$((base + 222))
PROSODY_HTTP_PORT=$((base + 280))
EJABBERD_C2S_PORT=$((base + 1222))
EJABBERD_HTTP_PORT=$((base + 1280))
EJABBERD_DIST_PORT=$((base + 1299))
FINESSE_XMPP_PORT=$((base + 2222))
FINESSE_XMPPS_PORT=$((base + 2223))
FINESSE_PLAIN_PORT=$((base + 2071))
FINESSE_TLS_PORT=$((base + 2443))
FINESSE_REST_PORT=$((base + 2445))

# Scenario sizes: the issue's numbers, or --quick's.
if [ "$quick" = 1 ]; then
	OWN_WS_USERS=200 OWN_WS_RATE=20 OWN_WS_DURATION=5s
	SHARED_USERS=200 SHARED_STEPS=1,5,20 SHARED_STEP_DURATION=3s
	OWN_BOSH_USERS=50 OWN_BOSH_RATE=10 OWN_BOSH_DURATION=5s
	IDLE_WS_ONLY=200 IDLE_WS_ONLY_HOLD=10s
	IDLE_WS=200 IDLE_BOSH=50 IDLE_HOLD=15s
	RUN_TIMEOUT=3m
else
	OWN_WS_USERS=2000 OWN_WS_RATE=200 OWN_WS_DURATION=30s
	SHARED_USERS=2000 SHARED_STEPS=1,2,5,10,20,50,100,200,500,1000,2000 SHARED_STEP_DURATION=10s
	OWN_BOSH_USERS=500 OWN_BOSH_RATE=50 OWN_BOSH_DURATION=30s
	IDLE_WS_ONLY=10000 IDLE_WS_ONLY_HOLD=30s
	IDLE_WS=10000 IDLE_BOSH=2000 IDLE_HOLD=60s
	RUN_TIMEOUT=15m
fi
MAX_P99=100ms
SETTLE_SECONDS=${BENCH_SETTLE_SECONDS:-3}

# The most users any selected scenario needs.
users_needed=0
for s in "${scenarios[@]}"; do
	case "$s" in
	own-ws) n=$OWN_WS_USERS ;;
	shared-ws) n=$SHARED_USERS ;;
	own-bosh) n=$OWN_BOSH_USERS ;;
	idle-ws) n=$IDLE_WS_ONLY ;;
	idle) n=$((IDLE_WS + IDLE_BOSH)) ;;
	esac
	[ "$n" -gt "$users_needed" ] && users_needed=$n
done
LAST_USER=$((FIRST_USER + users_needed - 1))

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "$here/.." && pwd -P)"
# The arguments were consumed above: say again what was asked for.
command_line="bench/compare.sh"
[ "$quick" = 1 ] && command_line+=" --quick"
[ "$servers_arg" != "prosody,ejabberd,finesse" ] && command_line+=" --servers $servers_arg"
[ "$scenarios_arg" != "own-ws,shared-ws,own-bosh,idle-ws,idle" ] && command_line+=" --scenarios $scenarios_arg"

# run CMD...: CMD in the background, waited for. A signal to the script
# interrupts the wait and reaches its trap at once, instead of waiting for
# CMD to finish (as bash does for a foreground command), and Ctrl-C reaches
# the trap even when CMD handles SIGINT itself (erl, su).
run() {
	"$@" &
	wait "$!"
}

# fd 3 is the script's own stderr: messages reach the terminal even from
# code whose stderr goes to a log file (a trap can run there).
exec 3>&2
log() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&3; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------- privileges

# apt-get and ejabberdctl need root (ejabberdctl runs ejabberd as the
# ejabberd user); as another user they go through password-less sudo.
if [ "$(id -u)" = 0 ]; then
	SUDO=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
	SUDO=(sudo -n)
else
	SUDO=(false-no-root)
fi
as_root() {
	[ "${SUDO[0]:-}" = false-no-root ] && die "'$*' needs root or password-less sudo"
	run "${SUDO[@]}" "$@"
}

wants() { # wants SERVER: is SERVER selected?
	local s
	for s in "${servers[@]}"; do [ "$s" = "$1" ] && return 0; done
	return 1
}

# ------------------------------------------------------------ installation

# Debian's packages start their services from postinst. A policy-rc.d that
# denies every start keeps them down (containers usually have one already;
# deb-systemd-invoke honours it too); any unit that still came up is
# stopped, and with systemd the units the installation enabled are
# disabled: the benchmark never uses the system services or /etc configs.
installed_policy=""
install_packages() {
	local pkgs=() p
	wants prosody && ! command -v prosodyctl >/dev/null && pkgs+=(prosody)
	wants ejabberd && ! command -v ejabberdctl >/dev/null && pkgs+=(ejabberd)
	command -v jq >/dev/null || pkgs+=(jq)
	command -v setpriv >/dev/null || pkgs+=(util-linux)
	[ "${#pkgs[@]}" -eq 0 ] && return 0
	[ "$install" = 1 ] || die "missing: ${pkgs[*]} (and --no-install was given)"
	command -v apt-get >/dev/null || die "missing: ${pkgs[*]}, and there is no apt-get to install them"
	log "installing ${pkgs[*]} from Debian's packages"
	local epmd_before=0 units_before=""
	epmd_running && epmd_before=1
	have_systemd && units_before="$(unit_states)"
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		as_root sh -c 'printf "#!/bin/sh\n# compare.sh: no service starts while it installs packages\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
		installed_policy=/usr/sbin/policy-rc.d
	fi
	as_root apt-get update -q >&2
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2
	if [ -n "$installed_policy" ]; then
		as_root rm -f "$installed_policy"
		installed_policy=""
	fi
	if have_systemd; then
		undo_unit_changes "$units_before"
	else
		for p in "${pkgs[@]}"; do
			case "$p" in
			prosody | ejabberd) stop_init_service "$p" ;;
			esac
		done
	fi
	# ejabberd's postinst runs `ejabberdctl status`, whose Erlang VM starts
	# the epmd daemon when none runs; the benchmark's ejabberd needs none.
	if [ "$epmd_before" = 0 ] && epmd_running; then
		log "stopping the epmd daemon that the ejabberd package started"
		run epmd -kill >/dev/null 2>&1 || log "warning: epmd -kill failed: an epmd daemon is left running"
	fi
}

# epmd_running: an epmd daemon answers on this machine.
epmd_running() { command -v epmd >/dev/null && epmd -names >/dev/null 2>&1; }

# The systemd units the packages bring; unit_states prints each one's
# activity and enablement, so that only what the installation changed is
# undone.
UNITS=(prosody.service ejabberd.service epmd.service epmd.socket)
have_systemd() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }
unit_states() {
	local u
	for u in "${UNITS[@]}"; do
		printf '%s %s %s\n' "$u" "$(systemctl is-active "$u" 2>/dev/null || true)" "$(systemctl is-enabled "$u" 2>/dev/null || true)"
	done
}

# undo_unit_changes BEFORE: stop the units that became active and disable
# those that became enabled since BEFORE (unit_states' output).
undo_unit_changes() {
	local before="$1" u active enabled was_active was_enabled
	while read -r u active enabled; do
		read -r _ was_active was_enabled < <(grep "^$u " <<<"$before" || echo "$u - -")
		if [ "$active" = active ] && [ "$was_active" != active ]; then
			log "stopping $u, which the package installation started"
			as_root systemctl stop "$u" >/dev/null 2>&1 || true
		fi
		if [ "$enabled" = enabled ] && [ "$was_enabled" != enabled ]; then
			log "disabling $u, which the package installation enabled"
			as_root systemctl disable "$u" >/dev/null 2>&1 || true
		fi
	done < <(unit_states)
}

# stop_init_service NAME: without systemd, stop a System V service that
# the installation started despite the policy.
stop_init_service() {
	local name="$1"
	if command -v service >/dev/null && [ -x "/etc/init.d/$name" ] && service "$name" status >/dev/null 2>&1; then
		log "stopping the system service $name, which the package installation started"
		as_root service "$name" stop >/dev/null 2>&1 || true
	fi
}

# ------------------------------------------------------------ process care

work_is_temp=0
prosody_pid=""
ejabberd_up=0
finesse_pid=""
load_pid=""
failed=0

cleanup() {
	local rc=$?
	# Stopping the servers must not be cut short by a second Ctrl-C.
	trap - EXIT
	trap '' INT TERM
	if [ -n "$load_pid" ] && alive "$load_pid"; then
		kill -TERM "$load_pid" 2>/dev/null || true
		wait "$load_pid" 2>/dev/null || true
	fi
	[ -n "$prosody_pid" ] && stop_prosody
	[ "$ejabberd_up" = 1 ] && stop_ejabberd
	[ -n "$finesse_pid" ] && stop_finesse
	if [ -n "$installed_policy" ]; then
		as_root rm -f "$installed_policy" || true
	fi
	if [ -n "$work" ] && [ -d "$work" ]; then
		if [ "$keep" = 1 ] || [ "$rc" != 0 ] || [ "$failed" != 0 ]; then
			log "work directory kept: $work"
		elif [ "$work_is_temp" = 1 ]; then
			# ejabberd's files belong to the ejabberd user.
			rm -rf "$work" 2>/dev/null || { [ "${SUDO[0]:-}" != false-no-root ] && "${SUDO[@]}" rm -rf "$work"; } || true
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# wait_port PORT SECONDS PID: wait until 127.0.0.1:PORT accepts, while the
# process PID (when given) is alive.
wait_port() {
	local port="$1" deadline=$((SECONDS + $2)) pid="${3:-}"
	while [ "$SECONDS" -lt "$deadline" ]; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		if [ -n "$pid" ] && ! alive "$pid"; then
			return 1
		fi
		sleep 0.2
	done
	return 1
}

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_ports_free() {
	local p
	for p in "$@"; do
		port_free "$p" || die "port $p is already in use on 127.0.0.1 (set BENCH_PORT_BASE to move every port)"
	done
}

# alive PID: the process exists and has not exited (whoever owns it): a
# zombie (Z) or a process being reaped (X) is gone. The status is read once:
# bash reaps its children at any moment, and /proc/PID goes with them.
alive() {
	local state
	state="$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)"
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# stop_pid PID NAME: SIGTERM, up to 15 s, then SIGKILL; reaps our children.
stop_pid() {
	local pid="$1" name="$2" i
	kill -TERM "$pid" 2>/dev/null || as_root kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 75; i++)); do
		alive "$pid" || break
		sleep 0.2
	done
	if alive "$pid"; then
		log "$name (pid $pid) did not stop within 15 s: killing it"
		kill -KILL "$pid" 2>/dev/null || as_root kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# --------------------------------------------------------------- Prosody

prosody_dir() { echo "$work/prosody"; }

setup_prosody() {
	local dir
	dir="$(prosody_dir)"
	mkdir -p "$dir/data" "$dir/certs"
	sed -e "s|@DIR@|$dir|g; s|@DOMAIN@|$DOMAIN|g; s|@C2S_PORT@|$PROSODY_C2S_PORT|g" \
		-e "s|@HTTP_PORT@|$PROSODY_HTTP_PORT|g; s|@ADMIN_JID@|$ADMIN@$DOMAIN|g; s|@LOG_LEVEL@|warn|g" \
		"$here/prosody.cfg.lua.in" >"$dir/prosody.cfg.lua"
	# As root, Prosody runs as the prosody user (it refuses root); its files
	# must be its own.
	[ "$(id -u)" = 0 ] && chown -R prosody:prosody "$dir"

	log "prosody: creating $ADMIN and $USER_PREFIX$FIRST_USER..$USER_PREFIX$LAST_USER"
	local t0=$SECONDS
	run prosodyctl --config "$dir/prosody.cfg.lua" register "$ADMIN" "$DOMAIN" "$PASSWORD" >/dev/null
	run prosodyctl --config "$dir/prosody.cfg.lua" register "$USER_PREFIX$FIRST_USER" "$DOMAIN" "$PASSWORD" >/dev/null
	# prosodyctl register takes about 50 ms a user (10 minutes for 12,000):
	# the other accounts are copies of the first one's file, which holds
	# nothing but the password.
	local first accounts content i
	first="$(find "$dir/data" -path "*/accounts/$USER_PREFIX$FIRST_USER.dat" -print -quit)"
	[ -n "$first" ] || die "prosody: prosodyctl register wrote no account file under $dir/data"
	accounts="$(dirname "$first")"
	content="$(cat "$first")"
	for ((i = FIRST_USER + 1; i <= LAST_USER; i++)); do
		printf '%s\n' "$content" >"$accounts/$USER_PREFIX$i.dat"
	done
	[ "$(id -u)" = 0 ] && chown -R prosody:prosody "$accounts"
	log "prosody: $((LAST_USER - FIRST_USER + 2)) accounts in $((SECONDS - t0)) s"
}

start_prosody() {
	local dir
	dir="$(prosody_dir)"
	check_ports_free "$PROSODY_C2S_PORT" "$PROSODY_HTTP_PORT"
	local run=(prosody --config "$dir/prosody.cfg.lua" -F)
	# setpriv execs Prosody in place: $! is Prosody's own pid.
	[ "$(id -u)" = 0 ] && run=(setpriv --reuid=prosody --regid=prosody --init-groups "${run[@]}")
	"${run[@]}" >>"$dir/stdout.log" 2>&1 </dev/null &
	prosody_pid=$!
	if ! wait_port "$PROSODY_HTTP_PORT" 30 "$prosody_pid" || ! wait_port "$PROSODY_C2S_PORT" 5 "$prosody_pid"; then
		tail -n 20 "$dir/prosody.log" "$dir/stdout.log" >&2 || true
		die "prosody did not start (logs in $dir)"
	fi
	server_pid=$prosody_pid
}

stop_prosody() {
	[ -n "$prosody_pid" ] || return 0
	stop_pid "$prosody_pid" prosody
	prosody_pid=""
}

# -------------------------------------------------------------- ejabberd

ejabberd_dir() { echo "$work/ejabberd"; }
EJABBERD_NODE="bench@localhost"
ejabberd_cookie=""

ejabberdctl_() {
	local dir
	dir="$(ejabberd_dir)"
	as_root ejabberdctl --config-dir "$dir" --config "$dir/ejabberd.yml" --ctl-config "$dir/ejabberdctl.cfg" \
		--spool "$dir/spool" --logs "$dir/logs" "$@"
}

setup_ejabberd() {
	local dir
	dir="$(ejabberd_dir)"
	mkdir -p "$dir/spool" "$dir/logs"
	ejabberd_cookie="bench$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')"
	sed -e "s|@DIR@|$dir|g; s|@DOMAIN@|$DOMAIN|g; s|@C2S_PORT@|$EJABBERD_C2S_PORT|g" \
		-e "s|@HTTP_PORT@|$EJABBERD_HTTP_PORT|g; s|@ADMIN_JID@|$ADMIN@$DOMAIN|g; s|@LOG_LEVEL@|warning|g" \
		"$here/ejabberd.yml.in" >"$dir/ejabberd.yml"
	sed -e "s|@DIR@|$dir|g; s|@NODE@|$EJABBERD_NODE|g; s|@DIST_PORT@|$EJABBERD_DIST_PORT|g; s|@COOKIE@|$ejabberd_cookie|g" \
		"$here/ejabberdctl.cfg.in" >"$dir/ejabberdctl.cfg"
	# ejabberdctl reads ERL_INETRC from the config directory.
	echo '{lookup, [file, native]}.' >"$dir/inetrc"
	# erl as ejabberdctl.cfg names it: the soft open-files limit raised
	# after su has lowered it.
	printf '%s\n' '#!/bin/sh' 'ulimit -n "$(ulimit -Hn)" 2>/dev/null || true' 'exec /usr/bin/erl "$@"' >"$dir/erl"
	chmod 755 "$dir/erl"
	as_root chown -R ejabberd:ejabberd "$dir"

	start_ejabberd
	log "ejabberd: creating $ADMIN and $USER_PREFIX$FIRST_USER..$USER_PREFIX$LAST_USER"
	local t0=$SECONDS
	# `ejabberdctl register` starts an Erlang VM per user (about 0.45 s each,
	# 90 minutes for 12,000): one Erlang client calls ejabberd_auth over the
	# node's distribution port for all of them.
	local eval
	eval="N = '$EJABBERD_NODE',
Reg = fun(U) -> rpc:call(N, ejabberd_auth, try_register, [list_to_binary(U), <<\"$DOMAIN\">>, <<\"$PASSWORD\">>]) end,
Users = [\"$ADMIN\" | [\"$USER_PREFIX\" ++ integer_to_list(I) || I <- lists:seq($FIRST_USER, $LAST_USER)]],
Bad = [{U, R} || U <- Users, R <- [Reg(U)], R =/= ok, R =/= {error, exists}],
case Bad of [] -> halt(0); _ -> io:format(standard_error, \"register failed: ~p~n\", [lists:sublist(Bad, 5)]), halt(1) end."
	as_root env --chdir="$dir" HOME="$dir" setpriv --reuid=ejabberd --regid=ejabberd --init-groups \
		erl -sname "register-$EJABBERD_NODE" -hidden -noinput -setcookie "$ejabberd_cookie" \
		-erl_epmd_port "$EJABBERD_DIST_PORT" -start_epmd false -dist_listen false -eval "$eval" ||
		die "ejabberd: creating the users failed (logs in $dir/logs)"
	log "ejabberd: $((LAST_USER - FIRST_USER + 2)) accounts in $((SECONDS - t0)) s"
	stop_ejabberd
}

start_ejabberd() {
	local dir
	dir="$(ejabberd_dir)"
	check_ports_free "$EJABBERD_C2S_PORT" "$EJABBERD_HTTP_PORT" "$EJABBERD_DIST_PORT"
	as_root rm -f "$dir/ejabberd.pid"
	ejabberd_up=1
	ejabberdctl_ start >>"$dir/logs/ejabberdctl.log" 2>&1 ||
		die "ejabberd: ejabberdctl start failed (logs in $dir/logs)"
	if ! ejabberdctl_ started >>"$dir/logs/ejabberdctl.log" 2>&1 ||
		! wait_port "$EJABBERD_HTTP_PORT" 30 || ! wait_port "$EJABBERD_C2S_PORT" 5; then
		tail -n 20 "$dir/logs/ejabberd.log" "$dir/logs/error.log" >&2 || true
		die "ejabberd did not start (logs in $dir/logs)"
	fi
	server_pid="$(ejabberd_pid)"
	[ -n "$server_pid" ] || die "ejabberd wrote no pid file ($dir/ejabberd.pid)"
}

# ejabberd_pid: the VM of our node: its pid file, or (when stopped while
# starting, before it wrote one) the process with this run's cookie and a
# Mnesia directory, which no ejabberdctl client has.
ejabberd_pid() {
	local dir
	dir="$(ejabberd_dir)"
	if [ -s "$dir/ejabberd.pid" ]; then
		cat "$dir/ejabberd.pid"
	else
		pgrep -u ejabberd -f -- "-setcookie $ejabberd_cookie .*-mnesia dir" | head -n 1 || true
	fi
}

stop_ejabberd() {
	local dir pid i
	dir="$(ejabberd_dir)"
	pid="$(ejabberd_pid)"
	ejabberdctl_ stop >>"$dir/logs/ejabberdctl.log" 2>&1 || true
	for ((i = 0; i < 100; i++)); do
		if [ -z "$pid" ] || ! alive "$pid"; then break; fi
		sleep 0.2
	done
	if [ -n "$pid" ] && alive "$pid"; then
		log "ejabberd (pid $pid) still running 20 s after ejabberdctl stop: stopping it"
		stop_pid "$pid" ejabberd
	fi
	ejabberd_up=0
}

# --------------------------------------------------------- finesse-notify

finesse_dir() { echo "$work/finesse"; }

setup_finesse() {
	local dir
	dir="$(finesse_dir)"
	mkdir -p "$dir"
	sed -e "s|@FROM@|$FIRST_USER|g; s|@TO@|$LAST_USER|g; s|@PASSWORD@|$PASSWORD|g; s|@ADMIN_USER@|$ADMIN|g" \
		"$here/finesse-directory.yaml.in" >"$dir/directory.yaml"
}

start_finesse() {
	local dir
	dir="$(finesse_dir)"
	check_ports_free "$FINESSE_XMPP_PORT" "$FINESSE_XMPPS_PORT" "$FINESSE_PLAIN_PORT" "$FINESSE_TLS_PORT" "$FINESSE_REST_PORT"
	"$work/bin/finesse-notify" --directory "$dir/directory.yaml" --domain "$DOMAIN" \
		--xmpp-addr "127.0.0.1:$FINESSE_XMPP_PORT" --xmpps-addr "127.0.0.1:$FINESSE_XMPPS_PORT" \
		--notify-plain-addr "127.0.0.1:$FINESSE_PLAIN_PORT" --notify-addr "127.0.0.1:$FINESSE_TLS_PORT" \
		--rest-addr "127.0.0.1:$FINESSE_REST_PORT" --log-level warn \
		>>"$dir/stdout.log" 2>>"$dir/finesse-notify.log" </dev/null &
	finesse_pid=$!
	if ! wait_port "$FINESSE_PLAIN_PORT" 30 "$finesse_pid"; then
		tail -n 20 "$dir/finesse-notify.log" >&2 || true
		die "finesse-notify did not start (logs in $dir)"
	fi
	server_pid=$finesse_pid
}

stop_finesse() {
	[ -n "$finesse_pid" ] || return 0
	stop_pid "$finesse_pid" finesse-notify
	finesse_pid=""
}

# ---------------------------------------------------------------- running

# load_args SERVER SCENARIO: finesse-load's flags for one run (one per line).
load_args() {
	local server="$1" scenario="$2" ws bosh users
	case "$server" in
	prosody)
		ws="ws://127.0.0.1:$PROSODY_HTTP_PORT/ws" bosh="http://127.0.0.1:$PROSODY_HTTP_PORT/http-bind"
		printf '%s\n' --server generic --user-prefix "$USER_PREFIX" --admin-jid "$ADMIN@$DOMAIN" \
			--node-prefix "bench-own-" --tcp-addr "127.0.0.1:$PROSODY_C2S_PORT"
		;;
	ejabberd)
		ws="ws://127.0.0.1:$EJABBERD_HTTP_PORT/ws" bosh="http://127.0.0.1:$EJABBERD_HTTP_PORT/http-bind"
		printf '%s\n' --server generic --user-prefix "$USER_PREFIX" --admin-jid "$ADMIN@$DOMAIN" \
			--node-prefix "bench-own-" --tcp-addr "127.0.0.1:$EJABBERD_C2S_PORT"
		;;
	finesse)
		ws="ws://127.0.0.1:$FINESSE_PLAIN_PORT/ws" bosh="http://127.0.0.1:$FINESSE_PLAIN_PORT/http-bind"
		# The same XEP-0060 publishes by the administrator as on the others,
		# on the nodes a Finesse agent is subscribed to automatically: its
		# own User node, and SystemInfo for the shared scenario.
		printf '%s\n' --server finesse --user-prefix "" --admin-jid "$ADMIN@$DOMAIN" \
			--node-prefix "/finesse/api/User/" --tcp-addr "127.0.0.1:$FINESSE_XMPP_PORT" \
			--metrics-url "http://127.0.0.1:$FINESSE_PLAIN_PORT/metrics"
		;;
	esac
	# The publisher is on WebSocket in every scenario: the transport under
	# test is the subscribers'.
	printf '%s\n' --ws-url "$ws" --bosh-url "$bosh" --domain "$DOMAIN" --password "$PASSWORD" \
		--admin-password "$PASSWORD" --admin-transport ws --server-pid "$server_pid" --timeout "$RUN_TIMEOUT"
	case "$scenario" in
	own-ws)
		users="$FIRST_USER-$((FIRST_USER + OWN_WS_USERS - 1))"
		printf '%s\n' --transport ws --mode own --users "$users" --rate "$OWN_WS_RATE" --duration "$OWN_WS_DURATION" --max-loss 0
		;;
	shared-ws)
		users="$FIRST_USER-$((FIRST_USER + SHARED_USERS - 1))"
		local node=bench-shared
		[ "$server" = finesse ] && node=/finesse/api/SystemInfo
		printf '%s\n' --transport ws --mode shared --node "$node" --users "$users" \
			--rate-steps "$SHARED_STEPS" --duration "$SHARED_STEP_DURATION" --max-p99 "$MAX_P99" --max-loss 0
		;;
	own-bosh)
		users="$FIRST_USER-$((FIRST_USER + OWN_BOSH_USERS - 1))"
		printf '%s\n' --transport bosh --mode own --users "$users" --rate "$OWN_BOSH_RATE" --duration "$OWN_BOSH_DURATION" --max-loss 0
		;;
	idle-ws)
		# WebSocket alone, for the memory of an idle WebSocket session:
		# the mixed run's figure is an average over both transports.
		users="$FIRST_USER-$((FIRST_USER + IDLE_WS_ONLY - 1))"
		printf '%s\n' --transport ws --mode idle --users "$users" --hold "$IDLE_WS_ONLY_HOLD"
		;;
	idle)
		users="$FIRST_USER-$((FIRST_USER + IDLE_WS + IDLE_BOSH - 1))"
		printf '%s\n' --transport mix --mix "ws=$IDLE_WS,bosh=$IDLE_BOSH" --mode idle --users "$users" --hold "$IDLE_HOLD"
		;;
	esac
}

# run_scenario SERVER SCENARIO: a fresh server, one finesse-load run, the
# server stopped; the JSON summary line appended to $results.
run_scenario() {
	local server="$1" scenario="$2" args line rc=0 out="$work/load-$1-$2"
	log "$server: $scenario: starting $server"
	"start_$server"
	# Let the server finish starting (Erlang and Lua collect their start-up
	# garbage) before finesse-load reads its memory as the baseline.
	run sleep "$SETTLE_SECONDS"
	mapfile -t args < <(load_args "$server" "$scenario")
	# shellcheck disable=SC2206 # FINESSE_LOAD_FLAGS is split on purpose
	local extra=(${FINESSE_LOAD_FLAGS:-})
	log "$server: $scenario: finesse-load ${args[*]} ${extra[*]}"
	printf '%q ' "$work/bin/finesse-load" "${args[@]}" "${extra[@]}" >"$out.cmd"
	# In the background, so that a TERM reaches the trap at once; its
	# progress lines go to stderr and to $out.log.
	"$work/bin/finesse-load" "${args[@]}" "${extra[@]}" >"$out.json" 2> >(tee "$out.log" >&2) </dev/null &
	load_pid=$!
	wait "$load_pid" || rc=$?
	load_pid=""
	"stop_$server"
	line="$(grep '^{' "$out.json" | tail -n 1 || true)"
	if [ -z "$line" ] || ! jq -e . >/dev/null 2>&1 <<<"$line"; then
		log "$server: $scenario: finesse-load exited $rc without a JSON summary (see $out.log)"
		failed=1
		line="$(jq -cn --arg server "$server" --arg scenario "$scenario" --argjson rc "$rc" \
			'{bench_server: $server, bench_scenario: $scenario, bench_exit: $rc, error: "no summary"}')"
	else
		line="$(jq -c --arg server "$server" --arg scenario "$scenario" --argjson rc "$rc" \
			'. + {bench_server: $server, bench_scenario: $scenario, bench_exit: $rc}' <<<"$line")"
		log "$server: $scenario: done (exit $rc)"
	fi
	printf '%s\n' "$line" >>"$results"
}

server_label() {
	case "$1" in
	prosody) echo "Prosody $(dpkg-query -W -f '${Version}' prosody 2>/dev/null | sed 's/-.*//')" ;;
	ejabberd) echo "ejabberd $(dpkg-query -W -f '${Version}' ejabberd 2>/dev/null | sed 's/-.*//')" ;;
	finesse) echo "finesse-notify $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo dev)" ;;
	esac
}

# print_table: the Markdown table of $results, one row per run.
print_table() {
	local labels='{}' s
	for s in "${servers[@]}"; do
		labels="$(jq -c --arg k "$s" --arg v "$(server_label "$s")" '. + {($k): $v}' <<<"$labels")"
	done
	jq -rs --argjson labels "$labels" -f "$here/table.jq" "$results"
}

# ------------------------------------------------------------------- main

install_packages

if [ -z "$work" ]; then
	work="$(mktemp -d "${TMPDIR:-/tmp}/finesse-bench.XXXXXX")"
	work_is_temp=1
fi
mkdir -p "$work/bin"
work="$(cd "$work" && pwd -P)"
# The servers run as their own users: they must reach their directories.
chmod 755 "$work"
results="$work/results.jsonl"
: >"$results"

log "building finesse-notify and finesse-load into $work/bin"
run sh -c 'cd "$1" && go build -o "$2/bin/finesse-notify" ./cmd/finesse-notify && go build -o "$2/bin/finesse-load" ./cmd/finesse-load' sh "$repo" "$work" ||
	die "go build failed"

# Enough descriptors for 12,000 sessions in the servers started from here.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

for server in "${servers[@]}"; do
	"setup_$server"
	for scenario in "${scenarios[@]}"; do
		run_scenario "$server" "$scenario"
	done
done

[ -n "$json_out" ] && cp "$results" "$json_out"

cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
mem_gb="$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo 2>/dev/null)"
echo "$command_line — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($cpu), ${mem_gb} GB, $(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release 2>/dev/null), $(go version | awk '{print $3}')"
echo
print_table
if [ "$failed" != 0 ]; then
	log "some runs gave no summary: see the logs in $work"
	exit 1
fi
