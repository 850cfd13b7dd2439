# kevent lab - entry points. `make help` lists them.
#
# Variables: BACKEND=uml (User-Mode Linux instead of QEMU), ROOTFS=debian
# (the debootstrap Debian image instead of the busybox initramfs), DEBUG=1
# (debug kernel variant), T="suite ..." (guest suites to
# run), SKIP_SUITES="suite ..." (guest suites to leave out), V=1 (show the guest console during make test), HOST=0 (skip the host
# checks), FAILFAST=1 (make test ends at the first failed test), GDB=1
# (make vm with a gdb stub for make gdb-attach),
# WALK=walkthrough and SRC=timer|pipe|user (make gdb-walk), S=scenario
# (make trace), EX=exercise (make lab-*), CORE=dump, VIEW=view and LIVE=1
# (make drgn), KLAB_BUILD=DIR (build directory, default ./build).
#
# None of them reaches the kernel's own make: scripts/kernel.sh runs it with
# a clean environment (see make kernel-cmd), so V=1 here never means a
# verbose kernel build, and W=, C=, O=, M= on this command line change
# nothing there.

SHELL := /bin/bash
# make trace S=scenario: S is also this file's name for scripts/, so the
# scenario is read from the command line first and S kept as scripts/.
TRACE_S := $(if $(filter command,$(origin S)),$(S))
override S := scripts

