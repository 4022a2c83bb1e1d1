/*
 * test_tlog_pg.c - the tiled log on PostgreSQL (src/store/tlog_pg.c
 * under src/tlog/log.c): it serves what the model holds, as the file
 * backend does (tlog_check.h); a node whose lease was taken over appends
 * nothing and the log that goes on extends every checkpoint it published;
 * a batch that fails leaves the head as it was; an open refuses tiles
 * that disagree with the head; followers publish only heads that extend
 * theirs; appends handed over through log_pending are appended once.
 *
 * Runs under tests/pg/pg-run, which starts a cluster of its own and
 * exports VIGIL_TEST_PG_DSN.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/err.h"
#include "store/pg.h"
#include "store/tlog_pg.h"
#include "tlog/checkpoint.h"
#include "tlog/log.h"
#include "tlog/merkle.h"
#include "tlog/note.h"
#include "tlog/tile.h"

#define ORIGIN "example.com/vigil-test-log"

static struct note_signer *signer;
static struct note_verifier verifier;

#include "tlog_check.h"

struct fx {
	struct pg admin; /* the test's own session */
	struct model m;
};

static const char *
dsn(void)
{
	const char *d = getenv("VIGIL_TEST_PG_DSN");

	if (d == NULL || *d == '\0')
		fail_msg("VIGIL_TEST_PG_DSN is not set: run under "
			 "tests/pg/pg-run");
	return d;
}

static void
sql(struct fx *f, const char *q)
{
	char err[512] = "";

	if (pg_cmd(&f->admin, err, sizeof(err), q) != 0)
		fail_msg("%s: %s", q, err);
}

