# kserver-report.awk: the generated section of docs/performance-server.md
# from the output of bench/kserver (make bench-server keeps it in
# build/bench/kserver.txt; BENCH_DOC=1 copies it to
# docs/performance/kserver.txt and rewrites the section with this).
# make test's host_docs check runs it again on the kept file and compares,
# so the tables cannot drift from the run they claim to show.
#
#   awk -f scripts/kserver-report.awk kserver.txt
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
function median(arr, n,    i, j, t, s) {
	for (i = 1; i <= n; i++)
		s[i] = arr[i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && s[j - 1] > s[j]; j--) {
			t = s[j]; s[j] = s[j - 1]; s[j - 1] = t
		}
	return n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2
}
# "server kevent LT conns 400 reqs/conn 50: 20000/20000 responses ok, 0 bad,
#  0 lost, idle closed 20/20; 5057 requests/s, 2.10 syscalls/request (3.95 s)
#  [; 1.02 re-checks, 0.72 stale per request]"
$1 == "server" {
	api = $2; mode = $3; key = api " " mode
	conns = $5; reqs = $7; sub(/:$/, "", reqs)
	split($8, okv, "/")
	total_ok += okv[1]; total_req += okv[2]
	total_bad += $11; total_lost += $13
	split($17, idle, "/"); sub(/;$/, "", idle[2])
	idle_closed += idle[1]; idle_total += idle[2]
	runs++
	n = ++count[key]
	rps[key, n] = $18
	calls[key, n] = $20
	recheck[key, n] = ($0 ~ /re-checks/) ? $24 : ""
	stale[key, n] = ($0 ~ /re-checks/) ? $26 : ""
	if (n > reps)
		reps = n
	next
}
# "herd   socket-wakeone threads, one queue    x4: 50/50 connections
#  accepted; 1.00 wake-ups, 1.00 voluntary switches, 0.00 empty accepts
#  per connection"
$1 == "herd" {
	line = $0
	sub(/^herd +/, "", line)
	kind = line; sub(/ .*/, "", kind)
	arr = line; sub(/^[^ ]+ +/, "", arr); sub(/ +x[0-9]+:.*/, "", arr)
	match(line, / x[0-9]+:/)
	acceptors = substr(line, RSTART + 2, RLENGTH - 3)
	match(line, /[0-9]+\/[0-9]+ connections/)
	accepted = substr(line, RSTART, RLENGTH - 12)
	split(line, parts, "; ")
	split(parts[2], v, " ")
	herd[++nherd] = sprintf("| %s | %s | %s | %s | %s | %s |",
		kind == "socket-wakeone" ? "SOCKET `ACCEPT`, `WAKEUP_ONE`" : "POLL `POLLIN`",
		arr, accepted, kind == "socket-wakeone" ? "**" v[1] "**" : v[1], v[3], v[6])
	herd_acceptors = acceptors
	next
}
function cell(key, i) {
	if (!((key SUBSEP i) in rps))
		return "-"
	return rps[key, i] " req/s, " calls[key, i] " calls/req" \
		(recheck[key, i] != "" ? ", " recheck[key, i] " re-checks (" stale[key, i] " stale)" : "")
}
END {
	if (reps) {
		printf "%d repetition%s of %d connections × %d requests (the four configurations interleaved in each); ", \
			reps, (reps > 1 ? "s" : ""), conns, reqs
		printf "over the %d runs, %d of %d responses correct, %d wrong, %d missing, and %d of %d idle connections closed by the server.\n\n", \
			runs, total_ok, total_req, total_bad, total_lost, idle_closed, idle_total
		print "| repetition | kevent LT | epoll LT | kevent / epoll LT | kevent ET | epoll ET | kevent / epoll ET |"
		print "|---|---|---|---|---|---|---|"
		for (i = 1; i <= reps; i++) {
			rlt[i] = rps["epoll LT", i] > 0 ? rps["kevent LT", i] / rps["epoll LT", i] : 0
			ret[i] = rps["epoll ET", i] > 0 ? rps["kevent ET", i] / rps["epoll ET", i] : 0
			printf "| %d | %s | %s | %s | %s | %s | %s |\n", i, \
				cell("kevent LT", i), cell("epoll LT", i), \
				ratio(rps["kevent LT", i], rps["epoll LT", i]), \
				cell("kevent ET", i), cell("epoll ET", i), \
				ratio(rps["kevent ET", i], rps["epoll ET", i])
		}
		printf "\nMedian requests/s ratio kevent / epoll (above 1: kevent serves more): LT %.2f, ET %.2f.\n", \
			median(rlt, reps), median(ret, reps)
	}
	if (nherd) {
		if (reps)
			print ""
		printf "Accept herd, %s acceptors on one listening TCP socket:\n\n", herd_acceptors
		print "| kevent on the listener | acceptors | accepted | wake-ups / conn | switches / conn | empty accepts / conn |"
		print "|---|---|---|---|---|---|"
		for (i = 1; i <= nherd; i++)
			print herd[i]
	}
}
