#!/bin/sh
# test-node-workers.sh - what an analysis worker of the real vigild can
# reach, seen from outside while it holds a job: its own user (vigil-worker
# when the node is root) with no capabilities and an empty bounding set,
# an empty environment, no descriptor of the node's but its socket, its
# sample and its tmpdir; its output goes through the node's log, escaped,
# cut and rate-limited; and a node on a kernel without Landlock refuses to
# start workers unless the configuration allows it.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL_WORKER:?VIGIL_WORKER must be the path of vigil-worker}"
cd "$tmp" || exit 1

cat >node.conf <<CONF
[node]
workers = 1
[limits]
max_scan_ms = 20000
CONF
# The wrapper's output is the worker's: a line with bytes a log must not
# carry as they are, a line far over the limit, and a flood.
cat >worker-wrapper <<WRAP
#!/bin/sh
printf 'hostile \\001\\033[2J "quoted" \\\\ end\\n' >&2
head -c 5000 /dev/zero | tr '\\0' x >&2
printf '\\n' >&2
i=0
while [ \$i -lt 400 ]; do echo "flood line \$i"; i=\$((i + 1)); done
sleep 1.2 # the worker's own lines come in the next second
exec "$VIGIL_WORKER" --self-test-hang "\$@"
WRAP
chmod +x worker-wrapper
node_start vigild "VIGIL_WORKER=$tmp/worker-wrapper" "SECRET_OF_THE_NODE=s3cr3t" -- \
	-c node.conf --data "$tmp/var" ||
	{ fail "vigild starts" "$(tail -5 vigild.err)"; finish; }
pass "vigild starts"
base=$node_base
pid=$node_pid

tok=$(curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
printf 'VIGIL-SELF-TEST-HANG %s\n' "$(date +%s%N)" >hang.bin
curl -s -o /dev/null -H "Authorization: Bearer $tok" --data-binary @hang.bin \
	"$base/v1/submissions"

# The worker, once it holds the sample.
wpid=
i=0
while [ $i -lt 200 ]; do
	wpid=$(sed -n 's/.*event=worker_started slot=0 pid=\([0-9]*\).*/\1/p' vigild.err | tail -1)
	if [ -n "$wpid" ] && ls -l "/proc/$wpid/fd" 2>/dev/null | grep -q 'memfd:vigil-sample'; then
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
if [ -z "$wpid" ] || ! [ -d "/proc/$wpid" ]; then
	fail "a worker holds the sample" "$(tail -5 vigild.err)"
	finish
fi
pass "a worker holds the sample (pid $wpid)"

st=/proc/$wpid/status
if [ "$(id -u)" = 0 ]; then
	wu=$(id -u vigil-worker 2>/dev/null)
	wg=$(id -g vigil-worker 2>/dev/null)
	[ -n "$wu" ] && [ "$wu" != 0 ] &&
		pass "the node (root) made sure the user vigil-worker exists" ||
		fail "the node (root) made sure the user vigil-worker exists"
	grep -qx "Uid:	$wu	$wu	$wu	$wu" "$st" &&
		pass "the worker's real, effective, saved and fs uid are vigil-worker's" ||
		fail "the worker's real, effective, saved and fs uid are vigil-worker's" "$(grep Uid "$st")"
	grep -qx "Gid:	$wg	$wg	$wg	$wg" "$st" &&
		pass "the worker's gids are vigil-worker's" ||
		fail "the worker's gids are vigil-worker's" "$(grep Gid "$st")"
	grep -qx "Groups:[[:space:]]*" "$st" &&
		pass "the worker has no supplementary groups" ||
		fail "the worker has no supplementary groups" "$(grep Groups "$st")"
	grep -qx "CapBnd:	0000000000000000" "$st" &&
		pass "the worker's capability bounding set is empty" ||
		fail "the worker's capability bounding set is empty" "$(grep CapBnd "$st")"
	owner=$(stat -c '%u:%g %a' "$tmp/var/tmp/slot-0")
	[ "$owner" = "$wu:$wg 700" ] &&
		pass "the worker's tmpdir is vigil-worker's alone (0700)" ||
		fail "the worker's tmpdir is vigil-worker's alone (0700)" "$owner"
else
	me=$(id -u)
	grep -qx "Uid:	$me	$me	$me	$me" "$st" &&
		pass "not root: the worker runs as the node's user" ||
		fail "not root: the worker runs as the node's user" "$(grep Uid "$st")"
fi
for c in CapInh CapPrm CapEff CapAmb; do
	grep -qx "$c:	0000000000000000" "$st" &&
		pass "the worker's $c is empty" ||
		fail "the worker's $c is empty" "$(grep "$c" "$st")"
done

# The wrapper's shell adds PWD; the node gives nothing (checked on a
# worker started without a wrapper, below).
# A sanitizer build passes its own *SAN_OPTIONS on (workerproc.c) and
# nothing else.
tr '\0' '\n' <"/proc/$wpid/environ" |
	grep -Ev '^(PWD|ASAN_OPTIONS|LSAN_OPTIONS|UBSAN_OPTIONS)=' >environ
[ ! -s environ ] && pass "the worker (through a shell) gets nothing of the node's environment" ||
	fail "the worker (through a shell) gets nothing of the node's environment" "$(head -c 300 environ)"

# Its descriptors: 0 /dev/null, 1 and 2 one pipe, 3 its socket, the
# sample's memfd, its tmpdir; nothing else.
for fd in /proc/$wpid/fd/*; do
	printf '%s %s\n' "${fd##*/}" "$(readlink "$fd")"