/* One integer a query returns. */
static int64_t
sql_i64(struct fx *f, const char *q)
{
	PGresult *res = NULL;
	char err[512] = "";
	int64_t v = -1;

	if (pg_exec(&f->admin, &res, err, sizeof(err), q, 0, NULL) != 0)
		fail_msg("%s: %s", q, err);
	assert_int_equal(PQntuples(res), 1);
	assert_int_equal(pg_get_i64(res, 0, 0, &v), 0);
	PQclear(res);
	return v;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512] = "";

	if (f == NULL ||
	    pg_open(&f->admin, dsn(), "test-admin", err, sizeof(err)) != 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	/* Every test starts from an empty database. */
	if (pg_cmd(&f->admin, err, sizeof(err),
		   "DROP TABLE IF EXISTS tlog_tile, tlog_head, tlog_region,"
		   " tlog_site, log_pending, log_done;"
		   " CREATE TABLE IF NOT EXISTS vigil_schema ("
		   " component text PRIMARY KEY, version integer NOT NULL);"
		   " DELETE FROM vigil_schema WHERE component = 'tlog'") != 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	pg_close(&f->admin);
	model_free(&f->m);
	free(f);
	return 0;
}

static int
setup_key(void **state)
{
	(void)state;
	if (note_signer_generate(ORIGIN, NOTE_ED25519, &signer, NULL, 0) != 0)
		return -1;
	note_signer_verifier(signer, &verifier);
	return 0;
}

static int
teardown_key(void **state)
{
	(void)state;
	note_signer_free(signer);
	return 0;
}

static struct tlog_pg *
pg_handle(const char *app)
{
	struct tlog_pg *tp = NULL;
	char err[512] = "";
	int rc = tlog_pg_open(dsn(), app, &tp, err, sizeof(err));

	if (rc != 0)
		fail_msg("tlog_pg_open: %s: %s", vg_strerror(rc), err);
	return tp;
}

/* A handle that holds the lease (it must get it). */
static struct tlog_pg *
sequencer(const char *app)
{
	struct tlog_pg *tp = pg_handle(app);
	char err[512] = "";
	bool held = false;

	if (tlog_pg_lease(tp, &held, err, sizeof(err)) != 0)
		fail_msg("lease: %s", err);
	assert_true(held);
	return tp;
}

static struct tlog_log *
open_on(struct tlog_pg *tp)
{
	struct tlog_log *l = NULL;
	char err[512] = "";
	int rc = tlog_log_open_backend(tlog_pg_backend(tp), ORIGIN, signer,
				       NULL, &l, err, sizeof(err));

	if (rc != 0)
		fail_msg("open: %s: %s", vg_strerror(rc), err);
	return l;
}

/* The published size and root, from the checkpoint. */
static void
published(struct tlog_log *l, uint64_t *size, struct merkle_hash *root)
{
	struct checkpoint c;

	get_checkpoint(l, &c);
	*size = c.size;
	*root = c.root;
	checkpoint_clear(&c);
}

/* Appends one batch of n entries of generation gen; returns its code. */
static int
try_append(struct tlog_log *l, uint64_t from, size_t n, uint64_t gen,
	   uint64_t *first)
{
	static uint8_t buf[1024][64];
	struct tile_entry e[1024];
	char err[512] = "";
	int rc;

	assert_true(n <= 1024);
	for (size_t i = 0; i < n; i++) {
		e[i].data = buf[i];
		e[i].len = entry_bytes(from + i, gen, buf[i]);
	}
	rc = tlog_log_append(l, e, n, first, err, sizeof(err));
	if (rc != 0)
		print_message("append refused: %s\n", err);
	return rc;
}

static void
test_appends_serve_what_the_model_holds(void **state)
{
	static const size_t sizes[] = {1, 3, 255, 256, 1, 300, 17};
	struct fx *f = *state;
	struct tlog_pg *tp = sequencer("seq"), *rp;
	struct tlog_log *l = open_on(tp), *r;

	check_log(l, &f->m, NULL);
	append_batches(l, &f->m, 1100, 1, sizes, 7);
	check_log(l, &f->m, NULL);
	/* A handle that does not hold the lease reads the same log. */
	rp = pg_handle("reader");
	r = open_on(rp);
	check_log(r, &f->m, NULL);
	tlog_log_close(r);
	tlog_pg_close(rp);
	/* And so does a new sequencer, after the first is gone. */
	tlog_log_close(l);
	tlog_pg_close(tp);
	tp = sequencer("seq2");
	l = open_on(tp);
	check_log(l, &f->m, NULL);
	append_batches(l, &f->m, 50, 2, sizes, 7);
	check_log(l, &f->m, NULL);
	tlog_log_close(l);
	tlog_pg_close(tp);
}

static void
test_a_log_without_a_lease_is_not_created(void **state)
{
	struct tlog_pg *tp = pg_handle("reader");
	struct tlog_log *l = NULL;
	char err[512] = "";
	uint64_t first;

	(void)state;
	assert_int_not_equal(tlog_log_open_backend(tlog_pg_backend(tp), ORIGIN,
						   signer, NULL, &l, err,
						   sizeof(err)),
			     0);
	assert_null(l);
	assert_non_null(strstr(err, "lease"));
	tlog_pg_close(tp);
	/* And a reader of a log appends nothing. */
	tp = sequencer("seq");
	l = open_on(tp);
	tlog_pg_unlease(tp);
	assert_int_equal(try_append(l, 0, 1, 1, &first), VG_EIO);
	assert_true(tlog_log_size(l) == 0);
	tlog_log_close(l);
	tlog_pg_close(tp);
}

/*
 * A sequences and publishes; its session dies (as in a failover); B takes
 * the lease and goes on. A appends nothing, not even once it is
 * connected again, and every checkpoint A published is a prefix of B's
 * tree.
 */
static void
test_a_lease_taken_over_appends_nothing(void **state)
{
	static const size_t sizes[] = {7, 256, 1, 40};
	struct fx *f = *state;
	struct tlog_pg *a = sequencer("node-a"), *b = pg_handle("node-b");
	struct tlog_log *la = open_on(a), *lb;
	struct merkle_hash roots[16], proof[MERKLE_PROOF_MAX], rb;
	uint64_t sizes_a[16], sb, first;
	char err[512] = "";
	bool held = true;
	size_t k = 0, n;

	for (; k < 8; k++) {
		append_batches(la, &f->m, 37 + 29 * k, 1, sizes, 4);
		published(la, &sizes_a[k], &roots[k]);
	}
	/* B waits while A's session holds the lock. */
	assert_int_equal(tlog_pg_lease(b, &held, err, sizeof(err)), 0);
	assert_false(held);
	/* A's session dies. */
	assert_true(sql_i64(f, "SELECT count(pg_terminate_backend(pid))"
			       " FROM pg_locks WHERE locktype = 'advisory'"
			       " AND granted") == 1);
	/* The lock goes with A's backend once it has exited, a moment
	 * after pg_terminate_backend() returns: B tries again, as the
	 * node's lease thread does. */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(tlog_pg_lease(b, &held, err, sizeof(err)), 0);
		if (held)
			break;
		usleep(50000);
	}
	assert_true(held);
	lb = open_on(b);
	/* A cannot append: its session is gone. */
	assert_int_not_equal(try_append(la, f->m.n, 5, 9, &first), 0);
	/* B goes on. */
	append_batches(lb, &f->m, 300, 1, sizes, 4);
	/* A, connected again, does not get the lease back, and its old
	 * epoch appends nothing even on a live session. */
	assert_int_equal(tlog_pg_lease(a, &held, err, sizeof(err)), 0);
	assert_false(held);
	assert_int_not_equal(try_append(la, f->m.n, 5, 9, &first), 0);
	assert_true(sql_i64(f, "SELECT size FROM tlog_head") ==
		    (int64_t)f->m.n);
	check_log(lb, &f->m, NULL);
	/* Every checkpoint A published is a prefix of B's tree. */
	published(lb, &sb, &rb);
	for (size_t i = 0; i < k; i++) {
		assert_int_equal(tlog_log_prove_consistency(lb, sizes_a[i], sb,
							    proof, &n),
				 0);
		if (merkle_verify_consistency(sizes_a[i], sb, &roots[i], &rb,
					      proof, n, err, sizeof(err)) != 0)
			fail_msg("checkpoint %zu of A: %s", i, err);
	}
	tlog_log_close(la);
	tlog_log_close(lb);
	tlog_pg_close(a);
	tlog_pg_close(b);
}

