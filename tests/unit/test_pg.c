/*
 * test_pg.c - the shared libpq layer (src/store/pg.c) against a real
 * PostgreSQL server: run through tests/pg/pg-run, which starts one and
 * exports VIGIL_TEST_PG_DSN. Without it every test fails: a test of the
 * PostgreSQL layer that runs without PostgreSQL proves nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "store/pg.h"
#include "store/pgfeed.h"

#include <pthread.h>
#include <unistd.h>

static const char *
dsn(void)
{
	const char *d = getenv("VIGIL_TEST_PG_DSN");

	if (d == NULL || *d == '\0')
		fail_msg("VIGIL_TEST_PG_DSN is not set: run under "
			 "tests/pg/pg-run");
	return d;
}

/* A fresh, empty public schema for each test. */
static int
setup(void **state)
{
	struct pg *p = calloc(1, sizeof(*p));
	char err[512];

	assert_non_null(p);
	if (pg_open(p, dsn(), "test_pg", err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(pg_cmd(p, err, sizeof(err),
				"DROP SCHEMA public CASCADE;"
				" CREATE SCHEMA public"),
			 0);
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	pg_close(*state);
	free(*state);
	return 0;
}

static void
test_malformed_dsn_is_einval(void **state)
{
	struct pg p;
	char err[512];

	(void)state;
	assert_int_equal(
		pg_open(&p, "host='unterminated", "t", err, sizeof(err)),
		VG_EINVAL);
	assert_non_null(strstr(err, "malformed DSN"));
	assert_int_equal(pg_open(&p, "nosuchkey=1", "t", err, sizeof(err)),
			 VG_EINVAL);
}

static void
test_unreachable_is_eio_quickly(void **state)
{
	struct pg p;
	char err[512];
	time_t t0 = time(NULL);

	(void)state;
	/* Port 1 on loopback: refused at once, on both hosts. */
	assert_int_equal(pg_open(&p,
				 "host=127.0.0.1,127.0.0.1 port=1,1 dbname=x "
				 "user=x password=secret",
				 "t", err, sizeof(err)),
			 VG_EIO);
	assert_true(time(NULL) - t0 < 10);
	assert_null(strstr(err, "secret"));
	assert_non_null(strstr(err, "host=127.0.0.1,127.0.0.1"));
	assert_true(pg_lost(&p));
	pg_close(&p);
}

static void
test_dsn_public_hides_password(void **state)
{
	char buf[256];

	(void)state;
	pg_dsn_public("host=a,b port=5432 dbname=vigil user=u password=hunter2",
		      buf, sizeof(buf));
	assert_string_equal(buf, "host=a,b port=5432 dbname=vigil");
	pg_dsn_public("postgresql://u:hunter2@h:5433/db", buf, sizeof(buf));
	assert_null(strstr(buf, "hunter2"));
	assert_non_null(strstr(buf, "host=h"));
}

static const char *const steps_v2[] = {
	"CREATE TABLE t1 (a integer PRIMARY KEY)",
	"CREATE TABLE t2 (b bytea); ALTER TABLE t1 ADD COLUMN c text",
};

static void
test_migrate_once_and_refuse_newer(void **state)
{
	struct pg *p = *state;
	char err[512];
	PGresult *res;
	int64_t v;

	assert_int_equal(pg_migrate(p, "x", steps_v2, 1, err, sizeof(err)), 0);
	assert_int_equal(pg_migrate(p, "x", steps_v2, 2, err, sizeof(err)), 0);
	/* Again: nothing to do (a second CREATE TABLE would fail). */
	assert_int_equal(pg_migrate(p, "x", steps_v2, 2, err, sizeof(err)), 0);
	assert_int_equal(pg_exec(p, &res, err, sizeof(err),
				 "SELECT version FROM vigil_schema"
				 " WHERE component = 'x'",
				 0, NULL),
			 0);
	assert_int_equal(pg_get_i64(res, 0, 0, &v), 0);
	assert_int_equal(v, 2);
	PQclear(res);
	/* An older build: refused, and nothing is written. */
	assert_int_equal(pg_migrate(p, "x", steps_v2, 1, err, sizeof(err)),
			 VG_EINVAL);
	assert_non_null(strstr(err, "newer"));
	/* Another component has its own version. */
	assert_int_equal(pg_migrate(p, "y", steps_v2, 0, err, sizeof(err)), 0);
}

static const char *const steps_bad[] = {
	"CREATE TABLE t3 (a integer)",
	"CREATE TABLE t4 (a integer); SELECT no_such_function()",
};

static void
test_failed_step_rolls_back(void **state)
{
	struct pg *p = *state;
	char err[512];
	PGresult *res;
	int64_t v;

	assert_int_equal(pg_migrate(p, "z", steps_bad, 2, err, sizeof(err)),
			 VG_EIO);
	assert_non_null(strstr(err, "step 2"));
	/* Step 1 stays, step 2 left nothing (t4 does not exist). */
	assert_int_equal(pg_exec(p, &res, err, sizeof(err),
				 "SELECT version, to_regclass('t4') IS NULL"
				 " FROM vigil_schema WHERE component = 'z'",
				 0, NULL),
			 0);
	assert_int_equal(pg_get_i64(res, 0, 0, &v), 0);
	assert_int_equal(v, 1);
	assert_string_equal(PQgetvalue(res, 0, 1), "t");
	PQclear(res);
}

static void
test_params_bytea_and_sqlstate(void **state)
{
	struct pg *p = *state;
	char err[512];
	PGresult *res;
	const uint8_t bin[5] = {0, 1, 0xff, '\'', 0};
	const char *params[2] = {"'); DROP TABLE k; --", (const char *)bin};
	int lens[2] = {0, sizeof(bin)}, fmts[2] = {0, 1};
	uint8_t *out;
	size_t n;

	assert_int_equal(pg_cmd(p, err, sizeof(err),
				"CREATE TABLE k (s text PRIMARY KEY, b bytea)"),
			 0);
	assert_int_equal(pg_exec_bin(p, NULL, err, sizeof(err),
				     "INSERT INTO k VALUES ($1, $2)", 2, params,
				     lens, fmts),
			 0);
	/* A second row with the same key: the SQLSTATE says why. */
	assert_int_equal(pg_exec_bin(p, NULL, err, sizeof(err),
				     "INSERT INTO k VALUES ($1, $2)", 2, params,
				     lens, fmts),
			 VG_EIO);
	assert_string_equal(pg_sqlstate(p), "23505");
	assert_non_null(strstr(err, "23505"));
	assert_int_equal(pg_exec(p, &res, err, sizeof(err),
				 "SELECT b, s FROM k", 0, NULL),
			 0);
	assert_string_equal(pg_sqlstate(p), "");
	assert_int_equal(pg_get_bytea(res, 0, 0, 16, &out, &n), 0);
	assert_int_equal(n, sizeof(bin));
	assert_memory_equal(out, bin, sizeof(bin));
	free(out);
	/* Longer than allowed, and not a bytea: refused. */
	assert_int_equal(pg_get_bytea(res, 0, 0, 4, &out, &n), VG_ECORRUPT);
	assert_null(out);
	assert_int_equal(pg_get_bytea(res, 0, 1, 64, &out, &n), VG_ECORRUPT);
	assert_string_equal(PQgetvalue(res, 0, 1), params[0]);
	PQclear(res);
}

static void
test_lost_session_and_reconnect(void **state)
{
	struct pg *p = *state, q;
	char err[512], pid[24];
	const char *params[1] = {pid};

	snprintf(pid, sizeof(pid), "%d", PQbackendPID(p->conn));
	assert_int_equal(pg_open(&q, dsn(), "killer", err, sizeof(err)), 0);
	assert_int_equal(pg_exec(&q, NULL, err, sizeof(err),
				 "SELECT pg_terminate_backend($1::int)", 1,
				 params),
			 0);
	pg_close(&q);
	assert_int_equal(pg_cmd(p, err, sizeof(err), "SELECT 1"), VG_EIO);
	assert_true(pg_lost(p));
	assert_int_equal(pg_reconnect(p, err, sizeof(err)), 0);
	assert_false(pg_lost(p));
	assert_int_equal(pg_cmd(p, err, sizeof(err), "SELECT 1"), 0);
}

/* What the feed handed over. */
struct seen {
	pthread_mutex_t mu;
	int rep, retr, resync;
	char last[65];
};

static void
on_change(void *ud, enum pgfeed_event ev, const char *sha256)
{
	struct seen *w = ud;

	pthread_mutex_lock(&w->mu);
	if (ev == PGFEED_REPUTATION)
		w->rep++;
	else if (ev == PGFEED_RETRACTION)
		w->retr++;
	else
		w->resync++;
	if (sha256 != NULL)
		snprintf(w->last, sizeof(w->last), "%s", sha256);
	pthread_mutex_unlock(&w->mu);
}

/* Waits up to 5 s for *n (under w's lock) to reach want. */
static bool
wait_count(struct seen *w, int *n, int want)
{
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&w->mu);
		int have = *n;
		pthread_mutex_unlock(&w->mu);
		if (have >= want)
			return true;
		usleep(10000);
	}
	return false;
}

