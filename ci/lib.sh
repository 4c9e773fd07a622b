# Shared helpers for ci/build-images.sh and ci/sqlite-libs.sh (source it).
#
# Debian root filesystems are bootstrapped once per suite and cached as
# tarballs under $CACHE/rootfs; downloaded .debs are kept under $CACHE/apt so
# rebuilding an image does not download its packages again.

CACHE=${DBCOMPAT_CACHE:-/var/cache/dbcompat}

log() { printf '[%s] %s\n' "${LOG_TAG:-dbcompat}" "$*"; }
die() { printf '[%s] ERROR: %s\n' "${LOG_TAG:-dbcompat}" "$*" >&2; exit 1; }

require_root() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, rootful podman)"
}

# Install host packages that are missing (no-op when all are present).
ensure_host_pkgs() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing host packages: ${missing[*]}"
    if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then apt-get update; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
        || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
}

# All URIs named by the host's APT sources (one-line and deb822 formats).
_host_apt_uris() {
    {
        grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }'
        grep -hiE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
            | awk '{ for (i = 2; i <= NF; i++) print $i }'
    } | sed 's:/*$::'
}

# The Debian mirror the host uses (override with DBCOMPAT_MIRROR).
debian_mirror() {
    local uri=${DBCOMPAT_MIRROR:-}
    [ -n "$uri" ] || uri=$(_host_apt_uris | grep -E '/debian$' | head -n1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

# The Debian security mirror the host uses (override with DBCOMPAT_SECURITY_MIRROR).
debian_security_mirror() {
    local uri=${DBCOMPAT_SECURITY_MIRROR:-}
    [ -n "$uri" ] || uri=$(_host_apt_uris | grep -E '/debian-security$' | head -n1 || true)
    echo "${uri:-http://deb.debian.org/debian-security}"
}

# Does anything have a mount point at or below $1?
_has_mounts_below() {
    awk -v p="$1" '$2 == p || index($2, p "/") == 1 { found = 1 } END { exit !found }' /proc/mounts
}

# Remove a build tree; never descends into a mount (e.g. a bind-mounted /dev).
safe_rmtree() {
    local dir=$1
    [ -e "$dir" ] || return 0
    dir=$(readlink -f "$dir")
    case "$dir" in /|/dev|/proc|/sys|/usr|/var|/etc|/home|/root) die "refusing to remove $dir" ;; esac
    if _has_mounts_below "$dir"; then
        chroot_umount "$dir"
        _has_mounts_below "$dir" && die "still mounted below $dir; not removing it"
    fi
    rm -rf --one-file-system "$dir"
}

# Mount what package scripts and servers expect inside a chroot.
chroot_mount() {
    local root=$1 suite=$2
    mount -t proc proc "$root/proc"
    mount --bind /dev "$root/dev"
    mount -t tmpfs -o mode=1777,size=256m shm "$root/dev/shm"
    # Keep downloaded .debs outside the tree (reused by later builds, not shipped).
    mkdir -p "$CACHE/apt/$suite/partial" "$root/var/cache/apt/archives"
    mount --bind "$CACHE/apt/$suite" "$root/var/cache/apt/archives"
    rm -f "$root/etc/resolv.conf"
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
}

chroot_umount() {
    local root=$1 m
    # Deepest first.
    for m in $(awk -v p="$root" '$2 == p || index($2, p "/") == 1 { print $2 }' /proc/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
}

# Run a shell snippet inside the chroot with a sane environment.
in_chroot() {
    local root=$1; shift
    chroot "$root" /usr/bin/env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
        /bin/bash -euo pipefail -c "$@"
}

# APT sources for a suite, written into a root filesystem.
write_sources() {
    local root=$1 suite=$2 mirror sec
    mirror=$(debian_mirror)
    sec=$(debian_security_mirror)
    {
        echo "deb $mirror $suite main"
        case "$suite" in
            sid|unstable) ;;
            *)  echo "deb $mirror $suite-updates main"
                echo "deb $sec $suite-security main" ;;
        esac
    } > "$root/etc/apt/sources.list"
}

# Ensure $CACHE/rootfs/$suite.tar exists (debootstrap minbase, trimmed).
# Prints the tarball path on stdout.
ensure_rootfs() {
    local suite=$1 tarball="$CACHE/rootfs/$1.tar" tmp mirror
    if [ -s "$tarball" ]; then
        log "rootfs $suite: cached ($tarball)" >&2
        echo "$tarball"
        return 0
    fi
    ensure_host_pkgs debootstrap >&2
    mirror=$(debian_mirror)
    mkdir -p "$CACHE/rootfs" "$CACHE/apt/$suite"
    tmp="$CACHE/rootfs/$suite.tmp"
    safe_rmtree "$tmp"
    log "rootfs $suite: debootstrap --variant=minbase from $mirror" >&2
    local t0=$SECONDS
    # --cache-dir keeps the .debs so a second bootstrap would not download them again.
    if ! debootstrap --variant=minbase --cache-dir="$CACHE/apt/$suite" \
            "$suite" "$tmp" "$mirror" > "$CACHE/rootfs/$suite.debootstrap.log" 2>&1; then
        tail -n 30 "$CACHE/rootfs/$suite.debootstrap.log" >&2
        die "debootstrap of $suite failed (log: $CACHE/rootfs/$suite.debootstrap.log)"
    fi

    # No docs, man pages or translations in anything installed later;
    # no recommends; tolerate Release files that are past their Valid-Until.
    cat > "$tmp/etc/dpkg/dpkg.cfg.d/01-dbcompat-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    cat > "$tmp/etc/apt/apt.conf.d/01-dbcompat" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Check-Valid-Until "false";
Acquire::Languages "none";
EOF
    write_sources "$tmp" "$suite"
    # Services must never start inside a build chroot.
    printf '#!/bin/sh\nexit 101\n' > "$tmp/usr/sbin/policy-rc.d"
    chmod 755 "$tmp/usr/sbin/policy-rc.d"
    rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/cache/apt/*.bin "$tmp"/var/lib/apt/lists/* \
           "$tmp"/usr/share/man/* "$tmp"/usr/share/info/*
    find "$tmp/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
    find "$tmp/usr/share/locale" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
    tar --numeric-owner -C "$tmp" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    safe_rmtree "$tmp"
    log "rootfs $suite: bootstrapped in $((SECONDS - t0))s -> $tarball ($(du -h "$tarball" | cut -f1))" >&2
    echo "$tarball"
}

# Unpack a cached rootfs into a fresh directory, mount and refresh APT lists.
open_chroot() {
    local suite=$1 root=$2 tarball
    tarball=$(ensure_rootfs "$suite")
    safe_rmtree "$root"
    mkdir -p "$root"
    tar --numeric-owner -C "$root" -xf "$tarball"
    chroot_mount "$root" "$suite"
    if ! in_chroot "$root" 'apt-get -qq update'; then
        die "apt-get update failed in the $suite root filesystem"
    fi
}
