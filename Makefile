# kevent lab - entry points. `make help` lists them.
#
# Variables: DEBUG=1 (debug kernel variant), T="suite ..." (guest suites to
# run), V=1 (show the guest console during make test), HOST=0 (skip the host
# checks of the launcher), KLAB_BUILD=DIR (build directory, default ./build).

SHELL := /bin/bash
S := scripts

.DEFAULT_GOAL := help
.PHONY: help deps kernel rootfs vm test check clean distclean

help: ## this list
	@echo "kevent lab - make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk -F':.*## ' '{ printf "  make %-10s %s\n", $$1, $$2 }'
	@echo "Variables: DEBUG=1 T=\"suite ...\" V=1 HOST=0 KLAB_BUILD=dir"

deps: ## install the Debian packages the lab needs (idempotent)
	@$(S)/deps.sh

kernel: deps ## build the lab kernel (incremental, ccache)
	@$(S)/kernel.sh build

rootfs: deps ## build the busybox initramfs with the test programs
	@$(S)/rootfs.sh

vm: kernel rootfs ## boot the lab kernel to a busybox shell (leave: poweroff or Ctrl-a x)
	@$(S)/run-vm.sh

test: ## build everything, run host checks and all guest suites, summarise
	@$(S)/test.sh

check: deps ## checkpatch --strict, W=1 and sparse on kernel/, shellcheck
	@$(S)/kernel.sh check
	@shellcheck $(S)/*.sh .ci/run

clean: ## remove build outputs of the lab (keeps the extracted tree and ccache)
	rm -rf build/obj-* build/rootfs build/results tests/bin

distclean: ## remove the whole build directory
	rm -rf build tests/bin
