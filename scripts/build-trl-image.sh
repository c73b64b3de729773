#!/bin/sh
# Build an image with trl inside (docs/docker-tier.md, the inner path) without a
# registry: Debian's static busybox (a shell and the tools the killer and
# tests use), this machine's node binary and the C++ runtime it links, and
# this checkout's built trl (dist/src, package.json, its production
# node_modules) under /opt/trl, imported with `docker import`. The label
# dev.trl.inner names the launcher; the docker tier reads it at session
# create and runs that trl inside the container (`trl rpc`). Copying the
# host's files takes seconds; a debootstrap rootfs would take minutes and need
# a Debian mirror. Users with a registry build the Dockerfile instead.
# Idempotent: does nothing when the image exists, unless --force.
#
#   scripts/build-trl-image.sh [--force] [IMAGE]      (default IMAGE: trl-test:trl)
#
# Needs: docker, a built checkout (npm run build), node on PATH, busybox-static.
set -eu

IMAGE=trl-test:trl
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "build-trl-image: unknown option $arg" >&2; exit 2 ;;
    *) IMAGE=$arg ;;
  esac
done

REPO=$(cd "$(dirname "$0")/.." && pwd)
command -v docker >/dev/null 2>&1 || { echo 'build-trl-image: docker CLI not found: apt-get install -y docker.io' >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo 'build-trl-image: docker engine unreachable: start dockerd or set DOCKER_HOST' >&2; exit 1; }
[ -f "$REPO/dist/trl/trl.js" ] || { echo "build-trl-image: $REPO/dist is not built: run npm run build first" >&2; exit 1; }

if [ "$FORCE" = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "build-trl-image: $IMAGE already present (--force rebuilds it)"
  exit 0
fi

NODE=$(readlink -f "$(command -v node)")
BUSYBOX=
for candidate in /bin/busybox /usr/bin/busybox /usr/lib/busybox-static/busybox; do
  [ -x "$candidate" ] && BUSYBOX=$candidate && break
done
[ -n "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1 || { echo 'build-trl-image: a static busybox is needed: apt-get install -y busybox-static' >&2; exit 1; }

ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/trl-image-rootfs.XXXXXX")
trap 'rm -rf "$ROOTFS"' EXIT
chmod 0755 "$ROOTFS"
umask 022

mkdir -p "$ROOTFS/bin" "$ROOTFS/sbin" "$ROOTFS/usr/bin" "$ROOTFS/usr/sbin" "$ROOTFS/etc" "$ROOTFS/root" \
  "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" "$ROOTFS/home/nobody" "$ROOTFS/opt/trl/bin" "$ROOTFS/usr/local/bin"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
for applet in $("$ROOTFS/bin/busybox" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$ROOTFS/$(dirname "$applet")"
  ln -sf /bin/busybox "$ROOTFS/$applet"
done
mkdir -p "$ROOTFS/tmp" && chmod 1777 "$ROOTFS/tmp"
chmod 0700 "$ROOTFS/root"
chown 1000:1000 "$ROOTFS/home/nobody"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:1000:1000:nobody:/home/nobody:/bin/sh\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nnobody:x:1000:\n' >"$ROOTFS/etc/group"

# node and the shared libraries it links (the dynamic loader included), at their own paths.
cp "$NODE" "$ROOTFS/usr/local/bin/node"
for lib in $(ldd "$NODE" | awk '/=> \//{print $3} /^\t\//{print $1}'); do
  mkdir -p "$ROOTFS$(dirname "$lib")"
  cp -L "$lib" "$ROOTFS$lib"
done

# trl: the compiled sources and the production dependencies (npm's own list), nothing of the tests.
mkdir -p "$ROOTFS/opt/trl/dist"
cp -R "$REPO/dist/src" "$ROOTFS/opt/trl/dist/src"
cp -R "$REPO/dist/trl" "$ROOTFS/opt/trl/dist/trl"
cp "$REPO/package.json" "$ROOTFS/opt/trl/package.json"
(cd "$REPO" && npm ls --omit=dev --all --parseable 2>/dev/null) | while read -r dir; do
  rel=${dir#"$(readlink -f "$REPO")"/}
  case "$rel" in node_modules/*) ;; *) continue ;; esac
  [ -d "$ROOTFS/opt/trl/$rel" ] && continue
  mkdir -p "$ROOTFS/opt/trl/$(dirname "$rel")"
  cp -R "$REPO/$rel" "$ROOTFS/opt/trl/$rel"
done
# koffi ships a build for every platform: keep this one's.
KOFFI="$ROOTFS/opt/trl/node_modules/koffi/build/koffi"
if [ -d "$KOFFI" ]; then
  keep=$(node -e 'console.log(process.platform + "_" + process.arch)')
  for d in "$KOFFI"/*; do [ "$(basename "$d")" = "$keep" ] || rm -rf "$d"; done
fi
# The libraries the native addons link (node-pty needs libutil), as node's own above.
for lib in $(find "$ROOTFS/opt/trl/node_modules" -name '*.node' -exec ldd {} \; 2>/dev/null | awk '/=> \//{print $3}' | sort -u); do
  [ -e "$ROOTFS$lib" ] && continue
  mkdir -p "$ROOTFS$(dirname "$lib")"
  cp -L "$lib" "$ROOTFS$lib"
done
cat >"$ROOTFS/opt/trl/bin/trl" <<'LAUNCHER'
#!/bin/sh
exec /usr/local/bin/node --max-semi-space-size=1 --heap-growing-percent=600 --no-sparkplug /opt/trl/dist/trl/trl.js "$@"
LAUNCHER
chmod 0755 "$ROOTFS/opt/trl/bin/trl"
ln -s /opt/trl/bin/trl "$ROOTFS/usr/local/bin/trl"

tar -C "$ROOTFS" -c . | docker import \
  --change 'CMD ["/bin/sh"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'LABEL dev.trl.inner=/opt/trl/bin/trl' \
  - "$IMAGE" >/dev/null
echo "build-trl-image: built $IMAGE"
