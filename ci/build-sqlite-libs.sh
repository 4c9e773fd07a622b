#!/usr/bin/env bash
# SQLite libraries for the `library` targets of ci/matrix.local.toml, one directory per
# version holding libsqlite3.so.0:
#
#   $DBCOMPAT_CACHE/sqlite/3.40.1   Debian bookworm's own library (the host's)
#   $DBCOMPAT_CACHE/sqlite/3.46.0   built from the amalgamation that the crate
#                                   libsqlite3-sys 0.30.1 carries on crates.io
#
# Debian trixie's 3.46.1 cannot be used here: it needs glibc 2.38 and bookworm hosts
# have 2.36. Building from an amalgamation gives a library for this host's glibc, and
# crates.io (which CI reaches) carries the amalgamation of every libsqlite3-sys release.
#
# Idempotent: a library that exists is not built again.
set -euo pipefail

CACHE=${DBCOMPAT_CACHE:-/var/cache/dbcompat}
OUT="$CACHE/sqlite"
mkdir -p "$OUT"
log() { printf '[sqlite-libs] %s\n' "$*" >&2; }

# Debian's own build, as the host has it (libsqlite3-0 is part of the base system).
system_lib() {
    local lib
    lib=$(ldconfig -p | awk '/libsqlite3\.so\.0 .*x86-64/ {print $NF; exit}')
    [ -n "$lib" ] || { apt-get install -y -q libsqlite3-0 >/dev/null; lib=$(ldconfig -p | awk '/libsqlite3\.so\.0 .*x86-64/ {print $NF; exit}'); }
    local version
    version=$(python3 -c 'import ctypes,sys; l=ctypes.CDLL(sys.argv[1]); l.sqlite3_libversion.restype=ctypes.c_char_p; print(l.sqlite3_libversion().decode())' "$lib")
    mkdir -p "$OUT/$version"
    cp -L "$lib" "$OUT/$version/libsqlite3.so.0"
    log "Debian's SQLite $version -> $OUT/$version"
}

# SQLite from the amalgamation in a libsqlite3-sys release.
from_crate() {
    local crate_version=$1 sqlite_version=$2 dest="$OUT/$2"
    if [ -s "$dest/libsqlite3.so.0" ]; then
        log "SQLite $sqlite_version already built"
        return
    fi
    local work
    work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    mkdir -p "$work/src"
    cat > "$work/Cargo.toml" <<TOML
[package]
name = "fetch-sqlite-amalgamation"
version = "0.0.0"
edition = "2021"
[dependencies]
libsqlite3-sys = { version = "=$crate_version", features = ["bundled"] }
TOML
    : > "$work/src/lib.rs"
    log "fetching libsqlite3-sys $crate_version from crates.io"
    cargo fetch -q --manifest-path "$work/Cargo.toml"
    local src
    src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"libsqlite3-sys-$crate_version"/sqlite3 | head -1)
    grep -q "#define SQLITE_VERSION *\"$sqlite_version\"" "$src/sqlite3.h" \
        || { echo "libsqlite3-sys $crate_version does not carry SQLite $sqlite_version" >&2; exit 1; }
    log "compiling SQLite $sqlite_version"
    mkdir -p "$dest"
    # Debian's defaults where they change behaviour suites can see: threadsafe, FTS,
    # R*Tree, column metadata; JSON is built in since 3.38.
    gcc -O1 -fPIC -shared -o "$dest/libsqlite3.so.0.tmp" -Wl,-soname,libsqlite3.so.0 \
        -DSQLITE_THREADSAFE=1 -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_COLUMN_METADATA \
        -DSQLITE_ENABLE_UNLOCK_NOTIFY -DSQLITE_SECURE_DELETE -DSQLITE_ENABLE_DBSTAT_VTAB \
        "$src/sqlite3.c" -lpthread -lm -ldl
    mv "$dest/libsqlite3.so.0.tmp" "$dest/libsqlite3.so.0"
}

system_lib
from_crate 0.30.1 3.46.0
ls -1d "$OUT"/*/ 
