# bench/lib.sh - what bench/node.sh and bench/region.sh share. Sourced
# after the caller has set $tmp (its temporary directory), $py (python3),
# $top (the repository) and $vigild, and defined put KEY VALUE (one figure
# of the run).

# stop_pid PID [SIGNAL]: signals a process this script started and reaps
# it; the signal is sent again every 2 s (one that lands before the
# program installed its handlers is lost), and after 20 s it is killed.
stop_pid() {
	kill -"${2:-TERM}" "$1" 2>/dev/null || true
	k=0
	while [ $k -lt 200 ] && [ -e "/proc/$1/stat" ] &&
		[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]; do
		k=$((k + 1))
		sleep 0.1
		[ $((k % 20)) -ne 0 ] || kill -"${2:-TERM}" "$1" 2>/dev/null || true
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# wrk_put KEY: records wrk's requests/s from $tmp/wrk.out, or stops the
# benchmark if any request failed (a refused or throttled request is not
# a measure of anything). Read errors are counted apart: they are the
# server closing the connection after an answer (wrk then reconnects).
wrk_put() {
	if grep -q 'Non-2xx' "$tmp/wrk.out" ||
		grep 'Socket errors' "$tmp/wrk.out" | grep -qv 'connect 0, read [0-9]*, write 0, timeout 0'; then
		echo "bench: wrk saw failed requests ($1):" >&2
		cat "$tmp/wrk.out" >&2
		exit 2
	fi
	put "$1" "$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")"
	put "$1_closed" "$(awk '/^ *Socket errors/ {sub(",", "", $6); c = $6} END {print c + 0}' "$tmp/wrk.out")"
	put "$1_requests" "$(awk '/requests in/ {print $1}' "$tmp/wrk.out")"
}

# vigild_start DIR CONF: vigild with CONF on DIR/var (DIR made by the
# caller), on 127.0.0.1:0, its output in DIR/out and DIR/err; waits until
# it says where it listens and enrols a client with consent files. Sets
# $node_pid, $base and $token; stop it with vigild_stop.
vigild_start() {
	# Made here, not by the background job's redirection, which may come
	# after the first read below.
	: >"$1/out"
	"$vigild" -c "$2" --listen 127.0.0.1:0 --data "$1/var" \
		>"$1/out" 2>"$1/err" &
	node_pid=$!
	base=
	i=0
	while [ $i -lt 300 ] && [ -z "$base" ]; do
		base=$(sed -n 's/^vigild listening on \(http:[^ ]*\).*/\1/p' "$1/out")
		kill -0 "$node_pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$base" ] || { echo "bench: vigild did not start:" >&2; tail -5 "$1/err" >&2; exit 2; }
	token=$(curl -sf -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
		"$py" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
}

vigild_stop() {
	stop_pid "$node_pid"
	node_pid=
}

# redis_put: GETs/s of redis-benchmark -t get -P 16 against a redis-server
# of its own on a loopback port (never the system's), as redis_get. The
# caller's cleanup stops $redis_pid if the benchmark is cut short.
redis_put() {
	rport=$("$py" "$top/bench/client.py" free_port)
	mkdir -p "$tmp/redis"
	redis-server --port "$rport" --bind 127.0.0.1 --dir "$tmp/redis" --save '' \
		--appendonly no --daemonize no --logfile "$tmp/redis/log" &
	redis_pid=$!
	j=0
	until [ "$(redis-cli -p "$rport" ping 2>/dev/null)" = PONG ]; do
		j=$((j + 1))
		[ $j -lt 100 ] || { echo "bench: redis-server did not start" >&2; exit 2; }
		sleep 0.1
	done
	redis-benchmark -p "$rport" -t get -P 16 -q -n 4000000 | tr '\r' '\n' >"$tmp/redis.out"
	put redis_get "$(awk '/^GET:/ {v = $2} END {print v}' "$tmp/redis.out")"
	stop_pid "$redis_pid"
	redis_pid=
}

# cpu_mark: remembers the machine's CPU counters (/proc/stat); cpu_busy
# then prints how many cores were busy on average since (user, nice,
# system, irq, softirq, steal: everything but idle and iowait), so that a
# rate can be turned into CPU time per operation.
cpu_mark() {
	cpu_at=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat)
}
cpu_busy() {
	awk -v before="$cpu_at" -v n="$(nproc)" '/^cpu / {
		split(before, b, " ")
		busy = $2 + $3 + $4 + $7 + $8 + $9 - b[1]
		idle = $5 + $6 - b[2]
		printf "%.2f\n", n * busy / (busy + idle)
	}' /proc/stat
}
