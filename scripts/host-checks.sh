#!/usr/bin/env bash
# Fast host checks, printed as KTAP: nothing is built and no guest boots, so
# they take a second or two. Run by make test (with the host checks that boot
# guests, scripts/host-tests.sh) and by make check.
#
#   host_make      variables of our make command line never reach the
#                  kernel's make; gdb-walk takes WALK=; gdb-attach builds
#                  nothing
#   host_run_vm    each option of scripts/run-vm.sh gives the expected QEMU
#                  arguments (run-vm.sh --dry-run); bad usage exits 2
#   host_docs      no tracked document links outside the repository
#   host_man, host_review, host_design
#                  scripts/docs.sh check: man pages lint clean and their
#                  ERRORS match docs/errors.md, the review walkthroughs'
#                  file:function references exist, the diagrams render
set -euo pipefail
# The checks name each backend and root file system themselves (QEMU and
# busybox by default, --backend uml, --rootfs debian): make test BACKEND=uml
# runs the same checks with the same expectations, and no variable of the
# make that runs us (in MAKEFLAGS) reaches the makes they run.
unset BACKEND ROOTFS MAKEFLAGS MFLAGS MAKEOVERRIDES MAKELEVEL
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

run_vm=$KLAB_ROOT/scripts/run-vm.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Our make is run as a fresh top-level make: when make test runs these
# checks, its MAKEFLAGS (T=..., a jobserver) must not take part.
real_make=$(command -v make)
top_make() {
	env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u MAKEOVERRIDES \
		"$real_make" --no-print-directory -C "$KLAB_ROOT" "$@"
}

# Results are collected per group and printed as one KTAP document each.
# shellcheck source=scripts/ktap-lib.sh
. "$(dirname "$0")/ktap-lib.sh"

# expect NAME WANT_RC PATTERN... -- CMD...: run CMD; its exit status must be
# WANT_RC and its output (stdout and stderr) match every extended regular
# expression PATTERN; a pattern starting with '!' must not match.
expect() {
	local name=$1 want_rc=$2 rc p ok=1
	local -a pats=() diags=()
	shift 2
	while [ "$1" != -- ]; do
		pats+=("$1")
		shift
	done
	shift
	set +e
	"$@" >"$work/out" 2>&1
	rc=$?
	set -e
	if [ "$rc" != "$want_rc" ]; then
		ok=0
		diags+=("exit status $rc, expected $want_rc")
	fi
	for p in "${pats[@]}"; do
		if [ "${p:0:1}" = "!" ]; then
			if grep -qE -- "${p:1}" "$work/out"; then
				ok=0
				diags+=("output matches /${p:1}/")
			fi
		elif ! grep -qE -- "$p" "$work/out"; then
			ok=0
			diags+=("output does not match /$p/")
		fi
	done
	if [ "$ok" = 0 ]; then
		diags+=("command: $(quote "$@")")
		mapfile -t -O "${#diags[@]}" diags < <(head -n 5 "$work/out" | sed 's/^/  /')
	fi
	result "$ok" "$name" "${diags[@]}"
}

# Quote a string for use inside an extended regular expression.
re() {
	printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'
}

# --- our make variables never reach the kernel's make -----------------------
begin host_make

# make kernel-cmd prints the command 'make kernel' runs; given every variable
# that means something to the kernel's make, on our command line and in the
# environment, the command must carry none of them.
# (O= is there once: the lab's output directory; the probe values are paths no build directory can start with, wherever the clone is.)
leaky='(W|V|C|M|ARCH|CROSS_COMPILE|LLVM|KCFLAGS|KBUILD_[A-Z_]+|MAKEFLAGS|MFLAGS|MAKELEVEL|MAKEOVERRIDES)'
expect kernel_make_gets_no_make_variable_of_ours 0 \
	'^env -i ' " make -C $(re "$KLAB_SRC") O=$(re "$KLAB_OBJ") " ' bzImage scripts_gdb$' \
	"!(^| )'?$leaky=" '!O=/klab-leak-probe' -- \
	env W=1 V=1 C=2 M=x O=/klab-leak-probe ARCH=arm CROSS_COMPILE=x- KBUILD_EXTRA_WARN=1 KCFLAGS=-Werror \
	"$real_make" --no-print-directory -s -C "$KLAB_ROOT" kernel-cmd \
	W=storage-ready V=1 C=1 M=/klab-leak-probe O=/klab-leak-probe T=lab_guest

