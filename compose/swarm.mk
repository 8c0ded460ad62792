# rlog on Docker Swarm (compose/stack.yml, stack "rlog"; docs/DEPLOY.md).
#   make swarm-init      a one-node swarm on this host (docker swarm init
#                        --advertise-addr 127.0.0.1) unless it is in one, and
#                        this node labelled for every rlog node
#                        (rlog.node.master, rlog.node.s1, rlog.node.s2 = true)
#   make swarm-up        keys (compose-keys), image (compose-images), then
#                        docker stack deploy --resolve-image never, and wait until
#                        every task is healthy and the master read-write
#   make swarm-down      docker stack rm, and wait until its containers and
#                        networks are gone; the volumes (the logs) stay
#   make swarm-test      test/swarm_test.sh: a throwaway stack on this host's
#                        swarm (a one-node swarm made for it, and left, if the
#                        host is in none): the self-check, a killed task.
#                        No Docker engine: SKIP, exit 0; a FAILURE with CI=true
#   make swarm-logcli ARGS='append -w 3 hello'
#                        logcli in a one-off container on the stack's network,
#                        with the operator key (compose/keys/operator)
# SWARM_STACK: the stack's name (rlog); SWARM_WAIT: seconds swarm-up waits (90).

SWARM_STACK ?= rlog
SWARM_WAIT  ?= 90

swarm-init:
	$(Q)compose/swarm.sh init

swarm-up: compose-keys compose-images
	$(Q)compose/swarm.sh up $(SWARM_STACK) $(SWARM_WAIT)

swarm-down:
	$(Q)compose/swarm.sh down $(SWARM_STACK)

swarm-logcli:
	$(Q)compose/swarm.sh logcli $(SWARM_STACK) $(ARGS)

swarm-test:
	MAKE="$(MAKE)" test/swarm_test.sh

.PHONY: swarm-init swarm-up swarm-down swarm-logcli swarm-test