/*
 * The fence alone: another holder's epoch in the head (as a node that
 * took the lease over writes it) makes a live session's batch fail, and
 * the head and the tiles stay as they were.
 */
static void
test_a_batch_the_fence_refuses_leaves_the_head(void **state)
{
	static const size_t sizes[] = {100};
	struct fx *f = *state;
	struct tlog_pg *tp = sequencer("seq");
	struct tlog_log *l = open_on(tp);
	struct merkle_hash r1, r2;
	uint64_t s1, s2, first;
	int64_t tiles, epoch;
	char *cp1, *cp2;
	size_t len;

	append_batches(l, &f->m, 300, 1, sizes, 1);
	published(l, &s1, &r1);
	assert_int_equal(tlog_log_checkpoint(l, &cp1, &len, NULL), 0);
	tiles = sql_i64(f, "SELECT count(*) FROM tlog_tile");
	epoch = sql_i64(f, "SELECT epoch FROM tlog_head");
	assert_true(epoch == tlog_pg_epoch(tp));
	sql(f, "UPDATE tlog_head SET epoch = epoch + 1");
	assert_int_equal(try_append(l, f->m.n, 20, 1, &first), VG_EIO);
	/* Nothing moved: not the head, not the tiles, not what l serves. */
	assert_true(sql_i64(f, "SELECT count(*) FROM tlog_tile") == tiles);
	assert_true(sql_i64(f, "SELECT size FROM tlog_head") == (int64_t)s1);
	published(l, &s2, &r2);
	assert_true(s1 == s2);
	assert_memory_equal(r1.b, r2.b, MERKLE_HASH_LEN);
	assert_int_equal(tlog_log_checkpoint(l, &cp2, &len, NULL), 0);
	assert_string_equal(cp1, cp2);
	free(cp2);
	{
		PGresult *res = NULL;
		char err[256] = "";

		assert_int_equal(pg_exec(&f->admin, &res, err, sizeof(err),
					 "SELECT checkpoint FROM tlog_head", 0,
					 NULL),
				 0);
		assert_string_equal(PQgetvalue(res, 0, 0), cp1);
		PQclear(res);
	}
	free(cp1);
	/* The handle gave the lease up: it sees another epoch. */
	assert_false(tlog_pg_leased(tp));
	check_log(l, &f->m, NULL);
	tlog_log_close(l);
	tlog_pg_close(tp);
}