static void
test_feed_delivers_and_recovers(void **state)
{
	struct pg *p = *state;
	struct seen w = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct pgfeed *f;
	char err[512], why[320], pid[24];
	const char *a = "0123456789abcdef0123456789abcdef"
			"0123456789abcdef0123456789abcdef";
	const char *params[1];
	PGresult *res;

	assert_int_equal(pgfeed_open(dsn(), "test_feed", NULL, on_change, &w,
				     &f, err, sizeof(err)),
			 0);
	/* Sent before the feed runs: held, then delivered. */
	assert_int_equal(pg_cmd(p, err, sizeof(err),
				"SELECT pg_notify('vigil_reputation', '"
				"0123456789abcdef0123456789abcdef"
				"0123456789abcdef0123456789abcdef')"),
			 0);
	assert_int_equal(pgfeed_run(f), 0);
	assert_true(wait_count(&w, &w.rep, 1));
	assert_string_equal(w.last, a);
	/* Two hashes and junk in one payload; junk is skipped. */
	assert_int_equal(pg_cmd(p, err, sizeof(err),
				"SELECT pg_notify('vigil_reputation', '"
				"0123456789abcdef0123456789abcdef"
				"0123456789abcdef0123456789abcdef  ABCD x;drop "
				"ffffffffffffffffffffffffffffffff"
				"ffffffffffffffffffffffffffffffff'),"
				" pg_notify('vigil_retraction', '"
				"0123456789abcdef0123456789abcdef"
				"0123456789abcdef0123456789abcdef'),"
				" pg_notify('other', 'x')"),
			 0);
	assert_true(wait_count(&w, &w.retr, 1));
	assert_true(wait_count(&w, &w.rep, 3));
	assert_int_equal(w.rep, 3);
	assert_true(pgfeed_healthy(f, why, sizeof(why)));
	/* Its session killed: it comes back, and asks for a resync. */
	assert_int_equal(pg_exec(p, &res, err, sizeof(err),
				 "SELECT pid FROM pg_stat_activity"
				 " WHERE application_name = 'test_feed'",
				 0, NULL),
			 0);
	assert_int_equal(PQntuples(res), 1);
	snprintf(pid, sizeof(pid), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	params[0] = pid;
	assert_int_equal(pg_exec(p, NULL, err, sizeof(err),
				 "SELECT pg_terminate_backend($1::int)", 1,
				 params),
			 0);
	assert_true(wait_count(&w, &w.resync, 1));
	assert_true(pgfeed_healthy(f, why, sizeof(why)));
	assert_int_equal(pg_cmd(p, err, sizeof(err),
				"SELECT pg_notify('vigil_retraction', '"
				"0123456789abcdef0123456789abcdef"
				"0123456789abcdef0123456789abcdef')"),
			 0);
	assert_true(wait_count(&w, &w.retr, 2));
	pgfeed_close(f);
}

/* What the node's own sessions notify is passed over; another session's
 * is delivered. */
static void
test_feed_passes_over_its_own(void **state)
{
	struct pg *p = *state, own;
	struct seen w = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct pgfeed *f;
	char err[512];
	static const char note[] = "SELECT pg_notify('vigil_reputation', '"
				   "0123456789abcdef0123456789abcdef"
				   "0123456789abcdef0123456789abcdef')";

	assert_int_equal(
		pg_open(&own, dsn(), "vigil store zrh1/h/1", err, sizeof(err)),
		0);
	assert_int_equal(pgfeed_open(dsn(), "test_feed", "vigil store zrh1/h/1",
				     on_change, &w, &f, err, sizeof(err)),
			 0);
	assert_int_equal(pgfeed_run(f), 0);
	assert_int_equal(pg_cmd(&own, err, sizeof(err), note), 0);
	assert_int_equal(pg_cmd(p, err, sizeof(err), note), 0);
	assert_true(wait_count(&w, &w.rep, 1));
	for (int i = 0; i < 100 && pgfeed_own(f) == 0; i++)
		usleep(10000);
	assert_int_equal(pgfeed_own(f), 1);
	usleep(200000);
	assert_int_equal(w.rep, 1);
	pgfeed_close(f);
	pg_close(&own);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malformed_dsn_is_einval),
		cmocka_unit_test(test_unreachable_is_eio_quickly),
		cmocka_unit_test(test_dsn_public_hides_password),
		cmocka_unit_test_setup_teardown(
			test_migrate_once_and_refuse_newer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_step_rolls_back,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_bytea_and_sqlstate,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_session_and_reconnect,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_feed_delivers_and_recovers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_feed_passes_over_its_own,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
