/*
 * worker_main.c - vigil-worker, the program the node execs for each
 * analysis worker; everything is in worker.c.
 */
#include <unistd.h>

#include "node/worker.h"

int
main(int argc, char **argv)
{
	/*
	 * _exit, not return: exit-time hooks would run inside the sandbox,
	 * and some need system calls it forbids (LeakSanitizer's check in
	 * `make asan` clones a tracer thread, and seccomp kills the worker
	 * for it). The worker has nothing buffered to flush: it logs to an
	 * unbuffered stderr and answers over a socket.
	 */
	_exit(worker_main(argc, argv));
}
