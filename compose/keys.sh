#!/bin/sh
# CURVE keys for the secure compose variant (docker-compose.secure.yml).
#   usage: compose/keys.sh LOGCLI KEYS_DIR      (make compose-keys runs it)
# Writes, with `logcli keygen`, into KEYS_DIR (compose/keys/, keep it out of git):
#   master, s1, s2           the nodes' certificates (NAME public, NAME_secret)
#   healthcheck              the client key of every container's healthcheck
#                            (and of `docker-compose exec NODE logcli ...`)
#   operator                 a client key for people: the host's build/logcli,
#                            or `exec -e RLOG_CURVE_SECRET=/keys/operator ...`
#   allow/                   public halves of s1, s2, healthcheck, operator:
#                            the keys every node lets in (--curve-allow)
# Existing certificates are kept (delete KEYS_DIR to start over; the nodes
# must then be restarted); allow/ is refilled every time.
#
# The containers run as uid 10001 and read the secrets through a read-only
# bind mount, so the secret files must be readable by 10001:
#   run as root (e.g. sudo): NAME_secret is chown 10001:<your group>, mode 0640:
#                            readable by the nodes and your group, nobody else
#   otherwise, or KEYS_DEV=1: NAME_secret is mode 0644, readable by every local
#                            user: acceptable on a single-user dev machine only
set -eu

[ $# -eq 2 ] || { echo "usage: $0 LOGCLI KEYS_DIR" >&2; exit 2; }
logcli=$1
dir=$2
[ -x "$logcli" ] || { echo "keys: $logcli missing: run make first" >&2; exit 1; }

mkdir -p "$dir/allow"
chmod 0755 "$dir" "$dir/allow"
made=0
for name in master s1 s2 healthcheck operator; do
    if [ -f "$dir/$name" ] && [ -f "$dir/${name}_secret" ]; then
        continue
    fi
    rm -f "$dir/$name" "$dir/${name}_secret"
    "$logcli" keygen "$dir/$name" >/dev/null
    made=$((made + 1))
done

# only the public halves of the clients the nodes must let in
rm -f "$dir/allow/"*
for name in s1 s2 healthcheck operator; do
    cp "$dir/$name" "$dir/allow/$name"
done
chmod 0644 "$dir"/master "$dir"/s1 "$dir"/s2 "$dir"/healthcheck "$dir"/operator "$dir/allow/"*

if [ "$(id -u)" -eq 0 ] && [ "${KEYS_DEV:-0}" != 1 ]; then
    group=${SUDO_GID:-$(id -g)}
    chown "10001:$group" "$dir"/*_secret
    chmod 0640 "$dir"/*_secret
    how="owner 10001:$group, mode 0640"
else
    chmod 0644 "$dir"/*_secret
    how="mode 0644 (readable by every local user: dev only; run as root for 0640)"
fi
echo "keys: $dir: $made new certificate(s); allow/: s1 s2 healthcheck operator; secrets $how"
