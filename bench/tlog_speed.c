/*
 * tlog_speed.c - the durable tiled transparency log (src/tlog/log.h)
 * against the goals of its issue: on 2 cores, durably, at least 30,000
 * appended entries/s, at least 200,000 inclusion proofs/s served from
 * tiles, and at most 1 s from an append to a published signed checkpoint
 * at that rate. Anchors: Trillian on MySQL about 400-500 entries/s,
 * Tessera's POSIX backend about 2,900 entries/s on 12 cores.
 *
 * It measures, each as the median of RUNS runs:
 *   1. appends of 256-byte entries with tlog_log_append() in batches of
 *      1, 64, 1024 and 4096 (group commit, as the node's sequencer does),
 *      each run for 3 s on a fresh log, in entries/s; then the latency of
 *      a batch of 4096 (append to published signed checkpoint) offered at
 *      30,000 entries/s (one batch due every 4096/30000 s) for 10 s, from
 *      the moment the batch is due to the return of the append;
 *   2. inclusion proofs (tlog_log_prove_inclusion) of random indexes of a
 *      log of 1,000,000 entries against its full size, for 3 s with one
 *      thread and with two; a sample of the proofs is verified afterwards
 *      with merkle_verify_inclusion() against the signed checkpoint's root,
 *      which is itself checked against a root computed in memory;
 *   3. the disk's synchronous 4 KiB write rate (what `dd if=/dev/zero
 *      of=F bs=4k count=2000 oflag=dsync` does), for context.
 * and prints a Markdown table against the goals and anchors.
 *
 *   build/tlog_speed [DIR] [RUNS]
 *
 * DIR (on the disk the node's data is on) gets a fresh tlog_speed.XXXXXX
 * directory, removed at the end; by default under $TMPDIR, or /var/tmp if
 * $TMPDIR is unset or on tmpfs. RUNS is 3 by default.
 *
 *   build/tlog_speed --pg DSN [RUNS]
 *
 * measures instead the log of a region on PostgreSQL (src/store/tlog_pg.h)
 * against the region's goal of at least 20,000 entries/s: appends of
 * 256-byte entries in batches of 64, 1024 and 4096, each run for 3 s on
 * a fresh log (the tlog tables of DSN's database dropped and made again:
 * whatever they held is lost), by a handle that holds the sequencer lease
 * and makes each batch as the node's sequencer does (the pending rows
 * taken, then the append, in one transaction); the anchor, measured on the
 * same connection, is the rate of one-row INSERT transactions, what a
 * commit costs on that server (with a synchronous standby, its round
 * trip). The server's durability settings are printed with the table.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "store/pg.h"
#include "store/tlog_pg.h"
#include "tlog/checkpoint.h"
#include "tlog/log.h"
#include "tlog/merkle.h"
#include "tlog/note.h"
#include "tlog/tile.h"

#define ORIGIN       "bench.vigil.local/tlog"
#define ENTRY_LEN    256
#define BATCH_MAX    4096
#define APPEND_SECS  3.0
#define PACED_SECS   10.0
#define PACED_RATE   30000.0
#define PROOF_SECS   3.0
#define PROOF_LOG    1000000
#define MAX_RUNS     15
#define SAMPLE_EVERY 97
#define SAMPLE_MAX   1024
#define DSYNC_WRITES 2000
#define TMPFS_MAGIC_ 0x01021994

/* Goals and anchors. */
#define GOAL_APPENDS 30000.0
#define GOAL_PROOFS  200000.0
#define GOAL_LATENCY 1.0
#define TESSERA      2900.0
#define GOAL_REGION  20000.0
#define ANCHOR_SECS  2.0

static const size_t batch_sizes[] = {1, 64, 1024, 4096};
#define NBATCH (sizeof(batch_sizes) / sizeof(batch_sizes[0]))
static const size_t pg_batch_sizes[] = {64, 1024, 4096};
#define NPGBATCH (sizeof(pg_batch_sizes) / sizeof(pg_batch_sizes[0]))

