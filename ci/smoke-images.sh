#!/usr/bin/env bash
# Smoke-test the localhost/dbcompat/* images the way the harness uses them.
#
#   ci/smoke-images.sh                     # all images, one after another
#   ci/smoke-images.sh postgres:17 mysql:9.7
#   ci/smoke-images.sh --together          # also run all at once, show memory
#
# For each image: `podman run` with the official env vars (password
# "dbcompat", database "dbcompat") and an extra server argument, on a random
# loopback port; wait until a real client connection answers
# SELECT version() (host's psql / mariadb clients); check the argument took
# effect and the readiness log lines testcontainers waits for; write a row;
# `podman stop`, `podman start`, check the row is still there; remove.
# Everything started here is removed on exit, whatever happens.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=smoke
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

REPO=localhost/dbcompat
ALL_IMAGES=(postgres:14 postgres:15 postgres:16 postgres:17 postgres:18 mariadb:10.11 mariadb:11.8 mysql:9.7)
PASSWORD=dbcompat
DB=dbcompat
READY_TIMEOUT=${DBCOMPAT_READY_TIMEOUT:-120}
LABEL="dbcompat-smoke=$$"

STARTED=()
cleanup() {
    local c
    for c in "${STARTED[@]}"; do
        podman rm -f -t 5 "$c" >/dev/null 2>&1 || true
    done
    # Anything else this run labelled (e.g. a run interrupted between create and record).
    podman ps -aq --filter "label=$LABEL" | xargs -r podman rm -f -t 5 >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# Per kind: container port, env, extra server args, client query.
kind_of() { echo "${1%%:*}"; }

run_args() { # run_args KIND -> podman run arguments (env) after which the image goes
    case "$1" in
        postgres) echo "-e POSTGRES_PASSWORD=$PASSWORD -e POSTGRES_DB=$DB" ;;
        mariadb)  echo "-e MARIADB_ROOT_PASSWORD=$PASSWORD -e MARIADB_DATABASE=$DB" ;;
        mysql)    echo "-e MYSQL_ROOT_PASSWORD=$PASSWORD -e MYSQL_DATABASE=$DB" ;;
    esac
}
server_args() {
    case "$1" in
        postgres) echo "-c fsync=off" ;;
        *)        echo "--sql-mode=ANSI_QUOTES" ;;
    esac
}
container_port() { case "$1" in postgres) echo 5432 ;; *) echo 3306 ;; esac; }

sql() { # sql KIND PORT QUERY -> tab-separated rows
    local kind=$1 port=$2 q=$3
    case "$kind" in
        postgres)
            PGPASSWORD=$PASSWORD PGCONNECT_TIMEOUT=3 psql -X -q -At -F $'\t' -v ON_ERROR_STOP=1 \
                "host=127.0.0.1 port=$port user=postgres dbname=$DB" -c "$q" ;;
        *)
            mariadb --protocol=tcp -h127.0.0.1 -P"$port" -uroot -p"$PASSWORD" --connect-timeout=3 \
                -N -B "$DB" -e "$q" ;;
    esac
}

host_port() { podman port "$1" "$2/tcp" | head -n1 | sed 's/.*://'; }

wait_ready() { # wait_ready KIND CID -> prints version; fails after READY_TIMEOUT
    local kind=$1 cid=$2 port deadline v n=0
    deadline=$((SECONDS + READY_TIMEOUT))
    port=$(host_port "$cid" "$(container_port "$kind")")
    while [ $SECONDS -lt $deadline ]; do
        if v=$(sql "$kind" "$port" 'SELECT version()' 2>/dev/null) && [ -n "$v" ]; then
            echo "$v"
            return 0
        fi
        # A crashed server never answers: look at the container now and then.
        n=$((n + 1))
        if [ $((n % 10)) -eq 0 ] && [ "$(podman inspect -f '{{.State.Running}}' "$cid")" != true ]; then
            echo "container exited (code $(podman inspect -f '{{.State.ExitCode}}' "$cid"))" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "no answer within ${READY_TIMEOUT}s" >&2
    return 1
}

# The log lines testcontainers' modules wait for. They may trail the first
# successful connection by a moment, so look a few times.
check_ready_logs() { # KIND CID
    local _ msg
    for _ in $(seq 1 50); do
        msg=$(check_ready_logs_once "$@") && return 0
        sleep 0.1
    done
    echo "$msg"
    return 1
}

check_ready_logs_once() { # KIND CID
    local kind=$1 cid=$2 out err
    out=$(podman logs "$cid" 2>/dev/null)
    err=$(podman logs "$cid" 2>&1 >/dev/null)
    case "$kind" in
        postgres)
            grep -q 'database system is ready to accept connections' <<<"$err" || { echo "no readiness line on stderr"; return 1; }
            grep -q 'database system is ready to accept connections' <<<"$out" || { echo "no readiness line on stdout"; return 1; } ;;
        mariadb)
            grep -q 'mariadbd: ready for connections.' <<<"$err" || { echo "no 'mariadbd: ready for connections.' on stderr"; return 1; }
            grep -q 'port: 3306' <<<"$err" || { echo "no 'port: 3306' on stderr"; return 1; } ;;
        mysql)
            grep -q 'X Plugin ready for connections. Bind-address' <<<"$err" || { echo "no X Plugin line on stderr"; return 1; }
            grep -q '/usr/sbin/mysqld: ready for connections.' <<<"$err" || { echo "no ready line on stderr"; return 1; } ;;
    esac
}