/* A batch whose session is killed (before its commit) leaves the head;
 * the next sequencer goes on from it. */
static void
test_a_batch_whose_session_dies_leaves_the_head(void **state)
{
	static const size_t sizes[] = {64};
	struct fx *f = *state;
	struct tlog_pg *tp = sequencer("seq");
	struct tlog_log *l = open_on(tp);
	uint64_t first;
	int64_t size;

	append_batches(l, &f->m, 128, 1, sizes, 1);
	size = sql_i64(f, "SELECT size FROM tlog_head");
	sql(f, "SELECT pg_terminate_backend(pid) FROM pg_locks"
	       " WHERE locktype = 'advisory' AND granted");
	assert_int_not_equal(try_append(l, f->m.n, 10, 1, &first), 0);
	assert_true(sql_i64(f, "SELECT size FROM tlog_head") == size);
	assert_true(tlog_log_size(l) == (uint64_t)size);
	tlog_log_close(l);
	tlog_pg_close(tp);
	tp = sequencer("seq2");
	l = open_on(tp);
	append_batches(l, &f->m, 10, 2, sizes, 1);
	check_log(l, &f->m, NULL);
	tlog_log_close(l);
	tlog_pg_close(tp);
}

static void
open_corrupt(const char *what)
{
	struct tlog_pg *tp = sequencer("seq");
	struct tlog_log *l = NULL;
	char err[512] = "";
	int rc = tlog_log_open_backend(tlog_pg_backend(tp), ORIGIN, signer,
				       NULL, &l, err, sizeof(err));

	if (rc != VG_ECORRUPT)
		fail_msg("%s: open gave %s (%s), not VG_ECORRUPT", what,
			 vg_strerror(rc), err);
	assert_null(l);
	tlog_pg_close(tp);
}