# The real path, under our Makefile: a recipe of it runs scripts/kernel.sh,
# whose kmake runs a stand-in 'make' (first in PATH; our make is called by its
# full path) that records what the kernel's make would receive.
mkdir -p "$work/bin" "$work/build"
cat >"$work/bin/make" <<EOF
#!/bin/sh
env >"$work/standin.env"
printf '%s\n' "\$@" >"$work/standin.args"
EOF
chmod +x "$work/bin/make"
printf 'klab-probe:\n\t@scripts/kernel.sh make help\n' >"$work/probe.mk"
set +e
env PATH="$work/bin:$PATH" KLAB_BUILD="$work/build" W=1 V=1 O=/klab-leak-probe KBUILD_EXTRA_WARN=1 \
	"$real_make" --no-print-directory -s -C "$KLAB_ROOT" -f Makefile -f "$work/probe.mk" \
	klab-probe W=storage-ready V=1 C=1 O=/klab-leak-probe >"$work/probe.out" 2>&1
set -e
ok=0
diags=()
if [ -f "$work/standin.env" ]; then
	ok=1
	if grep -E "^($leaky|O)=" "$work/standin.env" >"$work/leaks"; then
		ok=0
		mapfile -t diags < <(sed 's/^/environment: /' "$work/leaks")
	fi
	if grep -E "^$leaky=" "$work/standin.args" >"$work/leaks"; then
		ok=0
		mapfile -t -O "${#diags[@]}" diags < <(sed 's/^/argument: /' "$work/leaks")
	fi
	if [ "$(grep -c '^O=' "$work/standin.args")" != 1 ] ||
		! grep -qx "O=$work/build/obj-$KLAB_VARIANT" "$work/standin.args"; then
		ok=0
		diags+=("arguments: O= is not just the lab's output directory")
	fi
else
	mapfile -t diags < <(echo "scripts/kernel.sh make did not run the kernel's make:"; head -n 5 "$work/probe.out")
fi
result "$ok" kernel_make_environment_is_clean "${diags[@]}"

expect gdb_walk_refuses_W_and_names_WALK 2 'WALK=storage-ready' '!kernel\.sh' -- \
	top_make gdb-walk W=storage-ready
expect gdb_walk_takes_WALK_and_SRC 0 '^scripts/gdb\.sh walk herd --source pipe$' -- \
	top_make -n gdb-walk WALK=herd SRC=pipe
expect gdb_walk_default_is_storage_ready 0 '^scripts/gdb\.sh walk storage-ready *$' -- \
	top_make -n gdb-walk
expect gdb_attach_builds_nothing 0 '^scripts/gdb\.sh attach$' '!kernel\.sh|rootfs\.sh|deps\.sh' -- \
	top_make -n gdb-attach
expect help_names_WALK_and_the_dry_runs 0 'WALK=' 'make kernel-cmd' 'make vm-cmd' -- \
	top_make help
expect vm_cmd_is_run_vm_dry_run 0 '^qemu-system-x86_64 ' -- top_make -s vm-cmd
end

# --- scripts/run-vm.sh --dry-run: options -> QEMU arguments -----------------
begin host_run_vm
# The options are checked on their own: the caller's DEBUG=, BACKEND= and
# ROOTFS= (make test DEBUG=1) must not change the expected command lines;
# the checks that need one set it themselves.
unset DEBUG BACKEND ROOTFS
dry() { "$run_vm" --dry-run "$@"; }
b64() { printf '%s' "$1" | base64 -w0; }
mkdir -p "$work/share1" "$work/share 2"

expect dry_run_boots_the_lab_kernel 0 '^qemu-system-x86_64 -machine pc ' \
	" -kernel $(re "$KLAB_BUILD/obj-lab/arch/x86/boot/bzImage") -initrd $(re "$KLAB_INITRD") " ' -smp 2 -m 1G ' \
	" -append 'console=ttyS0 nokaslr panic=-1 loglevel=5 no_timer_check( watchdog_thresh=60)? *'" \
	' -chardev stdio,mux=on,id=con,signal=off -serial chardev:con -mon chardev=con,mode=readline$' \
	'!-gdb|klab_exec|^timeout' -- dry
