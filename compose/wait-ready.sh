#!/bin/sh
# Wait until every container of the compose project is healthy (its
# healthcheck, `logcli status`, answers) and the master accepts appends
# (read-write: a quorum of nodes is healthy). Run from compose/.
#   usage: wait-ready.sh SECONDS        (make compose-up runs it)
# DOCKER_COMPOSE: the compose command (default docker-compose).
set -u
secs=${1:-60}
dc=${DOCKER_COMPOSE:-docker-compose}
end=$(($(date +%s) + secs))
while :; do
    ids=$($dc ps -q)
    if [ -n "$ids" ]; then
        # one line per container: its health status, or its state if it has stopped
        notready=$(docker inspect -f '{{if eq .State.Status "running"}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' $ids | grep -cv '^healthy$')
        if [ "$notready" -eq 0 ] &&
           $dc exec -T master logcli status --json 2>/dev/null | grep -q '"mode":"read-write"'; then
            exit 0
        fi
    fi
    if [ "$(date +%s)" -ge "$end" ]; then
        echo "compose: not ready after $secs s (every node healthy, master read-write):" >&2
        $dc ps >&2
        $dc exec -T master logcli status >&2
        exit 1
    fi
    sleep 1
done
