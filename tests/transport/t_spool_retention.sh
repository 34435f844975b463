#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/transport/t_spool_retention.sh - the spool of a session whose sender died (a full
# copy of part of a study) is removed once nobody touched it for --spool-retention: at
# start (default 7 days: an 8-day-old spool goes, a fresh one stays) and while serving;
# within the retention time the same send resumes from it.
. "$(dirname "$0")/lib.sh"
INPUTS="$CT"
mkdir "$WORK/rx"
spools() { ls "$WORK/rx/.radpipe" | grep -E '^[0-9a-f]{32}$' | sed "s#^#$WORK/rx/.radpipe/#"; }

# A sender killed mid-transfer leaves its spool behind.
start_server "$WORK/rx" --insecure
start_proxy --rate 4000000
send_bg "$PROXY_PORT" --insecure
sleep 1.5
kill_sender
stop_proxy
sleep 0.5
stop_server
[ "$(spools | wc -l)" = 1 ] || fail "expected one spool after the killed send, found: $(spools)"
killed=$(spools)
# Within the retention time the spool is kept and the rerun resumes from it.
start_server "$WORK/rx" --insecure
[ "$(spools)" = "$killed" ] || fail "a fresh spool was removed at start"
send "$SRV_PORT" --insecure
[ "$RC" = 0 ] || fail "rerun exited $RC: $(cat "$WORK/send.err")"
[ "$(json resumed)" = true ] || fail "rerun did not resume from the kept spool"
stop_server

# An old abandoned spool: the same spool made 8 days old, and a fresh copy of it.
old="$WORK/rx/.radpipe/0123456789abcdef0123456789abcdef"
fresh="$WORK/rx/.radpipe/fedcba9876543210fedcba9876543210"
cp -r "$killed" "$old"
cp -r "$killed" "$fresh"
find "$old" -exec touch -h -d '8 days ago' {} +
start_server "$WORK/rx" --insecure
[ ! -e "$old" ] || fail "an 8-day-old spool was kept at start (default retention 7 days)"
[ -d "$fresh" ] || fail "a fresh spool was removed at start"
grep -q '"event":"spool_removed"' "$WORK/rx.log" || fail "removal not logged"
stop_server

# While serving, with a short retention: the fresh one goes once idle long enough.
start_server "$WORK/rx" --insecure --spool-retention 2s
for _ in $(seq 100); do
	[ -e "$fresh" ] || break
	sleep 0.1
done
[ ! -e "$fresh" ] || fail "an idle spool outlived --spool-retention 2s by 8 s"
stop_server
echo "PASS: abandoned spools removed after the retention time, kept (and resumed) within it"
