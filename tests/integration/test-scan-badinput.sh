#!/bin/sh
# test-scan-badinput.sh - what cannot be scanned is reported, one
# `PATH: ERROR: reason` line on stderr each, and the scan goes on:
# unreadable files and directories, fifos, sockets, dangling symlinks,
# symlink loops, missing paths. Exit status 2 when nothing was found, 1
# when something was (found beats error). Hostile names are escaped.
# Invalid options and rule files are refused with exit status 2.
. "$(dirname "$0")/lib.sh"

cd "$tmp" || exit 1
eicar_rule test.yar
R="--no-default-rules --rules test.yar"

# error_line PATH WHAT: stderr has a line "PATH: ERROR: <reason>".
error_line() {
	if grep -F -e "$1: ERROR: " "$err" | grep -q .; then
		pass "$2"
	else
		fail "$2" "no '$1: ERROR: ...' line on stderr"
		show_last
	fi
}

# --- a directory of things that are not regular files -------------------------
mkdir bad
echo "an innocent file" >bad/clean.txt
mkfifo bad/fifo || fail "mkfifo failed"
ln -s does-not-exist bad/dangling
ln -s loop-b bad/loop-a
ln -s loop-a bad/loop-b
mkdir bad/dir
ln -s .. bad/dir/self
"$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])' bad/sock || fail "could not make a unix socket"

# `timeout 60` inside scan(): a scanner that opened the fifo would hang.
scan $R -v bad
if [ "$rc" -eq 124 ]; then
	fail "fifo, socket, symlinks: the scan finishes (did not block on the fifo)"
else
	pass "fifo, socket, symlinks: the scan finishes (did not block on the fifo)"
fi
expect_rc 2 "errors and nothing found: exit status 2"
error_line bad/fifo "fifo: 'bad/fifo: ERROR:' line"
error_line bad/sock "socket: 'bad/sock: ERROR:' line"
error_line bad/dangling "dangling symlink: 'bad/dangling: ERROR:' line"
error_line bad/loop-a "symlink loop: 'bad/loop-a: ERROR:' line"
error_line bad/loop-b "symlink loop: 'bad/loop-b: ERROR:' line"
error_line bad/dir/self "directory symlink loop dir/self -> ..: 'bad/dir/self: ERROR:' line"
expect_count "$err" ': ERROR: ' 6 "exactly 6 error lines (one per problem, none for the clean file)"
expect_line "$out" "bad/clean.txt: OK" "the clean file is still scanned (--verbose: 'bad/clean.txt: OK')"
expect_line "$out" "Scanned files: 1" "summary: 1 file scanned"
expect_line "$out" "Errors: 6" "summary: 6 errors"
expect_no_match "$out" ": ERROR: " "error lines are on stderr, not stdout"

# --- found beats error -------------------------------------------------------------
eicar >bad/eicar.com
scan $R bad
expect_rc 1 "errors and EICAR in the same directory: exit status 1 (found beats error)"
expect_line "$out" "bad/eicar.com: Test_EICAR FOUND" "errors and EICAR: EICAR still found"
error_line bad/fifo "errors and EICAR: the error lines are still printed"
rm -f bad/eicar.com

# --- missing paths ---------------------------------------------------------------------
scan $R does-not-exist
expect_rc 2 "non-existent path argument: exit status 2"
error_line does-not-exist "non-existent path argument: 'does-not-exist: ERROR:' line"
scan $R does-not-exist bad/clean.txt
expect_rc 2 "non-existent path and a clean file: exit status 2"
expect_line "$out" "Scanned files: 1" "non-existent path and a clean file: the clean file is scanned"
eicar >eicar.com
scan $R does-not-exist eicar.com
expect_rc 1 "non-existent path and EICAR: exit status 1"
scan $R bad/clean.txt/child
expect_rc 2 "a path through a regular file (ENOTDIR): exit status 2"
error_line bad/clean.txt/child "a path through a regular file: error line"

# --- unreadable file and directory ------------------------------------------------------
# chmod 000 stops root only without CAP_DAC_OVERRIDE: as root, run the scan
# as nobody (setpriv). Without a way to drop privileges, the missing-path
# checks above stand in for a failed open.
mkdir perm
echo "cannot read me" >perm/unreadable
chmod 000 perm/unreadable
mkdir perm/closed
echo "inside a closed directory" >perm/closed/inner.txt
chmod 000 perm/closed
echo "readable" >perm/readable.txt
as_user=
if [ "$(id -u)" -eq 0 ]; then
	if command -v setpriv >/dev/null 2>&1 &&
		setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
		as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
		chmod 755 "$tmp"
		chmod 644 test.yar
	fi
fi
# nobody may not be able to reach the build tree (a private checkout):
# run a copy of the program from the test's own directory.
cp "$VIGIL" ./vigil-copy && chmod 755 ./vigil-copy
if [ "$(id -u)" -ne 0 ] || [ -n "$as_user" ]; then
	$as_user timeout 120 ./vigil-copy scan $R -v perm >"$out" 2>"$err"
	rc=$?
	expect_rc 2 "unreadable file and directory: exit status 2"
	error_line perm/unreadable "unreadable file (mode 000): 'perm/unreadable: ERROR:' line"
	if grep -F "perm/unreadable: ERROR: " "$err" | grep -qi "permission denied"; then
		pass "unreadable file: the reason is 'Permission denied'"
	else
		fail "unreadable file: the reason is 'Permission denied'"
		show_last
	fi
	error_line perm/closed "unreadable directory (mode 000): 'perm/closed: ERROR:' line"
	expect_line "$out" "perm/readable.txt: OK" "unreadable neighbours: the readable file is scanned"
