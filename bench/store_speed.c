/*
 * store_speed.c - durable submissions per second of the metadata store's
 * backends, side by side in one run: SQLite's writer handle (the anchor:
 * one node, its committer) and PostgreSQL (several nodes' shared store),
 * each with batches of 256 submissions of new samples
 * (submission_add_many, the node's group commit) and with one
 * submission per transaction (submission_add).
 *
 *   VIGIL_PG_FSYNC=on tests/pg/pg-run build/store_speed [RUNS]
 *
 * pg-run gives a temporary cluster in VIGIL_TEST_PG_DSN (with fsync on
 * only if asked, as here; the unit tests run it off); without it, only
 * SQLite is measured. SQLite's file goes under $TMPDIR. Each figure is
 * the median of RUNS runs (3 by default) of 20 batches, or 512 single
 * submissions, on a fresh store; a Markdown table of submissions/s and
 * the ratio to SQLite's batches is printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/err.h"
#include "store/store.h"

#define BATCH   256
#define BATCHES 20
#define SINGLES 512
#define OWNER   "bench"

static double
now_s(void)
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

/* A fresh store: a new SQLite file, or the PostgreSQL database emptied. */
static struct store *
fresh(const char *dsn, const char *dir, int run)
{
	struct store *st = NULL;
	struct client c;
	char path[512], err[256];

	if (dsn != NULL) {
		PGconn *pc = PQconnectdb(dsn);
		PGresult *r = PQexec(pc, "SET client_min_messages = warning;"
					 "DROP SCHEMA public CASCADE;"
					 "CREATE SCHEMA public");

		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "store_speed: %s", PQerrorMessage(pc));
			exit(1);
		}
		PQclear(r);
		PQfinish(pc);
		if (store_pg_open(dsn, OWNER, 0, &st, err, sizeof(err)) != 0) {
			fprintf(stderr, "store_speed: %s\n", err);
			exit(1);
		}
	} else {
		snprintf(path, sizeof(path), "%s/meta-%d.db", dir, run);
		if (store_sqlite_open_writer(path, &st, err, sizeof(err)) !=
		    0) {
			fprintf(stderr, "store_speed: %s\n", err);
			exit(1);
		}
	}
	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "00000000-0000-4000-8000-000000000001");
	c.consent = CONSENT_FILES;
	snprintf(c.region, sizeof(c.region), "eu");
	if (st->ops->client_put(st, &c) != 0) {
		fprintf(stderr, "store_speed: client_put: %s\n", st->err);
		exit(1);
	}
	return st;
}

/* Submission i: a new sample each. */
static void
fill(struct submission *sub, struct submission_add *it, char *md5, char *sha1,
     long i)
{
	memset(sub, 0, sizeof(*sub));
	memset(it, 0, sizeof(*it));
	snprintf(sub->id, sizeof(sub->id), "22222222-0000-4000-8000-%012ld", i);
	snprintf(sub->client_id, sizeof(sub->client_id),
		 "00000000-0000-4000-8000-000000000001");
	snprintf(sub->sha256, sizeof(sub->sha256), "%064lx", i + 1);
	snprintf(md5, 33, "%032lx", i + 1);
	snprintf(sha1, 41, "%040lx", i + 1);
	sub->metadata = "{\"path\":\"C:\\\\Users\\\\x\\\\setup.exe\"}";
	sub->created = 1700000000 + i;
	it->sub = sub;
	it->md5 = md5;
	it->sha1 = sha1;
	it->size = 4096;
}

/* Submissions/s of one run: batches of BATCH, or SINGLES one by one. */
static double
run_once(const char *dsn, const char *dir, int run, bool batch)
{
	static struct submission subs[BATCH];
	static struct submission_add it[BATCH];
	static char md5[BATCH][33], sha1[BATCH][41];
	struct store *st = fresh(dsn, dir, run * 2 + batch);
	long n = 0;
	double t0 = now_s(), t;

	if (batch) {
		for (int b = 0; b < BATCHES; b++) {
			for (int i = 0; i < BATCH; i++)
				fill(&subs[i], &it[i], md5[i], sha1[i], n + i);
			if (st->ops->submission_add_many(st, it, BATCH, NULL,
							 NULL) != 0) {
				fprintf(stderr, "store_speed: %s\n", st->err);
				exit(1);
			}
			for (int i = 0; i < BATCH; i++)
				reputation_clear(&it[i].rep);
			n += BATCH;
		}
	} else {
		for (; n < SINGLES; n++) {
			fill(&subs[0], &it[0], md5[0], sha1[0], n);
			if (st->ops->submission_add(st, &subs[0], md5[0],
						    sha1[0], 4096, NULL,
						    NULL) != 0) {
				fprintf(stderr, "store_speed: %s\n", st->err);
				exit(1);
			}
		}
	}
	t = now_s() - t0;
	st->ops->close(st);
	return (double)n / t;
}

static double
median(const char *dsn, const char *dir, int runs, bool batch)
{
	double v[16];

	for (int r = 0; r < runs; r++)
		v[r] = run_once(dsn, dir, r, batch);
	qsort(v, (size_t)runs, sizeof(v[0]), cmp_double);
	return v[runs / 2];
}

int
main(int argc, char **argv)
{
	const char *dsn = getenv("VIGIL_TEST_PG_DSN");
	const char *tmp = getenv("TMPDIR");
	char dir[512];
	int runs = argc > 1 ? atoi(argv[1]) : 3;
	double anchor, v;

	if (runs < 1 || runs > 15) {
		fprintf(stderr, "usage: store_speed [RUNS (1-15)]\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/store_speed.XXXXXX",
		 tmp != NULL ? tmp : "/var/tmp");
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	printf("| store | submissions | per s | vs SQLite batches |\n");
	printf("|---|---|---:|---:|\n");
	anchor = median(NULL, dir, runs, true);
	printf("| SQLite writer | batches of %d | %.0f | 1.00 |\n", BATCH,
	       anchor);
	v = median(NULL, dir, runs, false);
	printf("| SQLite writer | one a transaction | %.0f | %.2f |\n", v,
	       v / anchor);
	if (dsn != NULL && *dsn != '\0') {
		v = median(dsn, dir, runs, true);
		printf("| PostgreSQL | batches of %d | %.0f | %.2f |\n", BATCH,
		       v, v / anchor);
		v = median(dsn, dir, runs, false);
		printf("| PostgreSQL | one a transaction | %.0f | %.2f |\n", v,
		       v / anchor);
	}
	for (int r = 0; r < runs * 2 + 2; r++) {
		char p[600];

		snprintf(p, sizeof(p), "%s/meta-%d.db", dir, r);
		unlink(p);
		snprintf(p, sizeof(p), "%s/meta-%d.db-wal", dir, r);
		unlink(p);
		snprintf(p, sizeof(p), "%s/meta-%d.db-shm", dir, r);
		unlink(p);
	}
	rmdir(dir);
	return 0;
}