done | sort -n >fds
tdir=$(cd "$tmp/var/tmp/slot-0" && pwd -P)
"$PYTHON" - fds "$tdir" <<'PY' >fds.check
import re, sys
fds = dict(l.rstrip("\n").split(" ", 1) for l in open(sys.argv[1]) if l.strip())
bad = []
if fds.pop("0", None) != "/dev/null": bad.append("0 is not /dev/null")
o, e = fds.pop("1", ""), fds.pop("2", "")
if not o.startswith("pipe:") or o != e: bad.append("1 and 2 are not one pipe: %r %r" % (o, e))
if not fds.pop("3", "").startswith("socket:"): bad.append("3 is not a socket")
mem = [k for k, v in fds.items() if v.startswith("/memfd:vigil-sample")]
if len(mem) != 1: bad.append("not one sample memfd")
for k in mem: fds.pop(k)
d = [k for k, v in fds.items() if v == sys.argv[2]]
for k in d[:1]: fds.pop(k)
if fds: bad.append("more: %r" % fds)
print("; ".join(bad) if bad else "ok")
PY
[ "$(cat fds.check)" = ok ] &&
	pass "the worker holds only /dev/null, its output pipe, its socket, its sample and its tmpdir" ||
	fail "the worker holds only /dev/null, its output pipe, its socket, its sample and its tmpdir" \
		"$(cat fds.check)" "$(tr '\n' ';' <fds)"

# Its output, in the node's log under its name, never as it wrote it.
sleep 1.2
expect_count vigild.err "event=worker_output worker=slot-0 pid=$wpid line=\".*event=worker_ready" 1 \
	"the worker's own log line reaches the node's log, named worker=slot-0 pid=$wpid"
expect_no_match vigild.err '^ts=[^ ]* level=[a-z]* func=worker_main event=worker_ready' \
	"no line of the worker's is in the node's log as it was written"
expect_count vigild.err 'event=worker_output worker=slot-0 .*line="hostile \\x01\\x1b\[2J \\"quoted\\" \\\\ end"$' 1 \
	"control bytes, quotes and backslashes of the worker's output are escaped"
expect_count vigild.err 'event=worker_output worker=slot-0 .*line="x{400}" cut=1$' 1 \
	"a line of 5000 bytes is cut at 400, and says so"