# W= was the walkthrough's name; in the kernel's make it means extra warnings.
ifneq ($(filter gdb-walk,$(MAKECMDGOALS)),)
ifeq ($(origin W),command line)
$(error make gdb-walk takes WALK=, not W= (W= is the kernel build's extra-warnings switch): make gdb-walk WALK=$(W))
endif
endif

.DEFAULT_GOAL := help
.PHONY: help deps kernel kernel-cmd rootfs vm vm-cmd gdb gdb-console gdb-attach gdb-walk test test-all check clean distclean

help: ## this list
	@echo "kevent lab - make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk -F':.*## ' '{ printf "  make %-12s %s\n", $$1, $$2 }'
	@echo "Variables: BACKEND=qemu|uml ROOTFS=busybox|debian DEBUG=1 T=\"suite ...\" SKIP_SUITES=\"suite ...\" V=1 HOST=0 FAILFAST=1 GDB=1"
	@echo "           WALK=walk SRC=source S=scenario EX=exercise PAGE=man-page KLAB_BUILD=dir CORE=dump VIEW=view LIVE=1"
	@echo "           QUICK=1 BENCH_REPS=n BENCH_N=10,100 BENCH_A=1,10 BENCH_SRC=pipe,... BENCH_FROM=file (make bench)"
	@echo "  (ours only: the kernel's make never sees them, see make kernel-cmd)"

deps: ## install the Debian packages the lab needs (idempotent)
	@$(S)/deps.sh

kernel: deps ## build the lab kernel (incremental, ccache); BACKEND=uml: the User-Mode Linux one
	@$(S)/kernel.sh build

kernel-cmd: ## print the kernel's make command of make kernel, clean environment included
	@$(S)/kernel.sh make-cmd

rootfs: deps ## build the busybox initramfs with the test programs; ROOTFS=debian: the Debian image
	@$(S)/rootfs.sh

vm: kernel rootfs ## boot the lab kernel to a shell (leave: poweroff, or Ctrl-a x under QEMU); GDB=1: with a gdb stub
	@$(S)/$(if $(filter 1,$(GDB)),gdb.sh vm,run-vm.sh)

vm-cmd: ## print the QEMU command line of make vm without booting (scripts/run-vm.sh --dry-run)
	@$(S)/run-vm.sh --dry-run $(if $(filter 1,$(GDB)),--gdb-run)

gdb: kernel rootfs ## boot the lab kernel halted and debug it with GDB (docs/gdb.md); BACKEND=uml: under gdbserver
	@$(S)/gdb.sh start

gdb-console: ## type into the guest of a running make gdb (second terminal)
	@$(S)/gdb.sh console

# No kernel prerequisite: rebuilding vmlinux under a running guest would
# give GDB symbols that do not match it (gdb.sh warns when they differ).
gdb-attach: ## open GDB on the guest of a running make vm GDB=1 (builds nothing)
	@$(S)/gdb.sh attach

gdb-walk: kernel rootfs ## run a GDB walkthrough in batch mode: WALK=storage-ready|herd|ring-wrap
	@$(S)/gdb.sh walk $(or $(WALK),storage-ready) $(if $(SRC),--source $(SRC))

# Issue 17: kevent's tracepoints, a scenario's timeline (scripts/trace.sh,
# docs/trace.md); several scenarios in one boot: S="timer herd".
.PHONY: trace trace-docs
trace: kernel rootfs ## boot, run scenario S=timer|pipe|user|herd|ring-wrap|last-check|level|error with kevent's tracepoints on, print the timeline
	@$(S)/trace.sh $(or $(TRACE_S),timer)

trace-docs: kernel rootfs ## run the scenarios of docs/trace.md and rewrite its timelines from them
	@$(S)/trace.sh --docs

# Builds nothing unless it boots its own guest (scripts/drgn.sh): a vmlinux
# rebuilt under a running make vm would not match its dump.
.PHONY: drgn
drgn: deps ## open a memory dump of the guest in drgn with the kevent views (docs/drgn.md): of the running make vm, else of a demo guest; CORE=file; VIEW="queues" prints and exits; LIVE=1 ROOTFS=debian: on /proc/kcore
	@$(S)/drgn.sh $(if $(CORE),--core $(CORE)) $(if $(filter 1,$(LIVE)),--live) $(VIEW)

test: ## build everything, run host checks and all guest suites, summarise
	@$(S)/test.sh

# The benchmark of issue 14 (scripts/bench.sh, docs/performance.md): one boot,
# every API interleaved per repetition, exactly-once checks, results in
# build/bench/. Its variables (QUICK, BENCH_*) are read by the script.
.PHONY: bench
bench: ## benchmark poll/epoll/io_uring/kevent in one boot (build/bench/, docs/performance.md); QUICK=1: smoke test
	@$(S)/bench.sh

# Issue 16: libevent's bench and bench_cascade on kevent, epoll and poll
# (scripts/bench-libevent.sh, docs/libevent.md); BENCH_REPS, BENCH_DOC.
.PHONY: bench-libevent
bench-libevent: ## libevent's bench/bench_cascade on kevent (get_events, ring), epoll, poll in one boot; ratios to epoll
	@$(S)/bench-libevent.sh

# Issue 15's server: kevent against epoll under one load, and the accept
# herd (scripts/bench-server.sh, bench/kserver.c).
.PHONY: bench-server
bench-server: ## the TCP server on kevent and on epoll under load, and the accept herd, in one boot (build/bench/kserver.txt)
	@$(S)/bench-server.sh

test-all: ## make test on every backend, rootfs and variant (lab, debug, uml, debian, uml-debian), then make lab-validate; one summary
	@$(S)/test-all.sh

check: deps ## checkpatch --strict, W=1 and sparse on kernel/, shellcheck, the fast host checks, docs/drgn.md against the last dumps
	@$(S)/kernel.sh check
	@shellcheck -x $(S)/*.sh .ci/run lab/*/check.sh
	@shellcheck -s sh rootfs/bin/* rootfs/init rootfs/debian/klab-init tests/suites/*.sh
	@shellcheck -s sh lab/*/trace.sh
	@{ $(S)/host-checks.sh; $(S)/drgn-tests.sh --recheck; } | awk -f $(S)/ktap-summary.awk

clean: ## remove build outputs of the lab (keeps the extracted tree and the compiler cache)
	rm -rf build/obj-* build/rootfs build/results build/gdb build/bench tests/bin gdb/bin bench/bin

distclean: ## remove the whole build directory (the compiler cache is kept: see README)
	rm -rf build tests/bin gdb/bin bench/bin

# docs/gdb.md's transcripts are cut from a real run (scripts/gdb-docs.sh);
# make test fails when they no longer match one.
.PHONY: gdb-docs
gdb-docs: kernel rootfs ## run the GDB walkthroughs and rewrite docs/gdb.md's transcripts from them
	@$(S)/gdb-docs.sh --run

# docs/drgn.md's transcripts, the same way from scripts/drgn-tests.sh.
.PHONY: drgn-docs
drgn-docs: kernel rootfs ## run the drgn checks and rewrite docs/drgn.md's transcripts from them
	@$(S)/gdb-docs.sh --drgn --run

# The exercises of lab/ (lab/README.md); the logic is in scripts/lab.sh.
.PHONY: lab-list lab-start lab-check lab-reset lab-validate
lab-list: ## list the exercises of lab/ and their status
	@$(S)/lab.sh list

lab-start: ## start exercise EX=name|number on its own branch lab-<name> (refuses if the tree is dirty)
	@$(S)/lab.sh start "$(EX)"

lab-check: deps ## build, boot and run exercise EX's checks, pass/fail and the next hint; EX=all: grade table
	@$(S)/lab.sh check "$(EX)"

lab-reset: ## leave the exercise branch, back to where lab-start was run
	@$(S)/lab.sh reset

lab-validate: deps ## CI: every exercise's start FAILS its checker, the reference PASSES (EX="01 03" for some)
	@$(S)/lab.sh validate $(EX)

# The teaching documents (scripts/docs.sh); make test checks them (host_man,
# host_review, host_design).
.PHONY: man docs
man: deps ## show a man page of docs/man/: make man PAGE=kevent_wait (without PAGE: the list)
	@$(S)/docs.sh man $(PAGE)

docs: deps ## render docs/diagrams/*.dot as SVG and docs/man/ as HTML into build/docs/
	@$(S)/docs.sh render
