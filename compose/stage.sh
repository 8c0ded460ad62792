#!/bin/sh
# Stage the root file system of the rlog image (FROM scratch): exactly what
# rlogd and logcli need to run, and nothing else.
#   usr/local/bin/rlogd, usr/local/bin/logcli   the binaries (debug info stripped)
#   every shared library ldd reports, at the path ldd reports it (the dynamic
#   loader too, e.g. /lib64/ld-linux-x86-64.so.2), symlinks resolved
#   etc/passwd, etc/group                       root and the user rlog (10001)
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
mkdir -p "$stage/usr/local/bin" "$stage/etc"

for b in $bins; do
    if command -v strip >/dev/null 2>&1; then
        strip --strip-debug -o "$stage/usr/local/bin/$b" "$build/$b"
    else
        cp "$build/$b" "$stage/usr/local/bin/$b"
    fi
    chmod 0755 "$stage/usr/local/bin/$b"
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
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"            # the file itself, not a dangling symlink
    chmod "$mode" "$stage$lib"
    n=$((n + 1))
done

cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/:/sbin/nologin
rlog:x:10001:10001:rlog:/nonexistent:/sbin/nologin
EOF
cat >"$stage/etc/group" <<'EOF'
root:x:0:
rlog:x:10001:
EOF
chmod 0644 "$stage/etc/passwd" "$stage/etc/group"
find "$stage" -type d -exec chmod 0755 {} +

echo "staged $stage: 2 binaries, $n shared libraries, etc/passwd, etc/group ($(du -sh "$stage" | cut -f1))"
