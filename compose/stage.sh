#!/bin/sh
# Stage the rlog image (FROM scratch): exactly what rlogd and logcli need to
# run, and nothing else. Two trees, because the Dockerfile copies them with
# different owners:
#   STAGE_DIR/rootfs/   the root file system, owned by root in the image
#     usr/local/bin/rlogd, usr/local/bin/logcli   the binaries (debug info stripped)
#     every shared library ldd reports, at the path ldd reports it (the dynamic
#     loader too, e.g. /lib64/ld-linux-x86-64.so.2), symlinks resolved
#     etc/passwd, etc/group                       root and the user rlog (10001)
#   STAGE_DIR/data/     an empty directory: /data in the image, the nodes'
#                       volume mount point, owned by rlog (10001:10001, mode
#                       0755) through `COPY --chown` (a COPY without --chown
#                       makes everything root's, whatever the owner here).
#                       A fresh named volume takes the owner and mode of the
#                       directory it is mounted on, so the non-root node can
#                       write its log there.
# No shell, no libc tools, no certificates, no package manager.
#
# usage: compose/stage.sh BUILD_DIR STAGE_DIR     (make compose-stage runs it)
set -eu

[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR STAGE_DIR" >&2; exit 2; }
build=$1
stage=$2
bins="rlogd logcli"

for b in $bins; do
    [ -x "$build/$b" ] || { echo "stage: $build/$b missing: run make first" >&2; exit 1; }
done

# Start from nothing each time, so that nothing stale can ride along.
case "$stage" in
    */stage|stage) rm -rf "$stage" ;;
    *) echo "stage: refusing to clear '$stage' (must end in /stage)" >&2; exit 2 ;;
esac
root=$stage/rootfs
mkdir -p "$root/usr/local/bin" "$root/etc" "$stage/data"

for b in $bins; do
    if command -v strip >/dev/null 2>&1; then
        strip --strip-debug -o "$root/usr/local/bin/$b" "$build/$b"
    else
        cp "$build/$b" "$root/usr/local/bin/$b"
    fi
    chmod 0755 "$root/usr/local/bin/$b"
done

# ldd lines: "libx.so.1 => /path/libx.so.1 (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)",
# "linux-vdso.so.1 (0x...)" (in the kernel: nothing to copy), "libx.so.1 => not found".
libs=$(for b in $bins; do ldd "$build/$b"; done | awk '
    /not found/      { print "MISSING " $1; next }
    $2 == "=>" && $3 ~ /^\// { print $3; next }
    $1 ~ /^\//       { print $1 }' | sort -u)
if printf '%s\n' "$libs" | grep -q '^MISSING '; then
    printf '%s\n' "$libs" | sed -n 's/^MISSING /stage: library not found: /p' >&2
    exit 1
fi
n=0
for lib in $libs; do
    mode=0644
    case "$lib" in */ld-linux*|*/ld64.so*|*/ld-musl*) mode=0755 ;; esac
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"            # the file itself, not a dangling symlink
    chmod "$mode" "$root$lib"
    n=$((n + 1))
done

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/:/sbin/nologin
rlog:x:10001:10001:rlog:/nonexistent:/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
rlog:x:10001:
EOF
chmod 0644 "$root/etc/passwd" "$root/etc/group"
find "$root" -type d -exec chmod 0755 {} +
chmod 0755 "$stage/data"

echo "staged $stage: rootfs/ with 2 binaries, $n shared libraries, etc/passwd, etc/group ($(du -sh "$root" | cut -f1)); data/ (empty)"