expect_no_match vigild.err 'x{401}' "nothing of the long line past 400 bytes is logged"
# The flood may straddle a second: dropped once or twice, never logged
# whole.
n=$(grep -c 'event=worker_output worker=slot-0 .*line="flood line' vigild.err)
grep -Eq 'event=worker_output_dropped worker=slot-0 .*lines=[0-9]+' vigild.err && [ "$n" -le 200 ] &&
	pass "a flood of lines is cut at 100 a second, and the rest counted" ||
	fail "a flood of lines is cut at 100 a second, and the rest counted" "$n flood lines logged"
expect_no_match vigild.err 's3cr3t' "nothing of the node's environment reaches the log"

# The worker still hangs on its sample; the node is killed outright. The
# worker must not outlive it (it would spin until its CPU backstop).
kill -9 "$pid"
wait "$pid" 2>/dev/null
i=0
while [ -d "/proc/$wpid" ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
if [ -d "/proc/$wpid" ]; then
	fail "a worker hanging on a sample dies with a node killed by SIGKILL" \
		"pid $wpid: $(cat "/proc/$wpid/status" 2>/dev/null | head -3)"
	kill -9 "$wpid" 2>/dev/null
else
	pass "a worker hanging on a sample dies with a node killed by SIGKILL"
fi

# --- A kernel without Landlock ---------------------------------------------------------------
cat >node.conf <<CONF
[node]
workers = 1
CONF
: >vigild2.err
if node_start vigild2 "VIGIL_TEST_NO_LANDLOCK=1" -- -c node.conf --data "$tmp/var2"; then
	fail "without Landlock, vigild refuses to start workers" "it started"
	kill "$node_pid"
	wait "$node_pid" 2>/dev/null
else
	grep -q 'allow_without_landlock' vigild2.err &&
		pass "without Landlock, vigild refuses to start workers, and names the option" ||
		fail "without Landlock, vigild refuses to start workers, and names the option" "$(tail -3 vigild2.err)"
fi

printf '[sandbox]\nallow_without_landlock = true\n' >>node.conf
node_start vigild3 "VIGIL_TEST_NO_LANDLOCK=1" "SECRET_OF_THE_NODE=s3cr3t" -- \
	-c node.conf --data "$tmp/var3" ||
	{ fail "allowed, vigild starts without Landlock" "$(tail -5 vigild3.err)"; finish; }
pass "allowed, vigild starts without Landlock"
base=$node_base
tok=$(curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
eicar >eicar.com
sid=$(curl -s -H "Authorization: Bearer $tok" --data-binary @eicar.com "$base/v1/submissions" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
v=$(curl -s -H "Authorization: Bearer $tok" "$base/v1/submissions/$sid?wait=60" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin).get("verdict"))')
[ "$v" = malicious ] && pass "allowed, workers analyse without Landlock" ||
	fail "allowed, workers analyse without Landlock" "verdict $v" "$(tail -5 vigild3.err)"
# The worker waits for its next job.
wpid=$(sed -n 's/.*event=worker_started slot=0 pid=\([0-9]*\).*/\1/p' vigild3.err | tail -1)
n=$(tr '\0' '\n' <"/proc/$wpid/environ" |
	grep -Ev '^(ASAN_OPTIONS|LSAN_OPTIONS|UBSAN_OPTIONS)=' | wc -c)
[ -n "$wpid" ] && [ "$n" = 0 ] && pass "the worker's environment is empty" ||
	fail "the worker's environment is empty" "pid $wpid: $(tr '\0' ' ' <"/proc/$wpid/environ" | head -c 300)"
expect_count vigild3.err 'level=warn .*event=worker_without_landlock worker=slot-0' 1 \
	"allowed, the start of a worker without Landlock is a warning"
grep -q 'event=worker_output .*sandbox_landlock_unavailable' vigild3.err &&
	pass "the worker says it runs without Landlock" ||
	fail "the worker says it runs without Landlock" "$(grep worker_output vigild3.err | tail -3)"
kill "$node_pid"
wait "$node_pid" 2>/dev/null

finish
