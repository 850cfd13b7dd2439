# shellcheck shell=bash
# shellcheck disable=SC2034 # failed is read by the scripts that source this
# KTAP results of the host checks, one document per group: begin GROUP,
# result OK NAME [DIAGNOSTIC...] for each check, end to print the group.
# Sourced by scripts/host-checks.sh and scripts/docs.sh, never run.

group=""
lines=()
n=0
failed=0

begin() {
	group=$1
	lines=()
	n=0
}

result() { # result OK NAME [DIAGNOSTIC...]
	local ok=$1 name=$2 d
	shift 2
	n=$((n + 1))
	if [ "$ok" = 1 ]; then
		lines+=("ok $n $name")
	else
		for d in "$@"; do
			lines+=("# $d")
		done
		lines+=("not ok $n $name")
		failed=$((failed + 1))
	fi
}

end() {
	echo "KTAP version 1"
	echo "1..$n"
	echo "# Subtest: $group"
	printf '%s\n' "${lines[@]}"
}
