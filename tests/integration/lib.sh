# lib.sh - shared helpers for the integration tests (vigil scan, vigild).
#
# Sourced (POSIX sh, dash) by every tests/integration/test-*.sh script:
#
#   . "${VIGIL_SOURCE_DIR:?}/tests/integration/lib.sh"
#
# Meson sets VIGIL (the vigil binary) and VIGIL_SOURCE_DIR (the repository
# root). Sourcing this file makes a private temporary directory $tmp that
# is removed on exit, and defines:
#
#   pass WHAT / fail WHAT [DETAIL...]   record one check ("ok - WHAT" or
#                                       "not ok - WHAT", DETAIL indented)
#   scan ARGS...        run `vigil scan ARGS` (under timeout), stdout in
#                       $out, stderr in $err, exit status in $rc
#   expect_rc N WHAT    check that the last scan exited with N
#   expect_line FILE LINE WHAT     FILE holds exactly LINE (a whole line)
#   expect_no_match FILE ERE WHAT  no line of FILE matches ERE
#   expect_count FILE ERE N WHAT   exactly N lines of FILE match ERE
#   jcheck FILE EXPR WHAT   a Python expression over the JSON Lines of FILE
#                       (rs: all reports, r: the first one) is true
#   jeval FILE EXPR     print a Python expression over the same
#   eicar               write the EICAR test string to stdout
#   write_rule FILE NAME STRING [SCORE]   a YARA rule matching STRING
#   node_start NAME [ENV...] -- ARGS...   start vigild on an ephemeral port
#   log_node_conf [INI]  write node.conf: region eu, site zrh1, one worker,
#                       the log's origin vigil.example/eu, then INI
#   start_node          vigild with node.conf on $tmp/var: $pid, $base
#   finish              print "N passed, M failed" and exit accordingly
#
# The tests never exit 77 (skip): a missing tool is a failed check.

: "${VIGIL:?VIGIL must be the path of the vigil binary}"
: "${VIGIL_SOURCE_DIR:?VIGIL_SOURCE_DIR must be the repository root}"

# The tests decide which rules load; the caller's environment does not.
unset VIGIL_RULES_DIR VIGIL_TMPDIR
LC_ALL=C
export LC_ALL

if [ -x /usr/bin/python3 ]; then
	PYTHON=/usr/bin/python3
else
	PYTHON=python3
fi

n_pass=0
n_fail=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-it.XXXXXXXX") || {
	echo "not ok - cannot create a temporary directory"
	echo "0 passed, 1 failed"
	exit 1
}

# Nothing a test runs may read or write the real home directory (vigil
# keeps its enrolment and its log state under $HOME/.config/vigil).
HOME=$tmp/home
export HOME
mkdir -p "$HOME"