# shellcheck disable=SC2016 # expanded by bash -c
expect dry_run_prints_one_line 0 -- bash -c '[ "$("$0" --dry-run | wc -l)" = 1 ]' "$run_vm"
if kvm_usable; then
	expect accel_default_is_kvm_here 0 ' -accel kvm -cpu host ' -- dry
else
	expect accel_default_is_tcg_here 0 ' -accel tcg,thread=multi -cpu max ' -- dry
fi
expect accel_kvm 0 ' -accel kvm -cpu host ' -- dry --accel kvm
expect accel_tcg 0 ' -accel tcg,thread=multi -cpu max ' -- dry --accel tcg
expect kernel_initrd_cpus_mem 0 ' -smp 4 -m 512M -kernel /k/bz -initrd /k/rd ' -- \
	dry --kernel /k/bz --initrd /k/rd --cpus 4 --mem 512M
expect append_reaches_the_command_line 0 "-append 'console=ttyS0 [^']* foo=1 bar'" -- \
	dry --append 'foo=1 bar'
cmd='echo "a  b" | grep -c b; exit 7'
expect exec_travels_base64 0 " klab_exec=$(re "$(b64 "$cmd")")'" ' -monitor none$' -- dry --exec "$cmd"
expect exec_default_timeout_600 0 '^timeout -k 5 600 qemu-system-x86_64 ' -- dry --exec true
expect exec_timeout 0 '^timeout -k 5 30 qemu-system-x86_64 ' -- dry --exec true --timeout 30
expect interactive_timeout 0 '^timeout --foreground 30 qemu-system-x86_64 ' -- dry --timeout 30
expect share_is_virtfs 0 \
	"-virtfs local,path=$(re "$work/share1"),mount_tag=klab0,security_model=none,id=klab0 " \
	"-virtfs 'local,path=$(re "$work/share 2"),mount_tag=klab1,security_model=none,id=klab1' " \
	"klab_share=$(re "$(b64 "klab0 $work/share1"$'\n'"klab1 $work/share 2"$'\n')")" -- \
	dry --share "$work/share1" --share "$work/share 2"
expect gdb_halts 0 ' -gdb tcp:127\.0\.0\.1:[0-9]+ -S ' -- dry --gdb
expect gdb_run_does_not_halt 0 ' -gdb tcp:127\.0\.0\.1:[0-9]+ ' '! -S ' -- dry --gdb-run
expect gdb_port 0 ' -gdb tcp:127\.0\.0\.1:4321 -S ' -- dry --gdb-port 4321
# shellcheck disable=SC2016 # expanded by bash -c
expect gdb_port_file_not_written 0 -- bash -c \
	'"$0" --dry-run --gdb --gdb-port-file "$1" >/dev/null && [ ! -e "$1" ]' "$run_vm" "$work/portfile"
expect log_interactive 0 ' -chardev stdio,mux=on,id=con,signal=off,logfile=/tmp/x\.log ' -- \
	dry --log /tmp/x.log
expect console_pty 0 ' -chardev pty,id=con -serial chardev:con -monitor none$' -- dry --console pty
# --out: the runner's output on a line of its own (ttyS1), named to the guest.
expect out_is_the_second_serial_port 0 \
	' -serial chardev:con -monitor none .*-chardev file,id=out,path=/tmp/x\.out -serial chardev:out$' \
	"klab_exec=$(re "$(b64 true)") klab_out=/dev/ttyS1'" -- dry --exec true --out /tmp/x.out
expect out_without_exec_exits_2 2 '--out is the output of --exec' -- dry --out /tmp/x.out
expect debug_variant_under_tcg 0 " -kernel $(re "$KLAB_BUILD/obj-debug/arch/x86/boot/bzImage") " \
	'watchdog_thresh=60' -- env DEBUG=1 "$run_vm" --dry-run --accel tcg