static void
test_rows_that_disagree_make_open_refuse(void **state)
{
	static const size_t sizes[] = {300};
	struct fx *f = *state;
	struct tlog_pg *tp = sequencer("seq");
	struct tlog_log *l = open_on(tp);

	append_batches(l, &f->m, 300, 1, sizes, 1);
	tlog_log_close(l);
	tlog_pg_close(tp);
	/* The rightmost level-0 tile (300 = 256 + 44). */
	sql(f, "CREATE TABLE saved AS SELECT * FROM tlog_tile");
	sql(f, "UPDATE tlog_tile SET data = set_byte(data, 3,"
	       " get_byte(data, 3) # 1) WHERE path = 'tile/0/001.p/44'");
	open_corrupt("a flipped hash tile");
	sql(f, "DELETE FROM tlog_tile; INSERT INTO tlog_tile"
	       " SELECT * FROM saved");
	/* The partial bundle. */
	sql(f, "UPDATE tlog_tile SET data = set_byte(data, 5,"
	       " get_byte(data, 5) # 1) WHERE path = 'tile/entries/001.p/44'");
	open_corrupt("a flipped entry bundle");
	sql(f, "DELETE FROM tlog_tile; INSERT INTO tlog_tile"
	       " SELECT * FROM saved");
	/* A missing tile. */
	sql(f, "DELETE FROM tlog_tile WHERE path = 'tile/0/001.p/44'");
	open_corrupt("a missing tile");
	sql(f, "DELETE FROM tlog_tile; INSERT INTO tlog_tile"
	       " SELECT * FROM saved");
	/* A head ahead of its tiles, and a checkpoint of another size. */
	sql(f, "CREATE TABLE savedh AS SELECT * FROM tlog_head");
	sql(f, "UPDATE tlog_head SET size = 301");
	open_corrupt("a head beyond the tiles");
	sql(f, "DELETE FROM tlog_head; INSERT INTO tlog_head"
	       " SELECT * FROM savedh");
	sql(f, "UPDATE tlog_head SET checkpoint = replace(checkpoint,"
	       " E'\\n300\\n', E'\\n299\\n')");
	open_corrupt("a checkpoint that does not verify");
	sql(f, "DELETE FROM tlog_head; INSERT INTO tlog_head"
	       " SELECT * FROM savedh");
	/* Put back, it opens. */
	tp = sequencer("seq");
	l = open_on(tp);
	check_log(l, &f->m, NULL);
	tlog_log_close(l);
	tlog_pg_close(tp);
}

/* A follower publishes the sequencer's head once it extends its own, and
 * refuses a head that does not. */
static void
test_a_follower_publishes_only_heads_that_extend_its_own(void **state)
{
	static const size_t sizes[] = {50, 1, 206};
	struct fx *f = *state;
	struct tlog_pg *tp = sequencer("seq"), *rp = pg_handle("reader");
	struct tlog_log *l = open_on(tp), *r;
	char err[512] = "";
	uint64_t s;
	struct merkle_hash root;

	append_batches(l, &f->m, 100, 1, sizes, 3);
	r = open_on(rp);
	append_batches(l, &f->m, 400, 1, sizes, 3);
	assert_true(tlog_log_size(r) == 100);
	assert_int_equal(tlog_log_refresh(r, err, sizeof(err)), 0);
	check_log(r, &f->m, NULL);
	/* A forked head (another tree of a larger size, signed with the
	 * log's key) is refused and nothing changes. */
	tlog_log_close(l);
	tlog_pg_close(tp);
	tp = sequencer("seq2");
	{
		/* Start the log again from nothing, as a lost database
		 * would, and grow a different, larger tree. */
		struct model m2 = {0};
		static const size_t one[] = {256};

		sql(f, "UPDATE tlog_head SET size = 0, checkpoint = NULL,"
		       " root = decode('e3b0c44298fc1c149afbf4c8996fb924"
		       "27ae41e4649b934ca495991b7852b855', 'hex')");
		sql(f, "DELETE FROM tlog_tile");
		l = open_on(tp);
		append_batches(l, &m2, 600, 77, one, 1);
		model_free(&m2);
	}
	published(r, &s, &root);
	assert_int_equal(tlog_log_refresh(r, err, sizeof(err)), VG_ECORRUPT);
	assert_true(tlog_log_size(r) == s);
	tlog_log_close(l);
	tlog_log_close(r);
	tlog_pg_close(tp);
	tlog_pg_close(rp);
}

/* Appends a follower hands over are appended once, by the sequencer's
 * next batch; a batch that dies leaves them for the next; a cancelled
 * row is never appended. */