/* Short enough for the names made in it to fit in PATH_MAX. */
static char base_dir[PATH_MAX - 64];
static uint8_t pattern[ENTRY_LEN];
static struct note_signer *signer;
static int log_seq;

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
sleep_until(double when)
{
	struct timespec t;

	t.tv_sec = (time_t)when;
	t.tv_nsec = (long)((when - (double)t.tv_sec) * 1e9);
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) ==
	       EINTR)
		;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Nearest-rank percentile p (0..1) of the n values of v, sorted. */
static double
percentile(const double *v, size_t n, double p)
{
	size_t k = (size_t)(p * (double)n + 0.999999);

	return v[k == 0 ? 0 : k - 1];
}

static uint64_t
xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* "1,234,567" */
static const char *
num(double v, char buf[32])
{
	char digits[32], *p = buf;
	int n, i;

	n = snprintf(digits, sizeof(digits), "%.0f", v);
	for (i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			*p++ = ',';
		*p++ = digits[i];
	}
	*p = '\0';
	return buf;
}

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "tlog_speed: %s: %s\n", what, err);
	exit(1);
}

/* Entry i: its index big-endian, then the fixed random pattern. */
static void
make_entry(uint64_t i, uint8_t *out)
{
	memcpy(out, pattern, ENTRY_LEN);
	for (int k = 0; k < 8; k++)
		out[k] = (uint8_t)(i >> (56 - 8 * k));
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_tree(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 &&
	    errno != ENOENT)
		fprintf(stderr, "tlog_speed: cannot remove %s\n", path);
}

/* Opens a fresh log in a new directory under base_dir, its path in dir. */
static struct tlog_log *
fresh_log(char dir[PATH_MAX])
{
	struct tlog_log *l;
	char err[512];

	snprintf(dir, PATH_MAX, "%s/log%d", base_dir, log_seq++);
	if (tlog_log_open(dir, ORIGIN, signer, &l, err, sizeof(err)) != 0)
		die(dir, err);
	return l;
}

/*
 * Closes l. Its files stay until the end: on an ext4 without a journal,
 * deleting them would slow the next runs' file creation (the inode
 * allocator skips inodes freed in the last minute or more).
 */
static void
drop_log(struct tlog_log *l, const char *dir)
{
	(void)dir;
	tlog_log_close(l);
}

/*
 * The batch of n entries from index first: the entries in buf (n *
 * ENTRY_LEN bytes), described by e. Only the index prefixes change.
 */
static void
fill_batch(struct tile_entry *e, uint8_t *buf, size_t n, uint64_t first)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t x = first + i;
		uint8_t *p = buf + i * ENTRY_LEN;

		for (int k = 0; k < 8; k++)
			p[k] = (uint8_t)(x >> (56 - 8 * k));
		e[i].data = p;
		e[i].len = ENTRY_LEN;
	}
}

static struct tile_entry batch_e[BATCH_MAX];
static uint8_t *batch_buf;

static void
append_batch(struct tlog_log *l, size_t n, uint64_t first)
{
	uint64_t got;
	char err[512];

	fill_batch(batch_e, batch_buf, n, first);
	if (tlog_log_append(l, batch_e, n, &got, err, sizeof(err)) != 0)
		die("append", err);
	if (got != first)
		die("append", "entries landed at the wrong index");
}

/* Appends batches of b for APPEND_SECS on a fresh log; entries/s. */
static double
run_appends(size_t b, uint64_t *total)
{
	char dir[PATH_MAX];
	struct tlog_log *l = fresh_log(dir);
	uint64_t n = 0;
	double t0 = now(), t;

	do {
		append_batch(l, b, n);
		n += b;
		t = now() - t0;
	} while (t < APPEND_SECS);
	drop_log(l, dir);
	*total = n;
	return (double)n / t;
}

struct paced {
	double p50, p99, max, rate;
	size_t batches, late;
};

/*
 * Offers batches of BATCH_MAX at PACED_RATE entries/s for PACED_SECS on a
 * fresh log: batch k is due at k * BATCH_MAX / PACED_RATE. Its latency is
 * from its due time to the append's return (the wait for a late start
 * included).
 */
