#!/usr/bin/env bash
# SQLite libraries for the `library` targets of ci/matrix.local.toml, one directory per
# version holding libsqlite3.so.0:
#
#   $DBCOMPAT_CACHE/sqlite/3.40.1   Debian bookworm's own library (the host's)
#   $DBCOMPAT_CACHE/sqlite/3.34.0   the same way from the amalgamation that the npm
#                                   package sqlite3 5.0.2 carries (no libsqlite3-sys
#                                   release carries a 3.34): the last release line
#                                   before RETURNING and DROP COLUMN
#   $DBCOMPAT_CACHE/sqlite/3.46.0   built from the amalgamation that the crate
#                                   libsqlite3-sys 0.30.1 carries on crates.io
#   $DBCOMPAT_CACHE/sqlite/3.31.1, 3.35.4, 3.37.0, 3.38.2
#                                   the same way from libsqlite3-sys 0.18.0, 0.22.2,
#                                   0.23.2 and 0.24.2: the oldest SQLite Django 5.2
#                                   supports, and both sides of RETURNING and DROP
#                                   COLUMN (3.35), STRICT tables (3.37) and the
#                                   built-in JSON functions (3.38)
#   $DBCOMPAT_CACHE/sqlite/<bundled> the SQLite that `launch = "embedded"` links (the
#                                   libsqlite3-sys of Cargo.lock), built as a shared
#                                   library from the same amalgamation with the same
#                                   flags, for `dbcompat crosscheck`: it runs the
#                                   sqlite3 shell against it
#   $DBCOMPAT_CACHE/sqlite/shell-shim/libsqlite3-shell-shim.so
#                                   what Debian's sqlite3 shell needs to run with a
#                                   library other than Debian's, preloaded by
#                                   `dbcompat crosscheck`: the shell refuses to start
#                                   unless the library's sqlite3_sourceid() is the one
#                                   it was compiled with, and it binds the session
#                                   extension's functions at start (only its .session
#                                   command calls them), which the libraries built
#                                   here lack. The shim answers the shell's own
#                                   sqlite3_sourceid() calls with that id and passes
#                                   the library's own calls (sqlite_source_id()) to
#                                   the library; its session functions fail
#                                   (SQLITE_ERROR) and are never called.
#
# Debian trixie's 3.46.1 cannot be used here: it needs glibc 2.38 and bookworm hosts
# have 2.36. Building from an amalgamation gives a library for this host's glibc, and
# crates.io (which CI reaches) carries the amalgamation of every libsqlite3-sys release.
#
# Idempotent: a library that exists is not built again.
#
#   ci/build-sqlite-libs.sh --list-crates       the libsqlite3-sys releases (0.17.0 on)
#   ci/build-sqlite-libs.sh --crate 0.20.1      build that release's SQLite; prints
#                                               "VERSION DIRECTORY" (for dbcompat bisect)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${DBCOMPAT_CACHE:-/var/cache/dbcompat}
OUT="$CACHE/sqlite"
mkdir -p "$OUT"
log() { printf '[sqlite-libs] %s\n' "$*" >&2; }

# Debian's own build, as the host has it (libsqlite3-0 is part of the base system).
system_lib() {
    local lib
    # awk reads to the end: stopping early would end ldconfig with SIGPIPE, which
    # pipefail makes a failure of the script.
    lib=$(ldconfig -p | awk '/libsqlite3\.so\.0 .*x86-64/ && !found {print $NF; found = 1}')
    [ -n "$lib" ] || { apt-get install -y -q libsqlite3-0 >/dev/null; lib=$(ldconfig -p | awk '/libsqlite3\.so\.0 .*x86-64/ && !found {print $NF; found = 1}'); }
    local version
    version=$(python3 -c 'import ctypes,sys; l=ctypes.CDLL(sys.argv[1]); l.sqlite3_libversion.restype=ctypes.c_char_p; print(l.sqlite3_libversion().decode())' "$lib")
    mkdir -p "$OUT/$version"
    cp -L "$lib" "$OUT/$version/libsqlite3.so.0"
    log "Debian's SQLite $version -> $OUT/$version"
}

# The directory of a libsqlite3-sys release's sources (fetched from crates.io if needed).
crate_dir() {
    local crate_version=$1 dir
    dir=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"libsqlite3-sys-$crate_version" 2>/dev/null | head -1)
    if [ -z "$dir" ]; then
        fetch_crate "$crate_version"
        dir=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"libsqlite3-sys-$crate_version" | head -1)
    fi
    printf '%s\n' "$dir"
}

fetch_crate() {
    local crate_version=$1 work
    work=$(mktemp -d)
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
    rm -rf "$work"
}

