#!/bin/sh
# Build the docker tier's test image `trl-test:busybox` without a registry:
# a root filesystem of Debian's static busybox (its applets as symlinks), a
# sticky /tmp, a root and a `nobody` (uid 1000) user, imported with
# `docker import`. Idempotent: does nothing when the image exists, unless --force.
#
#   scripts/build-test-image.sh [--force] [IMAGE]
#
# Needs: docker (an engine reachable through the default socket or DOCKER_HOST)
# and busybox-static (installed with apt-get when missing and running as root).
set -eu

IMAGE=trl-test:busybox
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "build-test-image: unknown option $arg" >&2; exit 2 ;;
    *) IMAGE=$arg ;;
  esac
done

command -v docker >/dev/null 2>&1 || { echo 'build-test-image: docker CLI not found: apt-get install -y docker.io' >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo 'build-test-image: docker engine unreachable: start dockerd or set DOCKER_HOST' >&2; exit 1; }

if [ "$FORCE" = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "build-test-image: $IMAGE already present (--force rebuilds it)"
  exit 0
fi

# Debian's busybox-static installs /bin/busybox; other distributions may name it differently.
BUSYBOX=
for candidate in /bin/busybox /usr/bin/busybox /usr/lib/busybox-static/busybox; do
  [ -x "$candidate" ] && BUSYBOX=$candidate && break
done
if [ -z "$BUSYBOX" ] || ! "$BUSYBOX" --list >/dev/null 2>&1 || ldd "$BUSYBOX" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo 'build-test-image: installing busybox-static'
    DEBIAN_FRONTEND=noninteractive apt-get install -y busybox-static >/dev/null 2>&1 ||
      { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y busybox-static >/dev/null; }
    BUSYBOX=/bin/busybox
  else
    echo 'build-test-image: a static busybox is needed: apt-get install -y busybox-static' >&2
    exit 1
  fi
fi

ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/trl-test-rootfs.XXXXXX")
trap 'rm -rf "$ROOTFS"' EXIT
# mktemp makes it 0700: as the image's / that would lock every non-root user out.
chmod 0755 "$ROOTFS"
umask 022

mkdir -p "$ROOTFS/bin" "$ROOTFS/sbin" "$ROOTFS/usr/bin" "$ROOTFS/usr/sbin" "$ROOTFS/etc" \
  "$ROOTFS/root" "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" "$ROOTFS/home/nobody"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
chmod 0755 "$ROOTFS/bin/busybox"
# One symlink per applet (sh, sleep, cat, ps, …) at the path busybox would install it.
for applet in $("$ROOTFS/bin/busybox" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$ROOTFS/$(dirname "$applet")"
  ln -sf /bin/busybox "$ROOTFS/$applet"
done
mkdir -p "$ROOTFS/tmp" && chmod 1777 "$ROOTFS/tmp"
chmod 0700 "$ROOTFS/root"
chown 1000:1000 "$ROOTFS/home/nobody"
cat >"$ROOTFS/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:1000:1000:nobody:/home/nobody:/bin/sh
PASSWD
cat >"$ROOTFS/etc/group" <<'GROUP'
root:x:0:
nobody:x:1000:
GROUP

tar -C "$ROOTFS" -c . | docker import \
  --change 'CMD ["/bin/sh"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$IMAGE" >/dev/null
echo "build-test-image: built $IMAGE"
