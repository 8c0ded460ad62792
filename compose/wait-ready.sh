#!/bin/sh
# Wait until every container of the compose project is healthy (its
# healthcheck, `logcli status`, answers) and the master accepts appends
# (read-write: a quorum of nodes is healthy). Run from compose/.
#   usage: wait-ready.sh SECONDS              the pinned topology: the service
#                                             "master" (make compose-up runs it)
#          wait-ready.sh SECONDS NODE...      elected nodes (make compose-up-failover:
#                                             n1 n2 n3): one of them is master,
#                                             read-write, with every node healthy
# DOCKER_COMPOSE: the compose command (default docker-compose).
set -u
secs=${1:-60}
[ $# -gt 0 ] && shift
elected=$*
dc=${DOCKER_COMPOSE:-docker-compose}
end=$(($(date +%s) + secs))

# master_ready: the master (pinned, or whichever elected node leads) is
# read-write, and with elected nodes every one of them is healthy
master_ready() {
    if [ -z "$elected" ]; then
        $dc exec -T master logcli status --json 2>/dev/null | grep -q '"mode":"read-write"'
        return
    fi
    count=$(echo "$elected" | wc -w)
    for n in $elected; do
        json=$($dc exec -T "$n" logcli status --json 2>/dev/null) || continue
        case "$json" in
            *'"role":"master"'*'"mode":"read-write"'*"\"healthy\":$count,"*) return 0 ;;
        esac
    done
    return 1
}

while :; do
    ids=$($dc ps -q)
    if [ -n "$ids" ]; then
        # one line per container: its health status, or its state if it has stopped
        notready=$(docker inspect -f '{{if eq .State.Status "running"}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' $ids | grep -cv '^healthy$')
        if [ "$notready" -eq 0 ] && master_ready; then
            exit 0
        fi
    fi
    if [ "$(date +%s)" -ge "$end" ]; then
        if [ -z "$elected" ]; then
            echo "compose: not ready after $secs s (every node healthy, master read-write):" >&2
            $dc ps >&2
            $dc exec -T master logcli status >&2
        else
            echo "compose: not ready after $secs s (every node healthy, one of $elected master and read-write with all healthy):" >&2
            $dc ps >&2
            for n in $elected; do
                echo "--- $n" >&2
                $dc exec -T "$n" logcli status >&2
            done
        fi
        exit 1
    fi
    sleep 1
done
