#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_soak_sessions.sh [N] - a long-running receiver holds no more after N
# one-file sessions than after 10: the same number of open fds and threads, and resident
# memory within 10%.  CI runs 200 sessions; `t_soak_sessions.sh 2000` is the long soak.
. "$(dirname "$0")/lib.sh"
N=${1:-${SOAK_SESSIONS:-200}}
[ "$N" -gt 10 ] || fail "N must exceed 10"
# Under AddressSanitizer freed memory waits in a quarantine (256 MB) before reuse, which
# RSS counts: with it off, RSS measures what the server holds, as in a normal build.
# (No effect on a build without ASan.)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
# About 0.3 s a session on a loaded 2-core machine, with room to spare.
SRV_LIFETIME=$((300 + N))
src="$CT/$(ls "$CT" | head -n 1)"
mkdir "$WORK/rx" "$WORK/in"
start_server "$WORK/rx" --insecure
SRV_PID=$(pgrep -P "$SRV_TPID")
fds() { ls "/proc/$SRV_PID/fd" | wc -l; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$SRV_PID/status"; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$SRV_PID/status"; }
# Connection threads end just after the sender's COMPLETE: wait until they are gone
# (the accept loop alone is left), up to 5 s.
settle() {
	for _ in $(seq 50); do
		[ "$(threads)" -le 1 ] && return
		sleep 0.1
	done
}
for i in $(seq "$N"); do
	mkdir -p "$WORK/in/study$i"
	cp "$src" "$WORK/in/study$i/im1.dcm"
	INPUTS="$WORK/in/study$i"
	send "$SRV_PORT" --insecure
	[ "$RC" = 0 ] || fail "session $i failed: $(cat "$WORK/send.err")"
	rm -rf "$WORK/in/study$i"
	[ -z "${SOAK_TRACE:-}" ] || { [ $((i % 100)) = 0 ] && echo "after $i: $(fds) fds, RSS $(rss) KiB"; }
	if [ "$i" = 10 ]; then
		settle
		fd10=$(fds); th10=$(threads); rss10=$(rss)
	elif [ "$i" -gt 10 ] && [ "$i" -le 20 ]; then
		# One sample swings by 1-2 MB with what glibc keeps cached (freed thread stacks,
		# per-thread arenas) at that instant: "where it was after the first 10" is the
		# highest of sessions 10-20, which is what a real leak would pass within ~100.
		settle
		r=$(rss)
		[ "$r" -le "$rss10" ] || rss10=$r
	fi
done
settle
fdN=$(fds); thN=$(threads); rssN=$(rss)
echo "after 10 sessions: $fd10 fds, $th10 threads, RSS $rss10 KiB; after $N: $fdN fds, $thN threads, RSS $rssN KiB"
[ "$fdN" -le "$fd10" ] || fail "open fds grew from $fd10 to $fdN over $N sessions"
[ "$thN" -le "$th10" ] || fail "threads grew from $th10 to $thN over $N sessions"
[ $((rssN * 10)) -le $((rss10 * 11)) ] || fail "RSS grew from $rss10 to $rssN KiB (over 10%)"
[ "$(ls "$WORK/rx" | grep -c '^study')" = "$N" ] || fail "not every study was delivered"
echo "PASS: $N sessions, no growth"
