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
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
        || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
else
    log "packages already installed: podman runc debootstrap curl"
fi

# --- containers.conf --------------------------------------------------------
# runc: crun cannot cope with this host's cgroup v1 layout.
# default_ulimits: containers may not raise limits above the host's hard
# limits, and podman's default (nofile=1048576) would make every start fail.
set_conf() { # set_conf SECTION KEY VALUE  (minimal TOML editor: one key per line)
    local section=$1 key=$2 value=$3 tmp
    tmp=$(mktemp)
    awk -v sec="[$section]" -v key="$key" -v val="$value" '
        function emit() { print key " = " val; done = 1 }
        /^[[:space:]]*\[/ {
            if (insec && !done) emit()
            insec = ($0 ~ "^[[:space:]]*\\[" substr(sec, 2, length(sec) - 2) "\\][[:space:]]*$")
            print; next
        }
        insec && $0 ~ "^[[:space:]]*" key "[[:space:]]*=" { if (!done) emit(); next }
        { print }
        END {
            if (insec && !done) emit()
            else if (!done) { print ""; print sec; emit() }
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

if ping_ok && [ "$conf_changed" = 0 ]; then
    log "Podman API already answering on unix://$SOCK"
else
    if [ "$conf_changed" = 1 ] && [ -f /run/podman/dbcompat-service.pid ]; then
        # Settings changed: restart the service we started earlier so it reads them.
        old=$(cat /run/podman/dbcompat-service.pid)
        if kill -0 "$old" 2>/dev/null; then
            log "restarting Podman API service (pid $old) to apply new settings"
            kill "$old" || true
            sleep 1
        fi
    fi
    if ! ping_ok; then
        mkdir -p /run/podman
        rm -f "$SOCK"
        log "starting Podman API service on unix://$SOCK (log: $LOG)"
        # setsid + nohup: detached from this shell, survives its exit.
        setsid nohup podman system service --time=0 "unix://$SOCK" >>"$LOG" 2>&1 < /dev/null &
        echo $! > /run/podman/dbcompat-service.pid
    fi
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