expect help_shows_dry_run 0 '--dry-run' -- "$run_vm" --help
expect bad_option_exits_2 2 'unknown option: --bogus' '--help' -- dry --bogus
expect missing_argument_exits_2 2 '--exec needs an argument' -- dry --exec
expect bad_cpus_exits_2 2 '--cpus takes a number' -- dry --cpus two
expect bad_timeout_exits_2 2 '--timeout takes seconds' -- dry --exec true --timeout 1m
expect bad_accel_exits_2 2 '--accel takes kvm or tcg' -- dry --accel hvf
expect bad_console_exits_2 2 '--console takes stdio or pty' -- dry --console vga
expect console_pty_with_exec_exits_2 2 'interactive use' -- dry --console pty --exec true
expect share_missing_dir_exits_2 2 '--share: no directory' -- dry --share "$work/nope"
# The monitor and the memory dumps of make drgn (docs/drgn.md).
expect vmcoreinfo_device_for_dumps 0 ' -device vmcoreinfo ' -- dry
expect interactive_has_a_monitor 0 " -qmp unix:$(re "$KLAB_BUILD/vm/qmp-")[0-9]+\\.sock,server=on,wait=off " -- dry
expect exec_has_no_monitor 0 '! -qmp ' -- dry --exec true
expect monitor_path 0 ' -qmp unix:/tmp/m\.sock,server=on,wait=off ' -- dry --monitor /tmp/m.sock
expect monitor_none 0 '! -qmp ' -- dry --monitor none
expect dump_on_panic_pauses_and_has_a_monitor 0 ' -action shutdown=pause ' \
	' -no-reboot ' ' -qmp unix:[^ ]*klab-qmp-[0-9]+\.sock,server=on,wait=off ' -- dry --exec true --dump-on-panic /tmp/x.core
expect no_pause_without_dump_on_panic 0 '! -action ' -- dry
# User-Mode Linux: the linux binary, its console on this terminal (--exec:
# output only, so that the end of input never hangs the console up).
uml_linux=$KLAB_BUILD/obj-uml/linux
expect uml_runs_the_linux_binary 0 "^$(re "$uml_linux") mem=1G initrd=$(re "$KLAB_INITRD") " \
	' con=null ssl=null con0=fd:0,fd:1 loglevel=5$' '!timeout|gdb|-smp' -- dry --backend uml
expect uml_backend_from_BACKEND 0 "^$(re "$uml_linux") " -- env BACKEND=uml "$run_vm" --dry-run
expect uml_exec 0 "^timeout -k 5 30 $(re "$uml_linux") " ' con0=null,fd:1 ' \
	" klab_exec=$(re "$(b64 "$cmd")")$" -- dry --backend uml --exec "$cmd" --timeout 30
expect uml_out_is_serial_line_0 0 ' con0=null,fd:1 ' ' ssl0=null,fd:3 ' " klab_out=/dev/ttyS0$" -- \
	dry --backend uml --exec true --out /tmp/x.out
expect uml_share_is_hostfs 0 "klab_share=$(re "$(b64 "hostfs $work/share1"$'\n'"hostfs $work/share 2"$'\n')")" -- \
	dry --backend uml --share "$work/share1" --share "$work/share 2"
expect uml_mem_append 0 ' mem=256M ' ' loglevel=5 foo=1 bar$' -- dry --backend uml --mem 256M --append 'foo=1 bar'
expect uml_console_pty 0 ' con0=pty stderr=1 loglevel=7' -- dry --backend uml --console pty
expect uml_two_cpus_exits_2 2 'uniprocessor' -- dry --backend uml --cpus 2
expect uml_accel_exits_2 2 '--accel is for QEMU' -- dry --backend uml --accel tcg
expect uml_gdb_exits_2 2 'make gdb BACKEND=uml' -- dry --backend uml --gdb
expect uml_gdb_run_exits_2 2 'make gdb BACKEND=uml' -- dry --backend uml --gdb-run
expect uml_monitor_exits_2 2 'QEMU.s' -- dry --backend uml --monitor /tmp/m.sock
expect uml_dump_on_panic_exits_2 2 'QEMU.s' -- dry --backend uml --dump-on-panic /tmp/x.core
expect uml_debug_exits_2 2 'no debug variant' -- env DEBUG=1 "$run_vm" --dry-run --backend uml
expect bad_backend_exits_2 2 '--backend takes qemu or uml' -- dry --backend xen
# The debug kernel has no block layer (debug.config): no Debian root disk.
expect debian_root_is_virtio_blk 0 ' -drive file=.*debian\.ext4,format=raw,if=virtio,snapshot=on ' \
	' root=/dev/vda rw init=/sbin/klab-init' -- dry --rootfs debian