cleanup() {
	# chmod first: a test may leave a directory of mode 000 behind.
	chmod -R u+rwX "$tmp" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

out=$tmp/.out
err=$tmp/.err
rc=0

pass() {
	n_pass=$((n_pass + 1))
	printf 'ok - %s\n' "$1"
}

fail() {
	n_fail=$((n_fail + 1))
	printf 'not ok - %s\n' "$1"
	shift
	for line in "$@"; do
		printf '#   %s\n' "$line"
	done
}

# Shows the tail of the last scan's output, for a failed check.
show_last() {
	echo "#   exit status: $rc"
	if [ -s "$out" ]; then
		echo "#   stdout:"
		head -c 2000 "$out" | sed 's/^/#     /'
		echo
	fi
	if [ -s "$err" ]; then
		echo "#   stderr:"
		head -c 2000 "$err" | sed 's/^/#     /'
		echo
	fi
}

scan() {
	timeout 120 "$VIGIL" scan "$@" >"$out" 2>"$err"
	rc=$?
	if [ "$rc" -eq 124 ]; then
		echo "# vigil scan $* timed out after 120 s"
	fi
	return 0
}

expect_rc() {
	if [ "$rc" -eq "$1" ]; then
		pass "$2"
	else
		fail "$2" "expected exit status $1, got $rc"
		show_last
	fi
}

expect_line() {
	if grep -Fxq -e "$2" "$1"; then
		pass "$3"
	else
		fail "$3" "no line '$2' in $(basename "$1")"
		show_last
	fi
}

expect_no_match() {
	if grep -Eq -e "$2" "$1"; then
		fail "$3" "unexpected line matching '$2':"
		grep -E -e "$2" "$1" | head -5 | sed 's/^/#     /'
	else
		pass "$3"
	fi
}

expect_count() {
	n=$(grep -Ec -e "$2" "$1")
	if [ "$n" -eq "$3" ]; then
		pass "$4"
	else
		fail "$4" "expected $3 lines matching '$2', got $n"
		show_last
	fi
}

# The Python prelude for jcheck/jeval: rs is the list of reports in the
# JSON Lines file argv[1], r the first (or None), and a few helpers.
_jprelude='
import json, re, sys
rs = []
with open(sys.argv[1], "rb") as f:
    for line in f.read().decode("utf-8").split("\n"):
        if line.strip():
            rs.append(json.loads(line))
r = rs[0] if rs else None
def by_path(p):
    return [x for x in rs if x["path"] == p][0]
def objs_named(rep, n):
    return [o for o in rep["objects"] if o["name"] == n]
def match_names(rep):
    return [m["name"] for o in rep["objects"] for m in o["matches"]]
'

jcheck() {
	if "$PYTHON" -c "$_jprelude
try:
    ok = bool($2)
except Exception as e:
    print('#   python: %s: %s' % (type(e).__name__, e))
    ok = False
sys.exit(0 if ok else 1)" "$1"; then
		pass "$3"
	else
		fail "$3" "false: $2"
		show_last
	fi
}

jeval() {
	"$PYTHON" -c "$_jprelude
print($2)" "$1"
}

# node_start NAME [ENV=VALUE...] -- [VIGILD ARGS...]: starts the real
# vigild on an ephemeral loopback port, stdout in NAME.out and stderr
# appended to NAME.err, and waits until it says where it listens. Sets
# $node_pid and $node_base (http://127.0.0.1:PORT); fails if it never does.
# If $node_wrap is set, vigild runs under that command (which must exec
# it, as `prlimit --nofile=80 --` does: $node_pid is vigild's).
node_start() {
	_name=$1
	shift
	_env=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		_env="$_env $1"
		shift
	done
	[ $# -gt 0 ] && shift
	# Emptied here, not by the background job's redirection: the loop
	# below must never read the address of a node that ran before.
	: >"$_name.out"
	# shellcheck disable=SC2086
	env $_env ${node_wrap:-} "$VIGILD" --listen 127.0.0.1:0 "$@" >>"$_name.out" 2>>"$_name.err" &
	node_pid=$!
	node_base=
	_i=0
	while [ $_i -lt 200 ] && [ -z "$node_base" ]; do
		node_base=$(sed -n 's/^vigild listening on \(http:[^ ]*\).*/\1/p' "$_name.out")
		kill -0 $node_pid 2>/dev/null || break
		sleep 0.1
		_i=$((_i + 1))
	done
	[ -n "$node_base" ]
}

log_node_conf() {
	printf '[node]\nregion = eu\nsite = zrh1\nworkers = 1\n[log]\norigin = vigil.example/eu\n%s' \
		"${1:-}" >node.conf
}

start_node() {
	node_start vigild -- -c node.conf --data "$tmp/var" || return 1
	pid=$node_pid
	base=$node_base
}

# EICAR from two halves: this file never holds the whole string.
eicar() {
	printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-' \
		'ANTIVIRUS-TEST-FILE!$H+H*'
}

# write_rule FILE NAME STRING [SCORE]: appends a rule NAME to FILE that
# matches the text STRING (no quotes or backslashes in it), with meta
# score SCORE (default 100).
write_rule() {
	cat >>"$1" <<EOF
rule $2
{
    meta:
        id = "TEST-$2"
        category = "test"
        description = "integration test rule $2"
        score = ${4:-100}
    strings:
        \$s = "$3"
    condition:
        \$s
}
EOF
}

# The EICAR rule most tests use, and the options that load only it.
eicar_rule() {
	write_rule "$1" Test_EICAR "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
}

finish() {
	echo "$n_pass passed, $n_fail failed"
	if [ "$n_fail" -eq 0 ] && [ "$n_pass" -gt 0 ]; then
		exit 0
	fi
	exit 1
}