else
	echo "# running as root without setpriv: unreadable-file checks replaced by the missing-path ones"
fi
chmod 755 perm/closed

# --- hostile names are escaped -------------------------------------------------------------
mkdir names
nl_name=$(printf 'names/evil\nname\033[31m.com')
eicar >"$nl_name"
scan $R names
expect_rc 1 "EICAR named with a newline and ESC: exit status 1"
expect_count "$out" 'FOUND$' 1 "name with a newline: exactly one FOUND line (the newline is escaped)"
expect_line "$out" 'names/evil\x0aname\x1b[31m.com: Test_EICAR FOUND' \
	"name with a newline and ESC: printed as 'names/evil\\x0aname\\x1b[31m.com'"
esc=$(printf '\033')
expect_no_match "$out" "$esc" "no raw ESC byte in stdout"
# A literal backslash is escaped too, so "\x0a" in output is never ambiguous.
rm -f "$nl_name"
eicar >'names/back\x0aslash.com'
scan $R names
expect_line "$out" 'names/back\x5cx0aslash.com: Test_EICAR FOUND' \
	"a literal backslash in a name is printed as \\x5c"
rm -f 'names/back\x0aslash.com'
# The same name in an error line on stderr.
ln -s nowhere "$(printf 'names/dangling\nlink\033[2J')"
scan $R names
expect_line "$err" 'names/dangling\x0alink\x1b[2J: ERROR: dangling symbolic link' \
	"error line for a hostile name: escaped on one line"
expect_no_match "$err" "$esc" "no raw ESC byte in stderr"
rm -f "$(printf 'names/dangling\nlink\033[2J')"
# ...and as an archive member name.
"$PYTHON" -c '
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("in\nside\x1b]0;title\x07.com", sys.stdin.buffer.read())
' names2.zip <eicar.com || fail "could not build names2.zip"
scan $R names2.zip
expect_count "$out" 'FOUND$' 1 "member named with newline/ESC/BEL: exactly one FOUND line"
expect_line "$out" 'names2.zip!in\x0aside\x1b]0;title\x07.com: Test_EICAR FOUND' \
	"member named with newline/ESC/BEL: escaped after '!'"
expect_no_match "$out" "$esc" "member name: no raw ESC byte in stdout"

# --- invalid options -----------------------------------------------------------------------
bad_option() { # WHAT ARGS...
	what=$1
	shift
	scan $R "$@" eicar.com
	expect_rc 2 "$what: exit status 2"
	if [ -s "$err" ]; then
		pass "$what: a message on stderr"
	else
		fail "$what: a message on stderr"
	fi
	expect_no_match "$out" "FOUND" "$what: nothing scanned"
}
bad_option "-j 0" -j 0
bad_option "-j abc" -j abc
bad_option "-j 1000 (above 256)" -j 1000
bad_option "--max-recursion 0" --max-recursion 0
bad_option "--max-recursion 65 (above the ceiling 64)" --max-recursion 65
bad_option "--max-files -1" --max-files -1
bad_option "--max-filesize 10k" --max-filesize 10k
bad_option "an unknown option" --no-such-option
scan $R --max-recursion 0 eicar.com
if grep -q "max-recursion" "$err"; then
	pass "--max-recursion 0: the message names the option"
else
	fail "--max-recursion 0: the message names the option"
	show_last
fi

# --- a YARA rule file with a syntax error --------------------------------------------------
printf 'rule Broken\n{\n    strings:\n        $a = "x"\n    condition:\n        $a and\n}\n' >broken.yar
scan --no-default-rules --rules broken.yar eicar.com
expect_rc 2 "YARA syntax error: exit status 2 (an error, nothing found)"
if grep -Eq '^vigil: rules: broken\.yar: quarantined: line (6|7): ' "$err"; then
	pass "YARA syntax error: the file is quarantined, named with its line"
else
	fail "YARA syntax error: the file is quarantined, named with its line"
	show_last
fi
expect_no_match "$out" "FOUND" "YARA syntax error: nothing found"
# The broken file is left out; the good one next to it still works.
scan --no-default-rules --rules test.yar --rules broken.yar eicar.com
expect_rc 1 "a good and a broken rule file: the good rule still finds EICAR"
expect_count "$err" '^vigil: rules: broken\.yar: quarantined: ' 1 \
	"a good and a broken rule file: the broken one is named on stderr"
scan --no-default-rules --rules no-such-rules.yar eicar.com
expect_rc 2 "a missing rule file: exit status 2"
if grep -Fq "no-such-rules.yar" "$err"; then
	pass "a missing rule file: the message names it"
else
	fail "a missing rule file: the message names it"
	show_last
fi

finish