static struct paced
run_paced(void)
{
	static double lat[4096];
	char dir[PATH_MAX];
	struct tlog_log *l = fresh_log(dir);
	double period = BATCH_MAX / PACED_RATE, t0, due, end;
	struct paced r = {0};
	size_t k;

	t0 = now();
	for (k = 0; k < sizeof(lat) / sizeof(lat[0]); k++) {
		due = t0 + (double)k * period;
		if (due - t0 >= PACED_SECS)
			break;
		if (now() < due)
			sleep_until(due);
		else if (now() - due > period)
			r.late++;
		append_batch(l, BATCH_MAX, (uint64_t)k * BATCH_MAX);
		end = now();
		lat[k] = end - due;
	}
	r.rate = (double)k * BATCH_MAX / (now() - t0);
	drop_log(l, dir);
	qsort(lat, k, sizeof(lat[0]), cmp_double);
	r.batches = k;
	r.p50 = percentile(lat, k, 0.50);
	r.p99 = percentile(lat, k, 0.99);
	r.max = lat[k - 1];
	return r;
}

struct sample {
	uint64_t index;
	size_t n;
	struct merkle_hash proof[MERKLE_PROOF_MAX];
};

struct prover {
	struct tlog_log *log;
	uint64_t size, seed, count;
	double secs;
	struct sample *samples;
	size_t nsamples;
	int rc;
};

static void *
prove_loop(void *arg)
{
	struct prover *p = arg;
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	uint64_t x = p->seed, count = 0;
	double t0 = now(), t;
	size_t n;

	p->nsamples = 0;
	for (;;) {
		for (int i = 0; i < 256; i++) {
			uint64_t idx = xorshift(&x) % p->size;
			int rc = tlog_log_prove_inclusion(p->log, idx, p->size,
							  proof, &n);

			if (rc != 0) {
				p->rc = rc;
				return NULL;
			}
			if (++count % SAMPLE_EVERY == 0 &&
			    p->nsamples < SAMPLE_MAX) {
				struct sample *s = &p->samples[p->nsamples++];

				s->index = idx;
				s->n = n;
				memcpy(s->proof, proof, n * sizeof(proof[0]));
			}
		}
		if ((t = now() - t0) >= PROOF_SECS)
			break;
	}
	p->count = count;
	p->secs = t;
	return NULL;
}

/* Verifies the samples of p against root; returns how many verified. */
static size_t
verify_samples(const struct prover *p, const struct merkle_hash *root)
{
	uint8_t entry[ENTRY_LEN];
	struct merkle_hash leaf;
	char err[512];

	for (size_t i = 0; i < p->nsamples; i++) {
		const struct sample *s = &p->samples[i];

		make_entry(s->index, entry);
		if (merkle_hash_leaf(entry, ENTRY_LEN, &leaf) != 0)
			die("hashing", "failed");
		if (merkle_verify_inclusion(s->index, p->size, &leaf, s->proof,
					    s->n, root, err, sizeof(err)) != 0)
			die("an inclusion proof does not verify", err);
	}
	return p->nsamples;
}

/* Proofs/s with nthreads threads for PROOF_SECS; verifies the samples. */
static double
run_proofs(struct tlog_log *l, uint64_t size, int nthreads,
	   const struct merkle_hash *root, uint64_t seed, size_t *verified)
{
	struct prover p[2];
	pthread_t th[2];
	double rate = 0;

	for (int i = 0; i < nthreads; i++) {
		p[i] = (struct prover){
			l, size, seed + 0x9e3779b97f4a7c15ull * i, 0, 0, NULL,
			0, 0};
		p[i].samples = calloc(SAMPLE_MAX, sizeof(struct sample));
		if (p[i].samples == NULL)
			die("memory", "out of memory");
		if (pthread_create(&th[i], NULL, prove_loop, &p[i]) != 0)
			die("pthread_create", strerror(errno));
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		if (p[i].rc != 0)
			die("tlog_log_prove_inclusion", "failed");
		rate += (double)p[i].count / p[i].secs;
		*verified += verify_samples(&p[i], root);
		free(p[i].samples);
	}
	return rate;
}

/* 2000 synchronous 4 KiB writes to a new file in base_dir; writes/s. */
static double
run_dsync(void)
{
	static uint8_t page[4096];
	char path[PATH_MAX];
	double t0, t;
	int fd;

	snprintf(path, sizeof(path), "%s/dsync", base_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DSYNC | O_CLOEXEC,
		  0600);
	if (fd < 0)
		die(path, strerror(errno));
	t0 = now();
	for (int i = 0; i < DSYNC_WRITES; i++) {
		if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page))
			die(path, strerror(errno));
	}
	t = now() - t0;
	close(fd);
	unlink(path);
	return DSYNC_WRITES / t;
}