expect debian_on_debug_kernel_exits_2 2 'debug kernel has no block devices' -- \
	env DEBUG=1 "$run_vm" --dry-run --rootfs debian
expect ROOTFS_debian_DEBUG_exits_2 2 'debug kernel has no block devices' -- \
	env DEBUG=1 ROOTFS=debian "$run_vm" --dry-run
end

# --- the summary of a run: results from the runner, splats from the console --
begin host_summary
# A guest run as test.sh sees it: the runner's own line (KTAP) and the
# console, where a kernel warning cut into "    ok 1 second" and a WARNING
# came while suite_b ran.
printf '%s\n' 'KTAP version 1' '1..2' '    KTAP version 1' '    # Subtest: suite_a' '    1..1' \
	'    ok 1 first' 'ok 1 suite_a' '    KTAP version 1' '    # Subtest: suite_b' '    1..1' \
	'    ok 1 second' 'ok 2 suite_b' 'klab-exit: 0' >"$work/run.ktap"
printf '%s\r\n' 'KTAP version 1' '1..2' '    KTAP version 1' '    # Subtest: suite_a' '    1..1' \
	'    ok 1 first' 'ok 1 suite_a' '    KTAP version 1' '    # Subtest: suite_b' '    1..1' \
	'    o[    2.842089] hrtimer: interrupt took 256459 ns' 'k 1 second' 'ok 2 suite_b' 'klab-exit: 0' \
	>"$work/cut.console"
printf '%s\n' 'KTAP version 1' '1..2' '    KTAP version 1' '    # Subtest: suite_a' '    1..1' \
	'    ok 1 first' 'ok 1 suite_a' '    KTAP version 1' '    # Subtest: suite_b' '    1..1' \
	'[    3.000001] WARNING: CPU: 1 PID: 77 at kernel/kevent/core.c:10 kevent_x+0x1/0x2' \
	'    ok 1 second' 'ok 2 suite_b' >"$work/splat.console"
: >"$work/empty.ktap"
summary() { ktap_summary "" 0 "$@"; }
expect results_from_the_runner_line 0 '^2 passed, 0 failed$' '!FAIL' -- \
	summary "$work/cut.console" "$work/run.ktap"
expect splat_fails_blamed_on_its_suite 1 \
	'^FAIL kernel: WARNING: CPU: 1 PID: 77 at kernel/kevent/core.c:10 .*\(during suite_b\)$' \
	'^2 passed, 1 failed$' -- summary "$work/splat.console" "$work/run.ktap"
expect no_runner_output_fails 1 'FAIL no test result found' -- summary "$work/cut.console" "$work/empty.ktap"
expect missing_results_fail 1 'top-level results missing' -- \
	summary "$work/cut.console" <(head -n 8 "$work/run.ktap")
expect extra_failure_reported 1 '^FAIL guest timed out after 9s$' -- \
	ktap_summary "guest timed out after 9s" 124 "$work/cut.console" "$work/run.ktap"
# The same console read as the results (the way before run-vm.sh --out):
# the cut line is a result lost.
expect cut_console_alone_loses_a_result 1 'results missing' -- \
	summary /dev/null "$work/cut.console"
end

# --- documents stay inside the repository -----------------------------------
begin host_docs

