# Fault-injection checker (docs/CHECKER.md). Included by the top Makefile.
#   make faults                          60 s run, random seed, nodes on data dirs
#   make faults FAULTS_SECONDS=120       longer run
#   make faults FAULTS_SEED=12345        replay a seed's fault schedule
#   make faults FAULTS_MODE=in-memory    no data dirs (the master is only paused)
#   make faults FAULTS_MODE=elected      three elected nodes (rlogd node): the master is
#                                        killed, paused and cut off (iptables, as root),
#                                        failovers follow
#   make faults FAULTS_FSYNC=batch       force a policy (always|batch|never; default:
#                                        one per run, chosen from the seed)
#   make faults FAULTS_ARGS=--keep       keep the node logs and data dirs even on PASS
# The last line of the output is "N passed, N failed"; exit 0 only on PASS.

FAULTS_SECONDS ?= 60
FAULTS_SEED    ?=
FAULTS_MODE    ?= data-dirs
FAULTS_FSYNC   ?=
FAULTS_ARGS    ?=

$(BUILD)/checker: test/checker.c $(BUILD)/librlog.a | $(BUILD)
	@$(if $(Q),echo "  LINK  $@")
	$(Q)$(CC) $(CFLAGS) -DRLOG_BUILD_DIR='"$(abspath $(BUILD))"' $< $(BUILD)/librlog.a \
	  -o $@ $(LDLIBS) -lpthread

FAULTS_RUN = $(BUILD)/checker --seconds $(FAULTS_SECONDS) --$(FAULTS_MODE) \
  $(if $(FAULTS_SEED),--seed $(FAULTS_SEED)) $(if $(FAULTS_FSYNC),--fsync $(FAULTS_FSYNC)) \
  $(FAULTS_ARGS)

faults: all $(BUILD)/checker
	$(FAULTS_RUN)

.PHONY: faults