/*
 * Describes the file system dir is on: the mount from /proc/self/mountinfo
 * (type, source, mount point, options) whose device is dir's, or statfs's
 * type number. Sets *tmpfs.
 */
static void
describe_fs(const char *dir, char *out, size_t outlen, bool *tmpfs)
{
	char real[PATH_MAX], *line = NULL, best[PATH_MAX + 640] = "";
	size_t cap = 0, bestlen = 0;
	struct statfs sf;
	struct stat st;
	FILE *f;

	*tmpfs = false;
	if (statfs(dir, &sf) == 0 && sf.f_type == TMPFS_MAGIC_)
		*tmpfs = true;
	if (stat(dir, &st) != 0 || realpath(dir, real) == NULL) {
		snprintf(out, outlen, "unknown");
		return;
	}
	if ((f = fopen("/proc/self/mountinfo", "r")) != NULL) {
		while (getline(&line, &cap, f) > 0) {
			char mnt[PATH_MAX], opts[256], type[64], src[256];
			unsigned maj, min;
			const char *dash = strstr(line, " - ");
			size_t ml;

			if (dash == NULL ||
			    sscanf(line, "%*u %*u %u:%u %*s %4095s %255s", &maj,
				   &min, mnt, opts) != 4 ||
			    sscanf(dash + 3, "%63s %255s", type, src) != 2)
				continue;
			if (makedev(maj, min) != st.st_dev)
				continue;
			ml = strlen(mnt);
			if (strncmp(real, mnt, ml) != 0 ||
			    (real[ml] != '/' && real[ml] != '\0' &&
			     strcmp(mnt, "/") != 0) ||
			    ml < bestlen)
				continue;
			bestlen = ml;
			snprintf(best, sizeof(best), "%s on %s (%s, %s)", src,
				 mnt, type, opts);
			if (strcmp(type, "tmpfs") == 0)
				*tmpfs = true;
		}
		free(line);
		fclose(f);
	}
	if (best[0] != '\0')
		snprintf(out, outlen, "%s", best);
	else
		snprintf(out, outlen, "statfs type 0x%lx", (long)sf.f_type);
}

static bool
is_tmpfs(const char *dir)
{
	struct statfs sf;

	return statfs(dir, &sf) == 0 && sf.f_type == TMPFS_MAGIC_;
}

static const char *
verdict(double v, double goal, bool higher_better)
{
	return (higher_better ? v >= goal : v <= goal) ? "**met**" : "not met";
}

/* ---- the region's log on PostgreSQL (--pg DSN) ---- */

static struct pg pg_admin; /* the benchmark's own session */
static const char *pg_dsn;

static void
pg_sql(const char *q)
{
	char err[512];

	if (pg_cmd(&pg_admin, err, sizeof(err), q) != 0)
		die(q, err);
}

/* One text value a query returns ("" for NULL or no row); malloc'd. */
static char *
pg_value(const char *q)
{
	PGresult *res = NULL;
	char err[512], *v;

	if (pg_exec(&pg_admin, &res, err, sizeof(err), q, 0, NULL) != 0)
		die(q, err);
	v = strdup(PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)
			   ? PQgetvalue(res, 0, 0)
			   : "");
	PQclear(res);
	if (v == NULL)
		die("memory", "out of memory");
	return v;
}

/*
 * A fresh log: the tlog tables dropped and the component's schema version
 * forgotten (as test_tlog_pg.c starts each test), so that tlog_pg_open()
 * makes them again, empty; then the lease, and the log opened on it.
 */