# doc_leaks DOC: print every link or relative path of DOC (relative to the
# repository) that points outside the repository, or to nothing in it.
doc_leaks() {
	local doc=$1 dir target path
	dir=$(dirname "$KLAB_ROOT/$doc")
	{
		# Markdown link targets, minus URLs and in-page anchors.
		grep -oE '\]\([^)[:space:]]+' "$KLAB_ROOT/$doc" | cut -c3- |
			grep -vE '^([a-z]+:|#)' || true
		# Relative paths climbing out of the document's directory, in
		# links, code spans or text (not GDB's '.../' elision).
		grep -oE '(^|[^.[:alnum:]_/-])(\.\./)+[^[:space:]`)'"'"'"]*' "$KLAB_ROOT/$doc" |
			sed -E 's/^[^.]//' || true
	} | while read -r target; do
		path=${target%%#*}
		[ -n "$path" ] || continue
		case "$path" in
		/*) echo "$target (absolute path)"; continue ;;
		esac
		case "$(realpath -m "$dir/$path")/" in
		"$KLAB_ROOT"/*)
			[ -e "$dir/$path" ] || echo "$target (no such file in the repository)"
			;;
		*) echo "$target (leaves the repository)" ;;
		esac
	done
	# The material the project was started from is not part of it.
	grep -noE '(\.\./|/work/)?shared/(seeds|reference|hooks)[^[:space:]`)]*' "$KLAB_ROOT/$doc" |
		sed 's/$/ (outside the repository)/' || true
}

if git -C "$KLAB_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	mapfile -t docs < <(git -C "$KLAB_ROOT" ls-files '*.md' '*.txt' '*.rst')
else
	mapfile -t docs < <(cd "$KLAB_ROOT" && find . -path ./build -prune -o \
		\( -name '*.md' -o -name '*.txt' -o -name '*.rst' \) -type f -print | sed 's|^\./||')
fi
for doc in "${docs[@]}"; do
	[ -f "$KLAB_ROOT/$doc" ] || continue
	mapfile -t leaks < <(doc_leaks "$doc")
	if [ "${#leaks[@]}" = 0 ]; then
		result 1 "links_stay_in_repo:$doc"
	else
		result 0 "links_stay_in_repo:$doc" "${leaks[@]}"
	fi
done
# The check itself must catch a link out of the repository.
mkdir -p "$work/docs"
# shellcheck disable=SC2016 # a Markdown code span
printf 'See [x](../../outside.md) and `../shared/seeds/x.txt`.\n' >"$work/docs/leak.md"
saved_root=$KLAB_ROOT
KLAB_ROOT=$work
mapfile -t leaks < <(doc_leaks docs/leak.md)
KLAB_ROOT=$saved_root
if [ "${#leaks[@]}" -ge 2 ]; then
	result 1 docs_check_catches_a_leak
else
	result 0 docs_check_catches_a_leak "found ${#leaks[@]} of 2 leaks: ${leaks[*]}"
fi

# Generated sections are what their program gives on the kept input: the
# server's tables from the run kept in docs/performance/kserver.txt.
server_doc=$KLAB_ROOT/docs/performance-server.md
server_run=$KLAB_ROOT/docs/performance/kserver.txt
awk -f "$KLAB_ROOT/scripts/kserver-report.awk" "$server_run" >"$work/kserver.md"
doc_section "$server_doc" "$KSERVER_DOC_BEGIN" "$KSERVER_DOC_END" >"$work/kserver-doc.md"
if [ -s "$work/kserver.md" ] && cmp -s "$work/kserver.md" "$work/kserver-doc.md"; then
	result 1 generated_section_matches:performance-server.md
else
	mapfile -t diffs < <(diff "$work/kserver.md" "$work/kserver-doc.md" | head -n 8)
	result 0 generated_section_matches:performance-server.md \
		"differs from scripts/kserver-report.awk on docs/performance/kserver.txt (make bench-server BENCH_DOC=1):" "${diffs[@]}"
fi
# ... and the check notices one edited number.
sed '0,/ req\/s/s/ req\/s/0 req\/s/' "$work/kserver-doc.md" >"$work/kserver-edited.md"
if ! cmp -s "$work/kserver.md" "$work/kserver-edited.md"; then
	result 1 generated_check_catches_an_edit
else
	result 0 generated_check_catches_an_edit "an edited requests/s cell compared equal"
fi
end

# --- teaching documents: man pages, review walkthroughs, diagrams ----------
# Its own KTAP documents; a failure there fails this script too.
"$KLAB_ROOT/scripts/docs.sh" check || failed=$((failed + 1))

[ "$failed" = 0 ]
