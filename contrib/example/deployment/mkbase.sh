#!/bin/sh
# Write to stdout a tar of a minimal root filesystem holding this host's
# /usr/bin/python3 (its shared libraries and standard library) and a
# busybox shell: the base image for deployment/Dockerfile where no
# registry is reachable (docker-build's BASE_IMAGE=local):
#   sh deployment/mkbase.sh | podman import --change "ENV PATH=/usr/bin:/bin" - localhost/tradelab-base:py3
set -eu
py=$(readlink -f /usr/bin/python3)
bb=$(command -v busybox || true)
[ -x "$py" ] || { echo "mkbase: no /usr/bin/python3 on this host" >&2; exit 1; }
[ -n "$bb" ] || { echo "mkbase: no busybox on this host (apt-get install busybox-static)" >&2; exit 1; }
ldd "$bb" 2>&1 | grep -q 'not a dynamic' ||
    { echo "mkbase: $bb is not static (apt-get install busybox-static)" >&2; exit 1; }
root=$(mktemp -d)
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT
stdlib=$("$py" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
mkdir -p "$root/bin" "$root/usr/bin" "$root/tmp" "$root/etc"
chmod 1777 "$root/tmp"
cp "$py" "$root/usr/bin/"
ln -s "$(basename "$py")" "$root/usr/bin/python3"
ln -s python3 "$root/usr/bin/python"
cp "$bb" "$root/bin/busybox"
for a in sh ls cat env mkdir rm; do ln -s busybox "$root/bin/$a"; done
# The interpreter's libraries and the loader, at their own paths.
ldd "$py" | awk '/=> \//{print $3} /^\t\//{print $1}' | while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
# The standard library without its tests, IDLE and Tk.
mkdir -p "$root$stdlib"
(cd "$stdlib" && tar cf - --exclude=test --exclude=idlelib --exclude=tkinter \
    --exclude=__pycache__ --exclude=site-packages --exclude=dist-packages .) |
    (cd "$root$stdlib" && tar xf -)
# The extension modules' libraries (ssl, sqlite, ...) are left out: the
# image needs neither.
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'app:x:10001:10001:app:/app:/bin/sh' >>"$root/etc/passwd"
printf 'root:x:0:\napp:x:10001:\n' >"$root/etc/group"
tar -C "$root" -cf - .