# Debian's defaults where they change behaviour suites can see: threadsafe, FTS,
# R*Tree, column metadata. JSON is built in since 3.38; before, it is SQLite's default
# build's: absent (SQLITE_ENABLE_JSON1 is not given), which is what "the JSON1 extension
# is enabled by default on SQLite 3.38+" is about.
DEBIAN_FLAGS="-DSQLITE_THREADSAFE=1 -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_COLUMN_METADATA \
    -DSQLITE_ENABLE_UNLOCK_NOTIFY -DSQLITE_SECURE_DELETE -DSQLITE_ENABLE_DBSTAT_VTAB"

# The flags of a release's bundled build: those its build.rs gives every bundled build
# (on Linux), then this workspace's LIBSQLITE3_FLAGS (.cargo/config.toml), which come
# after them and so win.
bundled_flags() {
    local dir=$1
    sed -n '/cfg.file(&source)/,/warnings(false)/p' "$dir/build.rs" | grep -o '"-D[^"]*"' | tr -d '"' | tr '\n' ' '
    printf -- '-DHAVE_LOCALTIME_R '
    sed -n 's/^LIBSQLITE3_FLAGS *= *"\(.*\)"/\1/p' "$ROOT/.cargo/config.toml"
}

# SQLite from the amalgamation in a libsqlite3-sys release, with Debian's flags or
# (`bundled`) the flags of the release's bundled build.
from_crate() {
    local crate_version=$1 sqlite_version=$2 flavour=${3:-debian} dest="$OUT/$2"
    if [ -s "$dest/libsqlite3.so.0" ]; then
        log "SQLite $sqlite_version already built"
        return
    fi
    local dir src flags
    dir=$(crate_dir "$crate_version")
    src="$dir/sqlite3"
    grep -q "#define SQLITE_VERSION *\"$sqlite_version\"" "$src/sqlite3.h" \
        || { echo "libsqlite3-sys $crate_version does not carry SQLite $sqlite_version" >&2; exit 1; }
    if [ "$flavour" = bundled ]; then flags=$(bundled_flags "$dir"); else flags=$DEBIAN_FLAGS; fi
    log "compiling SQLite $sqlite_version ($flavour flags: $(echo $flags))"
    mkdir -p "$dest"
    # shellcheck disable=SC2086 # the flags are words
    gcc -O1 -fPIC -shared -o "$dest/libsqlite3.so.0.tmp" -Wl,-soname,libsqlite3.so.0 \
        $flags "$src/sqlite3.c" -lpthread -lm -ldl
    mv "$dest/libsqlite3.so.0.tmp" "$dest/libsqlite3.so.0"
}

# SQLite from the amalgamation that a release of the npm package sqlite3 carries
# (deps/sqlite-autoconf-*.tar.gz), with Debian's flags like from_crate.
from_npm() {
    local package_version=$1 sqlite_version=$2 dest="$OUT/$2"
    if [ -s "$dest/libsqlite3.so.0" ]; then
        log "SQLite $sqlite_version already built"
        return
    fi
    local work src
    work=$(mktemp -d)
    command -v npm >/dev/null || apt-get install -y -q npm >/dev/null
    log "fetching the npm package sqlite3@$package_version"
    (cd "$work" && npm pack --silent "sqlite3@$package_version" >/dev/null)
    tar -xzf "$work/sqlite3-$package_version.tgz" -C "$work"
    tar -xzf "$work"/package/deps/sqlite-autoconf-*.tar.gz -C "$work"
    src=$(dirname "$(ls "$work"/sqlite-autoconf-*/sqlite3.c)")
    grep -q "#define SQLITE_VERSION *\"$sqlite_version\"" "$src/sqlite3.h" \
        || { echo "npm sqlite3@$package_version does not carry SQLite $sqlite_version" >&2; exit 1; }
    log "compiling SQLite $sqlite_version (debian flags: $(echo $DEBIAN_FLAGS))"
    mkdir -p "$dest"
    # shellcheck disable=SC2086 # the flags are words
    gcc -O1 -fPIC -shared -o "$dest/libsqlite3.so.0.tmp" -Wl,-soname,libsqlite3.so.0 \
        $DEBIAN_FLAGS "$src/sqlite3.c" -lpthread -lm -ldl
    mv "$dest/libsqlite3.so.0.tmp" "$dest/libsqlite3.so.0"
    rm -rf "$work"
}

