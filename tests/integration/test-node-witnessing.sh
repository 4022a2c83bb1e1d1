#!/bin/sh
# test-node-witnessing.sh - vigild asking a real `vigil witness` to cosign
# its checkpoints: the cosigned checkpoint is served, a witness that knows
# more answers 409 and the node catches up, and a witness that is down
# costs only its cosignature.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL:?VIGIL must be the path of the vigil binary}"
cd "$tmp" || exit 1

printf '[node]\nworkers = 1\n[log]\norigin = vigil.example/eu\n' >plain.conf
node_start vigild -- -c plain.conf --data "$tmp/var" || { fail "vigild starts" "$(cat vigild.err)"; finish; }
logkey=$(curl -s "$node_base/log/key")
kill -TERM $node_pid
wait $node_pid

# start_witness: a witness that knows the node's log; sets $wpid, $wurl, $wkey.
start_witness() {
	: >witness.out
	"$VIGIL" witness --listen 127.0.0.1:0 --state "$tmp/wstate" --key "$tmp/witness.key" \
		--name witness.example/w1 --log "$logkey" >>witness.out 2>>witness.err &
	wpid=$!
	i=0
	until grep -q 'listening on' witness.out; do
		i=$((i + 1))
		[ $i -lt 100 ] || return 1
		sleep 0.1
	done
	wurl=$(sed -n 's/^vigil witness listening on \(http:[^ ]*\).*/\1/p' witness.out)
	wkey=$(sed -n 's/^witness key: //p' witness.out)
}

start_witness || { fail "vigil witness starts" "$(cat witness.err)"; finish; }
pass "vigil witness starts ($wurl)"
printf '[node]\nworkers = 1\n[log]\norigin = vigil.example/eu\n[witnesses]\nw1 = %s %s\n' \
	"$wkey" "$wurl" >node.conf
node_start vigild -- -c node.conf --data "$tmp/var" || { fail "vigild starts with a witness" "$(cat vigild.err)"; finish; }
pid=$node_pid
base=$node_base
pass "vigild starts with a witness configured"
curl -s "$base/log/tile/entries/000.p/2" >bundle
grep -qa '^type witness-set-change$' bundle && grep -qaF "w1 $wkey $wurl" bundle &&
	pass "configuring a witness appends a witness-set-change entry naming it" ||
	fail "configuring a witness appends a witness-set-change entry naming it" "$(cat bundle)"

# cosigned SIZE: waits (up to 10 s) for /log/checkpoint of that size with
# the witness's cosignature line.
cosigned() {
	i=0
	while [ $i -lt 100 ]; do
		curl -s "$base/log/checkpoint" >cp.txt
		if [ "$(sed -n 2p cp.txt)" = "$1" ] && grep -q '^— witness.example/w1 ' cp.txt; then
			return 0
		fi
		i=$((i + 1))
		sleep 0.1
	done
	return 1
}
cosigned 2 && grep -q '^— vigil.example/eu ' cp.txt &&
	pass "the first checkpoint is served with the log's signature and the witness's cosignature" ||
	fail "the first checkpoint is served with the log's signature and the witness's cosignature" "$(cat cp.txt; tail -5 vigild.err)"
echo "first statement" >s1.txt
"$VIGIL" admin --server "$base" --token-file var/operator.token log-append --type statement s1.txt >/dev/null
cosigned 3 && pass "a new checkpoint is cosigned too (the witness checked the consistency proof)" ||
	fail "a new checkpoint is cosigned too" "$(cat cp.txt; tail -5 witness.err)"
VIGIL_HOME="$tmp/client" "$VIGIL" log checkpoint "$base/log" --key "$logkey" --witness "$wkey" --quorum 1 >"$out" 2>"$err" &&
	pass "vigil log checkpoint verifies the cosignature (quorum 1)" ||
	fail "vigil log checkpoint verifies the cosignature (quorum 1)" "$(cat "$out" "$err")"
VIGIL_HOME="$tmp/client2" "$VIGIL" log checkpoint "$base/log" --key "$logkey" --witness "$wkey" --quorum 2 >"$out" 2>"$err"
[ $? = 2 ] && pass "a quorum of 2 with one witness is refused (exit 2)" ||
	fail "a quorum of 2 with one witness is refused (exit 2)" "$(cat "$out" "$err")"

# The node restarts and forgets what the witness saw: old 0 gets a 409
# with the witness's size, and the node goes on from there.
kill -TERM $pid
wait $pid
node_start vigild -- -c node.conf --data "$tmp/var" || { fail "vigild restarts" "$(cat vigild.err)"; finish; }
pid=$node_pid
base=$node_base
echo "second statement" >s2.txt
"$VIGIL" admin --server "$base" --token-file var/operator.token log-append --type statement s2.txt >/dev/null
cosigned 4 && pass "after a restart the node catches the witness up from its size (409, then 200)" ||
	fail "after a restart the node catches the witness up" "$(cat cp.txt; tail -5 vigild.err)"

# A witness that is down: the log goes on, without its cosignature.
kill -TERM $wpid
wait $wpid
echo "third statement" >s3.txt
"$VIGIL" admin --server "$base" --token-file var/operator.token log-append --type statement s3.txt >"$out" 2>"$err" &&
	pass "appends go on while the witness is down" || fail "appends go on while the witness is down" "$(cat "$err")"
sleep 1.5
curl -s "$base/log/checkpoint" >cp.txt
[ "$(sed -n 2p cp.txt)" = 5 ] && ! grep -q '^— witness.example/w1 ' cp.txt &&
	pass "the checkpoint is published without the missing cosignature" ||
	fail "the checkpoint is published without the missing cosignature" "$(cat cp.txt)"
i=0
until grep -q 'event=witness_refused' vigild.err || [ $i -ge 50 ]; do
	i=$((i + 1))
	sleep 0.1
done
grep -q 'event=witness_refused' vigild.err && pass "the node logs the witness it could not reach" ||
	fail "the node logs the witness it could not reach" "$(tail -5 vigild.err)"
start_witness || { fail "vigil witness restarts" "$(cat witness.err)"; finish; }
echo "fourth statement" >s4.txt
"$VIGIL" admin --server "$base" --token-file var/operator.token log-append --type statement s4.txt >/dev/null
sed -i "s|^w1 = .*|w1 = $wkey $wurl|" node.conf
kill -TERM $pid
wait $pid
node_start vigild -- -c node.conf --data "$tmp/var" || { fail "vigild restarts" "$(cat vigild.err)"; finish; }
pid=$node_pid
base=$node_base
cosigned 7 && pass "once the witness is back, the latest checkpoint is cosigned again" ||
	fail "once the witness is back, the latest checkpoint is cosigned again" "$(cat cp.txt; tail -5 vigild.err)"
kill -TERM $pid
wait $pid
kill -TERM $wpid
wait $wpid
finish