check_server_arg() { # KIND PORT
    local v
    case "$1" in
        postgres) v=$(sql "$1" "$2" 'SHOW fsync'); [ "$v" = off ] || { echo "-c fsync=off not applied (fsync=$v)"; return 1; } ;;
        *)        v=$(sql "$1" "$2" 'SELECT @@sql_mode'); [[ "$v" == *ANSI_QUOTES* ]] || { echo "--sql-mode not applied ($v)"; return 1; } ;;
    esac
}

RESULTS=()
FAILED=()

smoke_one() { # smoke_one NAME:TAG
    local name=$1 ref="$REPO/$1" kind cid t0 version ready_s stop_s restart_s port v err
    kind=$(kind_of "$name")
    fail() { echo "FAIL $ref: $*" >&2; podman logs --tail 30 "$cid" 2>&1 | sed 's/^/    | /' >&2; return 1; }

    t0=$(now)
    # shellcheck disable=SC2046
    cid=$(podman run -d --label "$LABEL" -p "127.0.0.1::$(container_port "$kind")" \
        $(run_args "$kind") "$ref" $(server_args "$kind")) || { echo "FAIL $ref: podman run failed" >&2; return 1; }
    STARTED+=("$cid")
    version=$(wait_ready "$kind" "$cid") || fail "not ready" || return 1
    ready_s=$(elapsed "$t0")
    port=$(host_port "$cid" "$(container_port "$kind")")
    err=$(check_ready_logs "$kind" "$cid") || fail "$err" || return 1
    err=$(check_server_arg "$kind" "$port") || fail "$err" || return 1
    sql "$kind" "$port" "CREATE TABLE smoke_keep (v int); INSERT INTO smoke_keep VALUES (42)" >/dev/null \
        || fail "could not write a row" || return 1

    t0=$(now)
    podman stop -t 30 "$cid" >/dev/null
    stop_s=$(elapsed "$t0")
    v=$(podman inspect -f '{{.State.ExitCode}}' "$cid")
    [ "$v" = 0 ] || fail "server exit code $v after podman stop (not a clean shutdown)" || return 1

    t0=$(now)
    podman start "$cid" >/dev/null
    wait_ready "$kind" "$cid" >/dev/null || fail "not ready after podman start" || return 1
    restart_s=$(elapsed "$t0")
    port=$(host_port "$cid" "$(container_port "$kind")")
    v=$(sql "$kind" "$port" "SELECT v FROM smoke_keep") || fail "table lost after restart" || return 1
    [ "$v" = 42 ] || fail "row lost after restart (got '$v')" || return 1

    podman rm -f -t 5 "$cid" >/dev/null
    RESULTS+=("$(printf '%-32s ready %6ss  stop %5ss  restart->ready %5ss  %s' \
        "$ref" "$ready_s" "$stop_s" "$restart_s" "$(head -c 90 <<<"$version")")")
    log "ok   $ref: ready in ${ready_s}s, stop ${stop_s}s, ready again ${restart_s}s after start - $version"
}

# All images at once: ready times and memory when they share the machine.
smoke_together() {
    local name kind cid t0 ids=() names=()
    log "starting ${#TARGETS[@]} containers at once"
    t0=$(now)
    for name in "${TARGETS[@]}"; do
        kind=$(kind_of "$name")
        # shellcheck disable=SC2046
        cid=$(podman run -d --label "$LABEL" -p "127.0.0.1::$(container_port "$kind")" \
            $(run_args "$kind") "$REPO/$name" $(server_args "$kind"))
        STARTED+=("$cid"); ids+=("$cid"); names+=("$name")
    done
    local i
    for i in "${!ids[@]}"; do
        if wait_ready "$(kind_of "${names[$i]}")" "${ids[$i]}" >/dev/null; then
            log "  $REPO/${names[$i]} ready $(elapsed "$t0")s after the first podman run"
        else
            echo "FAIL $REPO/${names[$i]}: not ready when started together" >&2
            FAILED+=("$REPO/${names[$i]} (together)")
        fi
    done
    sleep 2
    podman stats --no-stream --format '{{.Name}} {{.MemUsage}} {{.CPUPerc}}' "${ids[@]}" \
        | while read -r n rest; do
            printf '    %-32s %s\n' "$(podman inspect -f '{{.ImageName}}' "$n")" "$rest"
        done || true
    podman rm -f -t 5 "${ids[@]}" >/dev/null
}

main() {
    local together=0 arg name
    TARGETS=()
    for arg in "$@"; do
        case "$arg" in
            --together) together=1 ;;
            -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -n 's/^# \{0,1\}//p'; return 0 ;;
            *) TARGETS+=("${arg#"$REPO/"}") ;;
        esac
    done
    [ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_IMAGES[@]}")

    require_root
    command -v podman >/dev/null || die "podman is not installed; run ci/podman-setup.sh first"
    ensure_host_pkgs postgresql-client mariadb-client

    for name in "${TARGETS[@]}"; do
        if ! podman image exists "$REPO/$name"; then
            echo "FAIL $REPO/$name: image not found (run ci/build-images.sh $name)" >&2
            FAILED+=("$REPO/$name")
            continue
        fi
        log "testing $REPO/$name"
        smoke_one "$name" || FAILED+=("$REPO/$name")
    done

    if [ "$together" = 1 ]; then smoke_together; fi

    log "results:"
    printf '    %s\n' "${RESULTS[@]}"
    if [ ${#FAILED[@]} -gt 0 ]; then
        printf '[smoke] FAILED: %s\n' "${FAILED[*]}" >&2
        exit 1
    fi
    log "all ${#TARGETS[@]} image(s) passed"
}

main "$@"
