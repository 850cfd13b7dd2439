# kevent lab - entry points. `make help` lists them.
#
# Variables: DEBUG=1 (debug kernel variant), T="suite ..." (guest suites to
# run), V=1 (show the guest console during make test), HOST=0 (skip the host
# checks of the launcher and of GDB), GDB=1 (make vm with a gdb stub for
# make gdb-attach), W=walkthrough and SRC=timer|pipe|user (make gdb-walk),
# KLAB_BUILD=DIR (build directory, default ./build).

SHELL := /bin/bash
S := scripts

.DEFAULT_GOAL := help
.PHONY: help deps kernel rootfs vm gdb gdb-console gdb-attach gdb-walk test check clean distclean

help: ## this list
	@echo "kevent lab - make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk -F':.*## ' '{ printf "  make %-12s %s\n", $$1, $$2 }'
	@echo "Variables: DEBUG=1 T=\"suite ...\" V=1 HOST=0 GDB=1 W=walk SRC=source KLAB_BUILD=dir"

deps: ## install the Debian packages the lab needs (idempotent)
	@$(S)/deps.sh

kernel: deps ## build the lab kernel (incremental, ccache)
	@$(S)/kernel.sh build

rootfs: deps ## build the busybox initramfs with the test programs
	@$(S)/rootfs.sh

vm: kernel rootfs ## boot the lab kernel to a busybox shell (leave: poweroff or Ctrl-a x); GDB=1: with a gdb stub
	@$(S)/$(if $(filter 1,$(GDB)),gdb.sh vm,run-vm.sh)

gdb: kernel rootfs ## boot the lab kernel halted and debug it with GDB (docs/gdb.md)
	@$(S)/gdb.sh start

gdb-console: ## type into the guest of a running make gdb (second terminal)
	@$(S)/gdb.sh console

gdb-attach: kernel rootfs ## open GDB on the guest of a running make vm GDB=1
	@$(S)/gdb.sh attach

gdb-walk: kernel rootfs ## run a GDB walkthrough in batch mode: W=storage-ready|herd|ring-wrap
	@$(S)/gdb.sh walk $(or $(W),storage-ready) $(if $(SRC),--source $(SRC))

test: ## build everything, run host checks and all guest suites, summarise
	@$(S)/test.sh

check: deps ## checkpatch --strict, W=1 and sparse on kernel/, shellcheck
	@$(S)/kernel.sh check
	@shellcheck $(S)/*.sh .ci/run

clean: ## remove build outputs of the lab (keeps the extracted tree and ccache)
	rm -rf build/obj-* build/rootfs build/results build/gdb tests/bin gdb/bin

distclean: ## remove the whole build directory
	rm -rf build tests/bin gdb/bin
