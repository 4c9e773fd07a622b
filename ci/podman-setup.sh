#!/usr/bin/env bash
# Set up Podman as a Docker-API-compatible engine for the test harness.
#
# Idempotent: installs podman/runc/debootstrap/curl if missing, writes the
# containers.conf settings this host needs, and starts the Podman API service
# on unix:///run/podman/podman.sock unless it already answers.
#
# Afterwards point Docker clients (testcontainers, docker CLI) at it with:
#   export DOCKER_HOST=unix:///run/podman/podman.sock
set -euo pipefail

SOCK=/run/podman/podman.sock
LOG=${PODMAN_SERVICE_LOG:-/var/log/podman-service.log}
CONF=/etc/containers/containers.conf

log() { printf '[podman-setup] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "podman-setup: must run as root (rootful podman serves $SOCK)" >&2
    exit 1
fi

# --- packages ---------------------------------------------------------------
missing=()
for pkg in podman runc debootstrap curl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    # Refresh package lists only if they were never fetched.
    if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
        apt-get update
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" \
        || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; }
else
    log "packages already installed: podman runc debootstrap curl"
fi

# --- containers.conf --------------------------------------------------------
# runc: crun cannot cope with this host's cgroup v1 layout.
# default_ulimits: containers may not raise limits above the host's hard
# limits, and podman's default (nofile=1048576) would make every start fail.
set_conf() { # set_conf SECTION KEY VALUE  (minimal TOML editor, enough for containers.conf)
    local section=$1 key=$2 value=$3 tmp
    tmp=$(mktemp)
    awk -v sec="$section" -v key="$key" -v val="$value" '
        function emit() { print key " = " val; done = 1 }
        function depth(s,   o, c) { o = gsub(/\[/, "[", s); c = gsub(/\]/, "]", s); return o - c }
        # Skip the continuation lines of a multi-line value being replaced.
        skip > 0 { skip += depth($0); next }
        /^[[:space:]]*\[/ {
            if (insec && !done) emit()
            hdr = $0; gsub(/[[:space:]]/, "", hdr)
            insec = (hdr == "[" sec "]")
            print; next
        }
        insec && $0 ~ "^[[:space:]]*" key "[[:space:]]*=" {
            if (!done) emit()
            v = $0; sub(/^[^=]*=/, "", v); sub(/#.*/, "", v)
            skip = depth(v)
            next
        }
        { print }
        END {
            if (insec && !done) emit()
            else if (!done) { print ""; print "[" sec "]"; emit() }
        }' "$CONF" > "$tmp"
    if ! cmp -s "$tmp" "$CONF"; then
        cat "$tmp" > "$CONF"
        log "containers.conf: [$section] $key = $value"
        conf_changed=1
    fi
    rm -f "$tmp"
}
mkdir -p "$(dirname "$CONF")"
[ -f "$CONF" ] || printf '# Written by ci/podman-setup.sh\n' > "$CONF"
conf_changed=0
set_conf engine runtime '"runc"'
set_conf containers default_ulimits '["nofile=1024:1024", "nproc=1000:1000"]'
[ "$conf_changed" = 1 ] || log "containers.conf already configured"

# --- API service ------------------------------------------------------------
ping_ok() { [ "$(curl -s --max-time 3 --unix-socket "$SOCK" http://d/_ping 2>/dev/null)" = OK ]; }

pidfile=/run/podman/dbcompat-service.pid
if ping_ok && [ "$conf_changed" = 1 ]; then
    old=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$old" ] && kill -0 "$old" 2>/dev/null \
            && tr '\0' ' ' < "/proc/$old/cmdline" | grep -q 'podman system service'; then
        # Settings changed: restart the service this script started so it reads them.
        log "restarting Podman API service (pid $old) to apply the new settings"
        kill "$old"
        for _ in $(seq 1 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.2; done
    else
        log "WARNING: settings changed, but the service answering on $SOCK was not started by this script; restart it to apply them"
    fi
fi

if ping_ok; then
    log "Podman API already answering on unix://$SOCK"
else
    mkdir -p /run/podman
    rm -f "$SOCK"
    log "starting Podman API service on unix://$SOCK (log: $LOG)"
    # setsid + nohup: detached from this shell, survives its exit.
    setsid nohup podman system service --time=0 "unix://$SOCK" >>"$LOG" 2>&1 < /dev/null &
    echo $! > "$pidfile"
fi

for _ in $(seq 1 60); do
    if ping_ok; then
        log "Podman API ready: $(curl -s --unix-socket "$SOCK" http://d/version | grep -o '"Version":"[^"]*"' | head -1)"
        log "use: export DOCKER_HOST=unix://$SOCK"
        exit 0
    fi
    sleep 0.5
done
echo "podman-setup: Podman API did not answer on $SOCK within 30s; see $LOG" >&2
tail -20 "$LOG" >&2 || true
exit 1
