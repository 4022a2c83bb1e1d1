/*
 * ssdeep_speed.c - libfuzzy's fuzzy_hash_buf() against ssdeep_hash_buf().
 *
 * Times both on the same 256 MiB buffer, first random bytes, then real
 * data (the files of /usr/lib/x86_64-linux-gnu concatenated up to
 * 256 MiB), and prints the median MB/s of 5 runs and the speedup. It also
 * checks that both wrote the same digest.
 *
 *   gcc -std=c11 -O2 -D_GNU_SOURCE -Isrc bench/ssdeep_speed.c \
 *       src/engine/ssdeep.c -lfuzzy -o ssdeep_speed
 *   ./ssdeep_speed [MiB]
 */
#include <dirent.h>
#include <fuzzy.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/ssdeep.h"

#define RUNS   5
#define LIBDIR "/usr/lib/x86_64-linux-gnu"

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
run_libfuzzy(const uint8_t *buf, size_t len, char *out)
{
	return fuzzy_hash_buf(buf, (uint32_t)len, out);
}

static int
run_ours(const uint8_t *buf, size_t len, char *out)
{
	return ssdeep_hash_buf(buf, len, out);
}

/* Median MB/s of RUNS calls of fn; the digest is left in out. */
static double
measure(int (*fn)(const uint8_t *, size_t, char *), const uint8_t *buf,
	size_t len, char *out)
{
	double mbs[RUNS], t;
	int i;

	for (i = 0; i < RUNS; i++) {
		t = now();
		if (fn(buf, len, out) != 0) {
			fprintf(stderr, "hash failed\n");
			exit(1);
		}
		t = now() - t;
		mbs[i] = (double)len / 1e6 / t;
	}
	qsort(mbs, RUNS, sizeof(mbs[0]), cmp_double);
	return mbs[RUNS / 2];
}

static void
compare(const char *what, const uint8_t *buf, size_t len)
{
	char want[FUZZY_MAX_RESULT], got[SSDEEP_MAX_RESULT];
	double a, b;

	a = measure(run_libfuzzy, buf, len, want);
	b = measure(run_ours, buf, len, got);
	printf("%-8s %7.1f MiB  libfuzzy %8.1f MB/s  ssdeep_hash_buf %8.1f "
	       "MB/s  x%.1f  %s\n",
	       what, (double)len / (1024 * 1024), a, b, b / a,
	       strcmp(want, got) == 0 ? "same digest" : "DIGESTS DIFFER");
	if (strcmp(want, got) != 0)
		printf("  libfuzzy %s\n  ours     %s\n", want, got);
}

/* Fills buf with the regular files of LIBDIR; returns the bytes used. */
static size_t
fill_real(uint8_t *buf, size_t cap)
{
	struct dirent **names;
	char path[4096];
	struct stat st;
	size_t used = 0, n;
	int count, i;
	FILE *f;

	count = scandir(LIBDIR, &names, NULL, alphasort);
	if (count < 0)
		return 0;
	for (i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/%s", LIBDIR, names[i]->d_name);
		free(names[i]);
		if (used == cap || lstat(path, &st) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		f = fopen(path, "rb");
		if (f == NULL)
			continue;
		n = fread(buf + used, 1, cap - used, f);
		used += n;
		fclose(f);
	}
	free(names);
	return used;
}

int
main(int argc, char **argv)
{
	size_t len = (size_t)(argc > 1 ? atoi(argv[1]) : 256) << 20, i, n;
	uint64_t x = 0x243f6a8885a308d3ull;
	uint8_t *buf = malloc(len);

	if (buf == NULL || len == 0) {
		fprintf(stderr, "cannot allocate the buffer\n");
		return 1;
	}
	for (i = 0; i + 8 <= len; i += 8) {
		/* xorshift64 */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
	for (; i < len; i++)
		buf[i] = (uint8_t)i;
	compare("random", buf, len);
	n = fill_real(buf, len);
	if (n == 0)
		printf("real     skipped: nothing readable in %s\n", LIBDIR);
	else
		compare("real", buf, n);
	free(buf);
	return 0;
}
