#!/bin/sh
# test-node-keys.sh - the parsing process holds no key: on the real vigild,
# after a submission, a sample read back and log appends (so that every
# key has been used), no byte string of the log key's seed, the sample
# key or the online release key's seed (nor their files' text) is in any
# mapping of vigild's memory, while each is in the key holder's (which
# proves that the scan finds them where they are). The holder is
# confined (seccomp, no_new_privs, four descriptors), a new
# log's default origin is vigil.local/<region>/<key ID>, and vigild exits
# non-zero, saying so, when the holder dies.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL:?VIGIL must be the path of the vigil binary}"
cd "$tmp" || exit 1

# No origin configured: the default one.
printf '[node]\nregion = eu\nsite = zrh1\nworkers = 1\n' >node.conf

start_node || { fail "vigild starts" "$(cat vigild.err)"; finish; }
tok=var/operator.token
size() { curl -s "$base/log/checkpoint" | sed -n 2p; }

# --- the default origin -----------------------------------------------------------------
key=$(curl -s "$base/log/key")
origin=$(curl -s "$base/log/checkpoint" | sed -n 1p)
want=$("$PYTHON" -c '
import base64, hashlib, sys
raw = base64.b64decode(sys.argv[1].split("+", 2)[2])
print("vigil.local/eu/" + hashlib.sha256(raw[1:]).hexdigest()[:16])' "$key")
[ "$origin" = "$want" ] && [ "${key%%+*}" = "$origin" ] &&
	pass "a new log's origin is vigil.local/<region>/<first 16 hex of SHA-256 of its key>, and names its key" ||
	fail "a new log's origin is vigil.local/<region>/<first 16 hex of SHA-256 of its key>, and names its key" "$origin / $want / $key"
grep -qxF "origin: $origin" var/log.settings &&
	pass "log.settings records the origin" ||
	fail "log.settings records the origin" "$(cat var/log.settings)"

# --- use every key ----------------------------------------------------------------------
t=$(curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
{
	printf 'keys test sample\n'
	head -c 100000 /dev/urandom
} >sample.bin
sha=$(sha256sum sample.bin | cut -d' ' -f1)
code=$(curl -s -o "$out" -w '%{http_code}' -X POST -H "Authorization: Bearer $t" \
	--data-binary @sample.bin "$base/v1/submissions")
[ "$code" = 202 ] && pass "a sample is submitted (sealed through the key holder)" ||
	fail "a sample is submitted (sealed through the key holder)" "$code $(cat "$out")"
n0=$(size)
"$VIGIL" admin --server "$base" --token-file $tok sample-get "$sha" \
	--reason 'key holder test' --out got.bin >/dev/null 2>"$err" && cmp -s sample.bin got.bin &&
	[ "$(size)" -gt "$n0" ] &&
	pass "the sample reads back and the access is logged (opened and signed through the key holder)" ||
	fail "the sample reads back and the access is logged (opened and signed through the key holder)" "$(cat "$err")"

# --- the memory of both processes -------------------------------------------------------
kpid=$(sed -n 's/.*keyholder_pid=\([0-9]*\).*/\1/p' vigild.err | tail -1)
kids=$(cat /proc/$pid/task/*/children 2>/dev/null)
if [ -n "$kpid" ] && printf ' %s ' $kids | grep -q " $kpid "; then
	pass "the key holder is a child of vigild, and logs its pid"
else
	fail "the key holder is a child of vigild, and logs its pid" "holder '$kpid', children '$kids'"
fi

# scan PID: prints, for each secret, "NAME found" or "NAME absent".
cat >scan.py <<'EOF'
import base64, re, sys

def secrets(d):
    s = {}
    text = open(d + "/log.key").read().strip()
    b64 = text.split("+", 4)[4]
    s["log key seed"] = base64.b64decode(b64)[1:]
    s["log key file text"] = b64.encode()
    s["sample key"] = open(d + "/sample.key", "rb").read()
    line = open(d + "/release-online.key").read().split()
    s["release key seed"] = bytes.fromhex(line[2])
    s["release key file text"] = line[2].encode()
    for k, v in s.items():
        assert len(v) >= 32, k
    return s

def scan(pid, s):
    found = {k: False for k in s}
    with open("/proc/%s/maps" % pid) as m, open("/proc/%s/mem" % pid, "rb", 0) as mem:
        for line in m:
            a, b = [int(x, 16) for x in line.split()[0].split("-")]
            # Every readable mapping but the kernel's, and but a
            # sanitizer's shadow memory (terabytes reserved, where no
            # key can be: reading it would fault it all in).
            if (not line.split()[1].startswith("r") or "[vsyscall]" in line
                    or "[vvar]" in line or b - a > (4 << 30)):
                continue
            at = a
            tail = b""
            while at < b:
                n = min(b - at, 16 << 20)
                try:
                    mem.seek(at)
                    chunk = mem.read(n)
                except OSError:
                    break
                buf = tail + chunk
                for k, v in s.items():
                    if not found[k] and v in buf:
                        found[k] = True
                tail = buf[-80:]
                at += n
    return found

s = secrets(sys.argv[2])
for k, v in scan(sys.argv[1], s).items():
    print("%s %s" % (k, "found" if v else "absent"))
EOF
"$PYTHON" scan.py "$pid" var >vigild.scan 2>"$err" &&
	[ "$(grep -c ' absent$' vigild.scan)" = 5 ] &&
	pass "vigild's memory holds no key: not the log key, the sample key or the release key (nor their files)" ||
	fail "vigild's memory holds no key: not the log key, the sample key or the release key (nor their files)" "$(cat vigild.scan "$err")"
"$PYTHON" scan.py "$kpid" var >holder.scan 2>"$err" &&
	grep -qx 'log key seed found' holder.scan && grep -qx 'sample key found' holder.scan &&
	grep -qx 'release key seed found' holder.scan &&
	pass "the same scan finds every key in the key holder's memory" ||
	fail "the same scan finds every key in the key holder's memory" "$(cat holder.scan "$err")"

# --- the holder's confinement -----------------------------------------------------------
st=/proc/$kpid/status
grep -q '^Seccomp:[[:space:]]*2' $st && grep -q '^NoNewPrivs:[[:space:]]*1' $st &&
	pass "the key holder runs under a seccomp filter with no_new_privs" ||
	fail "the key holder runs under a seccomp filter with no_new_privs" "$(grep -E 'Seccomp|NoNewPrivs' $st)"
nfd=$(ls /proc/$kpid/fd 2>/dev/null | wc -l)
[ "$nfd" = 4 ] && pass "the key holder keeps four descriptors (stdin, stdout, stderr, its socket)" ||
	fail "the key holder keeps four descriptors (stdin, stdout, stderr, its socket)" "$(ls -l /proc/$kpid/fd)"

# --- the holder dies: so does vigild, saying so -----------------------------------------
kill -KILL "$kpid"
i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
wait $pid
rc=$?
[ $rc -ne 0 ] && grep -q 'event=keyholder_died' vigild.err &&
	pass "when the key holder dies, vigild logs keyholder_died and exits non-zero" ||
	fail "when the key holder dies, vigild logs keyholder_died and exits non-zero" "rc $rc $(tail -3 vigild.err)"

# --- a restart keeps the origin ---------------------------------------------------------
start_node || { fail "vigild restarts" "$(cat vigild.err)"; finish; }
[ "$(curl -s "$base/log/checkpoint" | sed -n 1p)" = "$origin" ] &&
	pass "a restart keeps the log's origin" || fail "a restart keeps the log's origin"
kill -TERM $pid
wait $pid
finish
