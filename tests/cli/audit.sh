#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# tests/cli/audit.sh - `radpipe audit verify` on logs written by an independent writer of
# the format in docs/AUDIT.md (Python's hashlib, not our code): an intact log passes with
# exit 0; an edited, a deleted and a reordered line each exit 1 naming the line where
# the chain breaks; an unreadable log exits 3; a bad command line exits 2.
# Usage: audit.sh RADPIPE
set -u
rp=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
fail=0
python3 - "$work" <<'PY' || exit 1
import hashlib, json, sys
work = sys.argv[1]
def chain(n):
    lines, prev = [], "0" * 64
    for i in range(1, n + 1):
        rec = {"seq": i, "ts": "2026-12-02T16:20:%02d.000Z" % i, "event": "received",
               "sop": "1.2.826.0.1.3680043.2.1125.%d" % i, "study": "1.2.3",
               "peer": "CT01@10.0.0.5:104", "sha256": hashlib.sha256(b"%d" % i).hexdigest()}
        line = json.dumps(rec, separators=(",", ":"))[:-1] + ',"prev":"%s"}' % prev
        prev = hashlib.sha256(line.encode()).hexdigest()
        lines.append(line)
    return lines
def write(name, lines):
    with open("%s/%s.log" % (work, name), "w") as f:
        f.write("".join(l + "\n" for l in lines))
good = chain(10)
write("good", good)
edited = list(good); edited[3] = edited[3].replace('"received"', '"deleted!"')
write("edited", edited)
write("deleted", good[:5] + good[6:])
write("reordered", good[:2] + [good[3], good[2]] + good[4:])
PY
check() { # name, expected exit, expected stderr pattern (or -), args...
	name=$1; want=$2; pat=$3; shift 3
	"$rp" audit verify "$@" >"$work/out" 2>"$work/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL: $name: exit $got, expected $want: $(cat "$work/out" "$work/err")"
		fail=$((fail + 1))
	elif [ "$pat" != - ] && ! grep -q -- "$pat" "$work/err"; then
		echo "FAIL: $name: no '$pat' in: $(cat "$work/err")"
		fail=$((fail + 1))
	fi
}
check intact 0 - "$work/good.log"
grep -q "10 lines, chain intact; last seq 10" "$work/out" || { echo "FAIL: summary: $(cat "$work/out")"; fail=$((fail + 1)); }
check edited 1 "edited.log:5: does not follow line 4" "$work/edited.log"
check deleted 1 "deleted.log:6: does not follow line 5" "$work/deleted.log"
grep -q "deleted.log:6: sequence 7 after 5" "$work/err" || { echo "FAIL: deleted: no sequence gap: $(cat "$work/err")"; fail=$((fail + 1)); }
check reordered 1 "reordered.log:3: does not follow line 2" "$work/reordered.log"
check "intact and broken" 1 "edited.log:5" "$work/good.log" "$work/edited.log"
check missing 3 "No such file" "$work/absent.log"
check usage 2 - 
"$rp" audit frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: unknown audit subcommand not exit 2"; fail=$((fail + 1)); }
[ "$fail" -eq 0 ] && echo "PASS: audit verify"
exit "$fail"
