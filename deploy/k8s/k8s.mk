# rlog on Kubernetes (deploy/k8s/; docs/DEPLOY.md).
#   make k8s-validate    test/k8s_test.sh: render 3 and 5 nodes (with a Secret
#                        of throwaway keys), check that deploy/k8s/rlog.yaml is
#                        up to date, validate against the Kubernetes 1.27 and
#                        1.37 schemas (kubernetes-validate --strict, offline)
#                        and check that the objects fit together
#                        (deploy/k8s/check.py); exits 1 on any invalid manifest
#   make k8s-render [K8S_NODES=5] [K8S_ARGS='--image REGISTRY/rlog:TAG']
#                        the manifests on stdout (deploy/k8s/render.py)
#   make k8s-keys [K8S_NODES=5]
#                        CURVE certificates in deploy/k8s/keys/ (deploy/k8s/keys.sh):
#                        one per node (rlog-0..), cluster (every client port's),
#                        healthcheck, operator
#   make k8s-venv        only the virtual environment $(K8S_VENV): python3 -m venv
#                        and pip install of deploy/k8s/requirements.txt (pinned;
#                        needs PyPI once; validating then needs no network)

K8S_VENV   ?= $(BUILD)/k8s-venv
K8S_PYTHON ?= python3
K8S_NODES  ?= 3
K8S_ARGS   ?=

$(K8S_VENV)/.installed: deploy/k8s/requirements.txt
	rm -rf $(K8S_VENV)
	$(K8S_PYTHON) -m venv $(K8S_VENV)
	$(K8S_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r deploy/k8s/requirements.txt
	$(K8S_VENV)/bin/pip check --disable-pip-version-check
	touch $@

k8s-venv: $(K8S_VENV)/.installed

k8s-validate: $(K8S_VENV)/.installed $(BUILD)/logcli
	K8S_VENV="$(K8S_VENV)" LOGCLI="$(BUILD)/logcli" test/k8s_test.sh

k8s-render:
	@deploy/k8s/render.py --nodes $(K8S_NODES) $(K8S_ARGS)

k8s-keys: $(BUILD)/logcli
	$(Q)deploy/k8s/keys.sh $(BUILD)/logcli deploy/k8s/keys $(K8S_NODES)

.PHONY: k8s-venv k8s-validate k8s-render k8s-keys
