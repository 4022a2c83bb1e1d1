/*
 * worker_main.c - vigil-worker, the program the node execs for each
 * analysis worker; everything is in worker.c.
 */
#include "node/worker.h"

int
main(int argc, char **argv)
{
	return worker_main(argc, argv);
}
