/*
 * progress.h - the live progress line of `vigil scan` on a terminal.
 *
 * Workers add to atomic counters; a thread redraws one line on the
 * terminal a few times a second: files, bytes, rate and ETA. Output lines
 * printed meanwhile go through progress_lock()/progress_unlock(), which
 * erase the line first so results and progress never interleave.
 */
#ifndef VIGIL_CLI_PROGRESS_H
#define VIGIL_CLI_PROGRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct progress {
	_Atomic uint64_t files_found, bytes_found; /* discovered by the walk */
	_Atomic uint64_t files_done, bytes_done;   /* scanned */
	_Atomic bool walk_done;
};

/* Starts drawing on out if it is a terminal; otherwise only counts. */
void progress_start(struct progress *p, FILE *out);
/* Stops drawing and erases the line. */
void progress_stop(void);
/* Serialise output with the progress line. */
void progress_lock(void);
void progress_unlock(void);

/* Formats n bytes as "12.3 MiB" into buf (at least 16 bytes). */
const char *progress_bytes(uint64_t n, char *buf, size_t len);

#endif