# The libsqlite3-sys the workspace builds (Cargo.lock), and the SQLite it carries.
bundled_lib() {
    local crate_version sqlite_version
    crate_version=$(awk '/^name = "libsqlite3-sys"$/ {getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/Cargo.lock")
    [ -n "$crate_version" ] || { echo "Cargo.lock names no libsqlite3-sys" >&2; exit 1; }
    sqlite_version=$(sed -n 's/^#define SQLITE_VERSION *"\(.*\)"/\1/p' "$(crate_dir "$crate_version")/sqlite3/sqlite3.h")
    from_crate "$crate_version" "$sqlite_version" bundled
}

shell_shim() {
    local dest="$OUT/shell-shim" work id
    command -v sqlite3 >/dev/null || { log "no sqlite3 shell installed: no shim built"; return; }
    # The source id the shell was compiled with: the one of Debian's library, which the
    # shell runs with by default (`--version` prints the library's version and id).
    id=$(sqlite3 -batch -init /dev/null --version | cut -d' ' -f2-)
    work=$(mktemp -d)
    cat > "$work/shim.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>

/* The shell's own calls get the id it was compiled with; the library's own calls (its
   sqlite_source_id() SQL function) get the library's. */
const char *sqlite3_sourceid(void) {
    const char *(*real)(void) = (const char *(*)(void))dlsym(RTLD_NEXT, "sqlite3_sourceid");
    Dl_info caller, library;
    if (real && dladdr(__builtin_return_address(0), &caller) && dladdr((void *)real, &library)
        && caller.dli_fbase == library.dli_fbase)
        return real();
    return SHELL_SOURCE_ID;
}
C
    for f in create changeset isempty enable table_filter patchset attach indirect delete; do
        echo "int sqlite3session_$f(void) { return 1; }" >> "$work/shim.c"
    done
    # Functions the shell binds at start that older libraries lack: each calls the
    # library's own where it has one, else does what the library's older API does
    # (the counts of sqlite3_changes), or fails as the function itself may.
    cat >> "$work/shim.c" <<'C'
#define NEXT(name) dlsym(RTLD_NEXT, #name)
long long sqlite3_changes64(void *db) {
    long long (*own)(void *) = NEXT(sqlite3_changes64);
    int (*old)(void *) = NEXT(sqlite3_changes);
    return own ? own(db) : old(db);
}
long long sqlite3_total_changes64(void *db) {
    long long (*own)(void *) = NEXT(sqlite3_total_changes64);
    int (*old)(void *) = NEXT(sqlite3_total_changes);
    return own ? own(db) : old(db);
}
int sqlite3_error_offset(void *db) {
    int (*own)(void *) = NEXT(sqlite3_error_offset);
    return own ? own(db) : -1;
}
int sqlite3_txn_state(void *db, const char *schema) {
    int (*own)(void *, const char *) = NEXT(sqlite3_txn_state);
    return own ? own(db, schema) : -1;
}
int sqlite3_deserialize(void *db, const char *schema, unsigned char *data, long long size, long long buffer, unsigned flags) {
    int (*own)(void *, const char *, unsigned char *, long long, long long, unsigned) = NEXT(sqlite3_deserialize);
    return own ? own(db, schema, data, size, buffer, flags) : 1; /* SQLITE_ERROR */
}
C
    # Idempotent: the same source (and so the same source id) is not built again.
    if [ -s "$dest/libsqlite3-shell-shim.so" ] && cmp -s "$work/shim.c" "$dest/shim.c"; then
        log "sqlite3 shell shim already built"
        rm -rf "$work"
        return
    fi
    mkdir -p "$dest"
    cp "$work/shim.c" "$dest/shim.c"
    gcc -O1 -fPIC -shared -o "$dest/libsqlite3-shell-shim.so.tmp" -DSHELL_SOURCE_ID="\"$id\"" "$work/shim.c" -ldl
    mv "$dest/libsqlite3-shell-shim.so.tmp" "$dest/libsqlite3-shell-shim.so"
    rm -rf "$work"
    log "sqlite3 shell shim (source id $id) -> $dest"
}

# `dbcompat bisect` asks for these: every libsqlite3-sys release from 0.17.0 on (older
# ones carry SQLite before 3.30), and one release's SQLite built on demand.
list_crates() {
    curl -fsS https://index.crates.io/li/bs/libsqlite3-sys \
        | python3 -c 'import json, sys; [print(v["vers"]) for v in map(json.loads, sys.stdin) if not v["yanked"] and "-" not in v["vers"]]' \
        | sort -V | awk -F. '$1 > 0 || $2 >= 17'
}

crate_lib() {
    local crate_version=$1 dir sqlite_version
    dir=$(crate_dir "$crate_version")
    sqlite_version=$(sed -n 's/^#define SQLITE_VERSION *"\(.*\)"/\1/p' "$dir/sqlite3/sqlite3.h")
    [ -n "$sqlite_version" ] || { echo "libsqlite3-sys $crate_version carries no sqlite3/sqlite3.h" >&2; exit 1; }
    from_crate "$crate_version" "$sqlite_version" >&2
    printf '%s %s\n' "$sqlite_version" "$OUT/$sqlite_version"
}

case "${1:-}" in
    --list-crates) list_crates; exit ;;
    --crate) crate_lib "$2"; exit ;;
    "") ;;
    *) echo "usage: $0 [--list-crates | --crate LIBSQLITE3_SYS_VERSION]" >&2; exit 2 ;;
esac

system_lib
from_crate 0.18.0 3.31.1
from_npm 5.0.2 3.34.0
from_crate 0.22.2 3.35.4
from_crate 0.23.2 3.37.0
from_crate 0.24.2 3.38.2
from_crate 0.30.1 3.46.0
bundled_lib
shell_shim
ls -1d "$OUT"/*/ 
