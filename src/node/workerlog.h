/*
 * workerlog.h - what the workers write on their stdout and stderr, read
 * by the node and put in its own log, line by line, under the worker's
 * name.
 *
 * A worker's output is as hostile as its report: it comes from a process
 * that parsed a sample. So the node never hands it its own log file;
 * each worker writes into a pipe, and one thread of the node (started on
 * the first workerlog_watch()) reads every pipe, never blocking on any:
 *
 *   event=worker_output worker=slot-0 pid=1234 line="..."
 *
 * Each line is cut at WORKERLOG_LINE_MAX bytes (cut=1 says so), and every
 * byte that is not printable ASCII is escaped (\xHH), as are " and \.
 * A worker gets at most WORKERLOG_LINES_PER_S lines a second into the
 * log; the rest are counted and dropped (event=worker_output_dropped).
 * Past WORKERLOG_BYTES_PER_S bytes in a second its pipe is not read until
 * the next second: a flooding worker blocks on its own writes, and its
 * job's deadline deals with it, while the node goes on.
 */
#ifndef VIGIL_NODE_WORKERLOG_H
#define VIGIL_NODE_WORKERLOG_H

#include <sys/types.h>

/* Longest line logged, in bytes of the worker's output, before escaping. */
#define WORKERLOG_LINE_MAX 400
/* Lines of one worker logged per second; more are dropped, and counted. */
#define WORKERLOG_LINES_PER_S 100
/* Bytes of one worker read per second; past that its pipe waits. */
#define WORKERLOG_BYTES_PER_S (1024 * 1024)
/* Pipes watched at once: every analysis slot and retro-hunt worker, with
 * room for those that are exiting. */
#define WORKERLOG_MAX_PIPES 256

/*
 * Takes over fd, the read end of the output pipe of worker pid, called
 * name (at most 31 bytes are kept), and logs its lines until it reaches
 * EOF, when it is closed. Returns 0, or VG_ELIMIT when
 * WORKERLOG_MAX_PIPES are watched already (fd is then closed). Safe from
 * any thread.
 */
int workerlog_watch(int fd, const char *name, pid_t pid);

/*
 * Writes line (len bytes, any bytes) into out (cap bytes, at least 5) as
 * printable ASCII: " and \ as \" and \\, every other byte outside 0x20
 * to 0x7e as \xHH; stops before a byte's escape would not fit. out is
 * NUL-terminated. Returns the length written.
 */
size_t workerlog_escape(const char *line, size_t len, char *out, size_t cap);

#endif