static void
test_pending_rows_are_appended_once(void **state)
{
	struct fx *f = *state;
	struct tlog_pg *tp = sequencer("seq"), *fp = pg_handle("follower");
	struct tlog_log *l = open_on(tp);
	const struct tile_entry *pe;
	struct tile_entry e[3];
	uint8_t buf[3][64], *data;
	uint64_t first, size, got_first, got_size;
	int64_t id, id2;
	char err[512] = "";
	bool appended;
	size_t n, len;

	for (int i = 0; i < 3; i++) {
		e[i].data = buf[i];
		e[i].len = entry_bytes((uint64_t)i, 5, buf[i]);
	}
	assert_int_equal(tlog_pg_pending_add(fp, e, 3, &id, err, sizeof(err)),
			 0);
	assert_int_equal(
		tlog_pg_pending_result(fp, id, &first, &size, err, sizeof(err)),
		VG_ENOENT);
	/* A sequencer takes the row and dies before its commit. */
	assert_int_equal(
		tlog_pg_pending_take(tp, 16, &pe, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	tlog_pg_batch_abort(tp);
	assert_true(sql_i64(f, "SELECT count(*) FROM log_pending") == 1);
	/* The next batch appends it (a sequencer's own entries would
	 * follow the taken rows'). */
	assert_int_equal(
		tlog_pg_pending_take(tp, 16, &pe, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(tlog_log_append(l, pe, n, &first, err, sizeof(err)),
			 0);
	assert_true(sql_i64(f, "SELECT count(*) FROM log_pending") == 0);
	assert_int_equal(tlog_pg_pending_result(fp, id, &got_first, &got_size,
						err, sizeof(err)),
			 0);
	assert_true(got_first == first && got_size == first + 3);
	for (uint64_t i = 0; i < 3; i++) {
		assert_int_equal(tlog_log_entry(l, got_first + i, &data, &len),
				 0);
		assert_int_equal(len, e[i].len);
		assert_memory_equal(data, e[i].data, len);
		free(data);
	}
	/* Read once: the record is gone. */
	assert_int_equal(tlog_pg_pending_result(fp, id, &got_first, &got_size,
						err, sizeof(err)),
			 VG_ENOENT);
	/* A nothing-to-take batch. */
	assert_int_equal(
		tlog_pg_pending_take(tp, 16, &pe, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	tlog_pg_batch_abort(tp);
	/* A cancelled row is never appended. */
	assert_int_equal(tlog_pg_pending_add(fp, e, 1, &id2, err, sizeof(err)),
			 0);
	assert_int_equal(tlog_pg_pending_cancel(fp, id2, &appended, &first,
						&size, err, sizeof(err)),
			 0);
	assert_false(appended);
	assert_int_equal(
		tlog_pg_pending_take(tp, 16, &pe, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	tlog_pg_batch_abort(tp);
	/* A malformed row is refused, with its reason, and the batch that
	 * refuses it still commits. */
	sql(f, "INSERT INTO log_pending (entries) VALUES ('\\x0000ffff01')");
	id2 = sql_i64(f, "SELECT max(id) FROM log_pending");
	assert_int_equal(tlog_pg_pending_add(fp, e, 2, &id, err, sizeof(err)),
			 0);
	assert_int_equal(
		tlog_pg_pending_take(tp, 16, &pe, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(tlog_log_append(l, pe, n, &first, err, sizeof(err)),
			 0);
	assert_int_equal(tlog_pg_pending_result(fp, id2, &got_first, &got_size,
						err, sizeof(err)),
			 VG_EINVAL);
	assert_int_equal(tlog_pg_pending_result(fp, id, &got_first, &got_size,
						err, sizeof(err)),
			 0);
	assert_true(got_first == first);
	tlog_log_close(l);
	tlog_pg_close(tp);
	tlog_pg_close(fp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_appends_serve_what_the_model_holds, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_log_without_a_lease_is_not_created, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_lease_taken_over_appends_nothing, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_batch_the_fence_refuses_leaves_the_head, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_batch_whose_session_dies_leaves_the_head, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_rows_that_disagree_make_open_refuse, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_follower_publishes_only_heads_that_extend_its_own,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pending_rows_are_appended_once, setup, teardown),
	};

	return cmocka_run_group_tests(tests, setup_key, teardown_key);
}