static void
pg_fresh(struct tlog_pg **tp, struct tlog_log **l)
{
	char err[512];
	bool held = false;

	pg_sql("DROP TABLE IF EXISTS tlog_tile, tlog_head, tlog_region,"
	       " tlog_site, log_pending, log_done;"
	       " CREATE TABLE IF NOT EXISTS vigil_schema ("
	       " component text PRIMARY KEY, version integer NOT NULL);"
	       " DELETE FROM vigil_schema WHERE component = 'tlog'");
	if (tlog_pg_open(pg_dsn, "tlog_speed", tp, err, sizeof(err)) != 0)
		die("tlog_pg_open", err);
	if (tlog_pg_lease(*tp, &held, err, sizeof(err)) != 0)
		die("tlog_pg_lease", err);
	if (!held)
		die("tlog_pg_lease", "another session holds the sequencer "
				     "lease of this database");
	if (tlog_log_open_backend(tlog_pg_backend(*tp), ORIGIN, signer, NULL, l,
				  err, sizeof(err)) != 0)
		die("tlog_log_open_backend", err);
}

/* One batch as the node's sequencer makes it (nodelog.c, seq_append()):
 * the pending rows taken (none here), then the append, one transaction. */
static void
pg_append_batch(struct tlog_pg *tp, struct tlog_log *l, size_t n,
		uint64_t first)
{
	const struct tile_entry *pe;
	uint64_t got;
	size_t np;
	char err[512];
	int rc;

	if (tlog_pg_pending_take(tp, 64, &pe, &np, err, sizeof(err)) != 0)
		die("tlog_pg_pending_take", err);
	if (np != 0)
		die("tlog_pg_pending_take", "rows pending in a fresh log");
	fill_batch(batch_e, batch_buf, n, first);
	rc = tlog_log_append(l, batch_e, n, &got, err, sizeof(err));
	tlog_pg_batch_abort(tp);
	if (rc != 0)
		die("append", err);
	if (got != first)
		die("append", "entries landed at the wrong index");
}

/* Appends batches of b for APPEND_SECS on a fresh log; entries/s. */
static double
pg_run_appends(size_t b, uint64_t *total)
{
	struct tlog_pg *tp;
	struct tlog_log *l;
	uint64_t n = 0;
	double t0, t;

	pg_fresh(&tp, &l);
	t0 = now();
	do {
		pg_append_batch(tp, l, b, n);
		n += b;
		t = now() - t0;
	} while (t < APPEND_SECS);
	tlog_log_close(l);
	tlog_pg_close(tp);
	*total = n;
	return (double)n / t;
}

/* One-row INSERT transactions for ANCHOR_SECS; commits/s. */
static double
pg_run_anchor(void)
{
	double t0 = now(), t;
	uint64_t n = 0;

	do {
		pg_sql("INSERT INTO tlog_speed_anchor (v) VALUES (1)");
		n++;
		t = now() - t0;
	} while (t < ANCHOR_SECS);
	return (double)n / t;
}

