# rlog in Docker Compose (compose/docker-compose.yml, project "rlog").
#   make compose-up      make the binaries, stage them, build the image rlog:local,
#                        start master + s1 + s2, wait until all are healthy and
#                        the master is read-write
#   make compose-down    stop and remove the containers, networks and volumes:
#                        every node's log is gone (to keep them: `docker-compose
#                        down` without -v, or `docker-compose stop`, in compose/)
#   make compose-test    test/compose_test.sh: fault scenarios in throwaway
#                        projects; skips (exit 0) when Docker does not answer
#   make compose-stage   only fill compose/stage/ (rootfs/: the image's root file
#                        system; data/: the empty /data, see compose/stage.sh)
#   make compose-images  only build the image
#   make compose-keys    CURVE certificates in compose/keys/ (compose/keys.sh),
#                        if missing: master, s1, s2, healthcheck, operator, allow/
#   make compose-up-secure   compose-up with docker-compose.secure.yml on top
#                        (CURVE everywhere, keys from compose/keys/ on /keys)
#   make compose-down-secure compose-down of the same (down -v: logs gone)
#   make compose-up-failover   docker-compose.failover.yml, project "rlog-failover":
#                        three elected nodes n1 n2 n3 (rlogd node), client ports
#                        on 127.0.0.1:5555, 5556, 5557; waits until all are
#                        healthy and one of them is a read-write master
#   make compose-down-failover down -v of the same: containers, network and
#                        volumes (the logs) removed
# No registry is needed: the image is FROM scratch, built from compose/stage/.
# DOCKER_COMPOSE picks docker-compose (v1) if present, else `docker compose`.

DOCKER_COMPOSE ?= $(shell command -v docker-compose >/dev/null 2>&1 && echo docker-compose || echo docker compose)
COMPOSE_STAGE  := compose/stage
# seconds compose-up waits for healthy nodes and a read-write master
COMPOSE_WAIT   ?= 60

compose-stage: $(BUILD)/rlogd $(BUILD)/logcli
	$(Q)compose/stage.sh $(BUILD) $(COMPOSE_STAGE)

compose-images: compose-stage
	cd compose && $(DOCKER_COMPOSE) build

# Runs from compose/ so that compose/.env and a docker-compose.override.yml
# there apply, as they do to docker-compose commands typed in compose/.
compose-up: compose-images
	cd compose && $(DOCKER_COMPOSE) up -d
	$(Q)cd compose && DOCKER_COMPOSE="$(DOCKER_COMPOSE)" ./wait-ready.sh $(COMPOSE_WAIT)
	cd compose && $(DOCKER_COMPOSE) ps

compose-down:
	cd compose && $(DOCKER_COMPOSE) down -v --remove-orphans

COMPOSE_KEYS   := compose/keys
COMPOSE_SECURE  = $(DOCKER_COMPOSE) -f docker-compose.yml -f docker-compose.secure.yml

compose-keys: $(BUILD)/logcli
	$(Q)compose/keys.sh $(BUILD)/logcli $(COMPOSE_KEYS)

compose-up-secure: compose-keys compose-images
	cd compose && $(COMPOSE_SECURE) up -d
	$(Q)cd compose && DOCKER_COMPOSE="$(COMPOSE_SECURE)" ./wait-ready.sh $(COMPOSE_WAIT)
	cd compose && $(COMPOSE_SECURE) ps

compose-down-secure:
	cd compose && $(COMPOSE_SECURE) down -v --remove-orphans

# Elected nodes: a project of its own, so that it and the pinned one can
# be told apart (and brought down) separately.
COMPOSE_FAILOVER = $(DOCKER_COMPOSE) -p rlog-failover -f docker-compose.failover.yml

compose-up-failover: compose-images
	cd compose && $(COMPOSE_FAILOVER) up -d
	$(Q)cd compose && DOCKER_COMPOSE="$(COMPOSE_FAILOVER)" ./wait-ready.sh $(COMPOSE_WAIT) n1 n2 n3
	cd compose && $(COMPOSE_FAILOVER) ps

compose-down-failover:
	cd compose && $(COMPOSE_FAILOVER) down -v --remove-orphans

compose-test:
	DOCKER_COMPOSE="$(DOCKER_COMPOSE)" MAKE="$(MAKE)" BUILD="$(BUILD)" test/compose_test.sh

.PHONY: compose-stage compose-images compose-up compose-down compose-test \
        compose-keys compose-up-secure compose-down-secure \
        compose-up-failover compose-down-failover
