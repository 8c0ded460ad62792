#!/bin/sh
# CURVE keys for the secure compose variant (docker-compose.secure.yml).
#   usage: compose/keys.sh LOGCLI KEYS_DIR      (make compose-keys runs it)
# Writes, with `logcli keygen`, into KEYS_DIR (compose/keys/, keep it out of git):
#   master, s1, s2           the nodes' certificates (NAME public, NAME_secret)
#   healthcheck              the client key of every container's healthcheck
#                            (and of `docker-compose exec NODE logcli ...`)
#   operator                 a client key for people: the host's build/logcli,
#                            or `exec -e RLOG_CURVE_SECRET=/keys/operator ...`
#   nodes/                   public halves of master, s1, s2, each named by its
#                            node id: the keys the peer sockets admit, each id
#                            bound to its own (--curve-allow-nodes)
#   clients/                 public halves of healthcheck, operator: the keys
#                            the client sockets admit too (--curve-allow-clients)
# Existing certificates are kept (delete KEYS_DIR to start over; the nodes
# must then be restarted); nodes/ and clients/ are refilled every time (and
# allow/, of the earlier single directory, removed).
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

rm -rf "$dir/allow"
mkdir -p "$dir/nodes" "$dir/clients"
chmod 0755 "$dir" "$dir/nodes" "$dir/clients"
made=0
for name in master s1 s2 healthcheck operator; do
    if [ -f "$dir/$name" ] && [ -f "$dir/${name}_secret" ]; then
        continue
    fi
    rm -f "$dir/$name" "$dir/${name}_secret"
    "$logcli" keygen "$dir/$name" >/dev/null
    made=$((made + 1))
done

# only public halves: node keys named by node id, client keys apart
rm -f "$dir/nodes/"* "$dir/clients/"*
for name in master s1 s2; do
    cp "$dir/$name" "$dir/nodes/$name"
done
for name in healthcheck operator; do
    cp "$dir/$name" "$dir/clients/$name"
done
chmod 0644 "$dir"/master "$dir"/s1 "$dir"/s2 "$dir"/healthcheck "$dir"/operator \
    "$dir/nodes/"* "$dir/clients/"*

if [ "$(id -u)" -eq 0 ] && [ "${KEYS_DEV:-0}" != 1 ]; then
    group=${SUDO_GID:-$(id -g)}
    chown "10001:$group" "$dir"/*_secret
    chmod 0640 "$dir"/*_secret
    how="owner 10001:$group, mode 0640"
else
    chmod 0644 "$dir"/*_secret
    how="mode 0644 (readable by every local user: dev only; run as root for 0640)"
fi
echo "keys: $dir: $made new certificate(s); nodes/: master s1 s2; clients/: healthcheck operator; secrets $how"