static int
pg_main(const char *dsn, int runs)
{
	double app[NPGBATCH][MAX_RUNS], anc[MAX_RUNS], med[NPGBATCH], anc_m;
	char err[512], pub[256], a[32], b[32], c[32];
	char *version, *fsync, *sync_commit, *standbys, *nsync;
	uint64_t x = 0x243f6a8885a308d3ull, total;

	pg_dsn = dsn;
	if (pg_open(&pg_admin, dsn, "tlog_speed-admin", err, sizeof(err)) != 0)
		die("postgresql", err);
	pg_dsn_public(dsn, pub, sizeof(pub));
	pg_sql("SET client_min_messages = warning");
	version = pg_value("SHOW server_version");
	fsync = pg_value("SHOW fsync");
	sync_commit = pg_value("SHOW synchronous_commit");
	standbys = pg_value("SELECT string_agg(application_name, ', ')"
			    " FROM pg_stat_replication"
			    " WHERE sync_state IN ('sync', 'quorum')");
	nsync = pg_value("SELECT count(*) FROM pg_stat_replication"
			 " WHERE sync_state IN ('sync', 'quorum')");
	printf("postgresql: %s, server %s, fsync %s, synchronous_commit %s, "
	       "synchronous standbys: %s%s%s%s\n",
	       pub, version, fsync, sync_commit, nsync, standbys[0] ? " (" : "",
	       standbys, standbys[0] ? ")" : "");
	if (strcmp(fsync, "on") != 0)
		printf("WARNING: fsync is off; these figures say nothing "
		       "about durable commits\n");
	if (note_signer_generate(ORIGIN, NOTE_ED25519, &signer, err,
				 sizeof(err)) != 0)
		die("note_signer_generate", err);
	for (size_t i = 0; i < ENTRY_LEN; i++)
		pattern[i] = (uint8_t)xorshift(&x);
	if ((batch_buf = malloc((size_t)BATCH_MAX * ENTRY_LEN)) == NULL)
		die("memory", "out of memory");
	for (size_t i = 0; i < BATCH_MAX; i++)
		memcpy(batch_buf + i * ENTRY_LEN, pattern, ENTRY_LEN);

	pg_sql("DROP TABLE IF EXISTS tlog_speed_anchor;"
	       " CREATE TABLE tlog_speed_anchor ("
	       " id bigserial PRIMARY KEY, v bigint NOT NULL)");
	for (int r = 0; r < runs; r++)
		anc[r] = pg_run_anchor();
	pg_sql("DROP TABLE tlog_speed_anchor");
	anc_m = median(anc, (size_t)runs);
	printf("one-row INSERT commits/s: %s (median of %d)\n", num(anc_m, a),
	       runs);
	fflush(stdout);

	for (size_t i = 0; i < NPGBATCH; i++) {
		printf("appends on postgresql, batch %zu:", pg_batch_sizes[i]);
		for (int r = 0; r < runs; r++) {
			app[i][r] = pg_run_appends(pg_batch_sizes[i], &total);
			printf(" %s/s (%s entries)", num(app[i][r], a),
			       num((double)total, b));
			fflush(stdout);
		}
		med[i] = median(app[i], (size_t)runs);
		printf("; median %s/s\n", num(med[i], a));
	}

	printf("\n| measure (median of %d) | vigil | anchor | ratio | goal "
	       "|\n| --- | --- | --- | --- | --- |\n",
	       runs);
	for (size_t i = 0; i < NPGBATCH; i++)
		printf("| durable appends on PostgreSQL, batches of %zu | %s "
		       "entries/s (%.1f ms a batch) | one-row INSERT "
		       "commits %s/s | %.2fx goal; %.1fx the anchor's "
		       "rows/s | 20,000/s: %s |\n",
		       pg_batch_sizes[i], num(med[i], a),
		       1e3 * (double)pg_batch_sizes[i] / med[i], num(anc_m, c),
		       med[i] / GOAL_REGION, med[i] / anc_m,
		       verdict(med[i], GOAL_REGION, true));
	printf("| one-row INSERT transactions (the anchor) | %s commits/s "
	       "(%.2f ms a commit) | | | |\n",
	       num(anc_m, a), 1e3 / anc_m);
	printf("| server | PostgreSQL %s, fsync %s, synchronous_commit %s, "
	       "%s synchronous standby(s)%s%s%s | | | |\n",
	       version, fsync, sync_commit, nsync, standbys[0] ? " (" : "",
	       standbys, standbys[0] ? ")" : "");
	free(version);
	free(fsync);
	free(sync_commit);
	free(standbys);
	free(nsync);
	pg_close(&pg_admin);
	note_signer_free(signer);
	free(batch_buf);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *parent = argc > 1 && *argv[1] != '\0' ? argv[1] : NULL;
	int runs = argc > 2 ? atoi(argv[2]) : 3;
	double app[NBATCH][MAX_RUNS], dsync[MAX_RUNS], p1[MAX_RUNS],
		p2[MAX_RUNS], lp50[MAX_RUNS], lp99[MAX_RUNS], lmax[MAX_RUNS],
		lrate[MAX_RUNS];
	double med[NBATCH], dsync_m, p1_m, p2_m, l50, l99, lmx, lr, build_s;
	char fs[PATH_MAX + 640], err[512], dir[PATH_MAX], a[32], b[32];
	struct merkle_hash *leaves, mem_root;
	struct checkpoint cp = {0};
	struct note_verifier key;
	struct tlog_log *l;
	uint64_t x = 0x243f6a8885a308d3ull, total;
	size_t verified = 0, late = 0, batches = 0;
	bool tmpfs, paced;
	char *cptext;
	size_t cplen;

	if (parent != NULL && strcmp(parent, "--pg") == 0) {
		runs = argc > 3 ? atoi(argv[3]) : 3;
		if (argc < 3 || *argv[2] == '\0' || runs < 1 ||
		    runs > MAX_RUNS) {
			fprintf(stderr,
				"usage: tlog_speed --pg DSN [RUNS 1..%d]\n",
				MAX_RUNS);
			return 2;
		}
		return pg_main(argv[2], runs);
	}
	if (runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: tlog_speed [DIR] [RUNS 1..%d]\n",
			MAX_RUNS);
		return 2;
	}
	if (parent == NULL) {
		parent = getenv("TMPDIR");
		if (parent == NULL || *parent == '\0' || is_tmpfs(parent))
			parent = "/var/tmp";
	}
	if ((size_t)snprintf(base_dir, sizeof(base_dir), "%s/tlog_speed.XXXXXX",
			     parent) >= sizeof(base_dir))
		die(parent, "path too long");
	if (mkdtemp(base_dir) == NULL)
		die(base_dir, strerror(errno));
	describe_fs(base_dir, fs, sizeof(fs), &tmpfs);
	printf("directory: %s\nfile system: %s\n", base_dir, fs);
	if (tmpfs)
		printf("WARNING: tmpfs is not durable storage; these figures "
		       "say nothing about a disk\n");
	if (note_signer_generate(ORIGIN, NOTE_ED25519, &signer, err,
				 sizeof(err)) != 0)
		die("note_signer_generate", err);
	note_signer_verifier(signer, &key);
	for (size_t i = 0; i < ENTRY_LEN; i++)
		pattern[i] = (uint8_t)xorshift(&x);
	if ((batch_buf = malloc((size_t)BATCH_MAX * ENTRY_LEN)) == NULL)
		die("memory", "out of memory");
	for (size_t i = 0; i < BATCH_MAX; i++)
		memcpy(batch_buf + i * ENTRY_LEN, pattern, ENTRY_LEN);
	fflush(stdout);

	/* 3 first: the disk's rate before the log's runs. */
	for (int r = 0; r < runs; r++)
		dsync[r] = run_dsync();
	dsync_m = median(dsync, (size_t)runs);
	printf("dsync 4 KiB writes/s: %s (median of %d)\n", num(dsync_m, a),
	       runs);

	/* 1: appends. */
	for (size_t i = 0; i < NBATCH; i++) {
		printf("appends, batch %zu:", batch_sizes[i]);
		for (int r = 0; r < runs; r++) {
			app[i][r] = run_appends(batch_sizes[i], &total);
			printf(" %s/s (%s entries)", num(app[i][r], a),
			       num((double)total, b));
			fflush(stdout);
		}
		med[i] = median(app[i], (size_t)runs);
		printf("; median %s/s\n", num(med[i], a));
	}
	paced = med[NBATCH - 1] >= PACED_RATE;
	printf("latency, batch %d %s:", BATCH_MAX,
	       paced ? "offered at 30,000 entries/s"
		     : "back to back (30,000/s not sustainable)");
	for (int r = 0; r < runs; r++) {
		struct paced p = run_paced();

		lp50[r] = p.p50;
		lp99[r] = p.p99;
		lmax[r] = p.max;
		lrate[r] = p.rate;
		late += p.late;
		batches += p.batches;
		printf(" [%zu batches, %s entries/s, p50 %.1f ms, p99 %.1f "
		       "ms, max %.1f ms, %zu started late]",
		       p.batches, num(p.rate, a), p.p50 * 1e3, p.p99 * 1e3,
		       p.max * 1e3, p.late);
		fflush(stdout);
	}
	l50 = median(lp50, (size_t)runs);
	l99 = median(lp99, (size_t)runs);
	lmx = median(lmax, (size_t)runs);
	lr = median(lrate, (size_t)runs);
	printf("\n");

	/* 2: proofs from the tiles of a 1,000,000-entry log. */
	l = fresh_log(dir);
	build_s = now();
	for (uint64_t n = 0; n < PROOF_LOG; n += BATCH_MAX) {
		size_t k = PROOF_LOG - n < BATCH_MAX ? (size_t)(PROOF_LOG - n)
						     : BATCH_MAX;

		append_batch(l, k, n);
	}
	build_s = now() - build_s;
	printf("built a log of %s entries in batches of %d: %.2f s "
	       "(%s entries/s)\n",
	       num(PROOF_LOG, a), BATCH_MAX, build_s,
	       num(PROOF_LOG / build_s, b));
	/* The root the checkpoint signs, and the one of the entries. */
	if (tlog_log_checkpoint(l, &cptext, &cplen, NULL) != 0 ||
	    checkpoint_open(cptext, cplen, ORIGIN, &key, NULL, 0, 0, &cp, err,
			    sizeof(err)) != 0)
		die("checkpoint", err);
	free(cptext);
	if (cp.size != PROOF_LOG)
		die("checkpoint", "wrong size");
	leaves = calloc(PROOF_LOG, sizeof(*leaves));
	if (leaves == NULL)
		die("memory", "out of memory");
	for (uint64_t i = 0; i < PROOF_LOG; i++) {
		uint8_t e[ENTRY_LEN];

		make_entry(i, e);
		if (merkle_hash_leaf(e, ENTRY_LEN, &leaves[i]) != 0)
			die("hashing", "failed");
	}
	if (merkle_root(leaves, PROOF_LOG, &mem_root) != 0 ||
	    memcmp(&mem_root, &cp.root, sizeof(mem_root)) != 0)
		die("checkpoint", "its root is not the entries' root");
	free(leaves);
	printf("proofs/s, 1 thread:");
	for (int r = 0; r < runs; r++) {
		p1[r] = run_proofs(l, PROOF_LOG, 1, &cp.root, 1 + (uint64_t)r,
				   &verified);
		printf(" %s", num(p1[r], a));
		fflush(stdout);
	}
	p1_m = median(p1, (size_t)runs);
	printf("; 2 threads:");
	for (int r = 0; r < runs; r++) {
		p2[r] = run_proofs(l, PROOF_LOG, 2, &cp.root, 100 + (uint64_t)r,
				   &verified);
		printf(" %s", num(p2[r], a));
		fflush(stdout);
	}
	p2_m = median(p2, (size_t)runs);
	printf("\n%zu sampled proofs verified against the signed checkpoint\n",
	       verified);
	checkpoint_clear(&cp);
	drop_log(l, dir);
	rm_tree(base_dir);

	printf("\n| measure (median of %d) | vigil | anchor | ratio | goal "
	       "|\n| --- | --- | --- | --- | --- |\n",
	       runs);
	for (size_t i = 0; i < NBATCH; i++)
		printf("| durable appends, batches of %zu | %s entries/s | "
		       "Tessera POSIX 2,900/s (12 cores); Trillian MySQL "
		       "400-500/s | %.2fx goal; %.2fx Tessera | 30,000/s: %s "
		       "|\n",
		       batch_sizes[i], num(med[i], a), med[i] / GOAL_APPENDS,
		       med[i] / TESSERA, verdict(med[i], GOAL_APPENDS, true));
	printf("| append to published checkpoint, batches of %d %s | p50 "
	       "%.0f ms, p99 %.0f ms (max %.0f; %s entries/s achieved; "
	       "%zu of %zu batches started late) | | p99 %.2fx goal | "
	       "1 s: %s |\n",
	       BATCH_MAX,
	       paced ? "offered at 30,000/s"
		     : "back to back (30,000/s not "
		       "sustainable)",
	       l50 * 1e3, l99 * 1e3, lmx * 1e3, num(lr, a), late, batches,
	       l99 / GOAL_LATENCY,
	       paced && late == 0 ? verdict(l99, GOAL_LATENCY, false)
				  : "not met");
	printf("| inclusion proofs, 1,000,000 entries, 1 thread | %s/s | | "
	       "%.2fx goal | |\n",
	       num(p1_m, a), p1_m / GOAL_PROOFS);
	printf("| inclusion proofs, 1,000,000 entries, 2 threads | %s/s | | "
	       "%.2fx goal | 200,000/s: %s |\n",
	       num(p2_m, a), p2_m / GOAL_PROOFS,
	       verdict(p2_m, GOAL_PROOFS, true));
	printf("| building the 1,000,000-entry log, batches of %d | %.1f s "
	       "(%s entries/s) | | | |\n",
	       BATCH_MAX, build_s, num(PROOF_LOG / build_s, a));
	printf("| disk: synchronous 4 KiB writes (`dd oflag=dsync`) | %s "
	       "writes/s | | | |\n",
	       num(dsync_m, a));
	note_signer_free(signer);
	free(batch_buf);
	return 0;
}
