/*
 * tlog_pg.c - the region's transparency log in PostgreSQL; see
 * tlog_pg.h.
 *
 * Owns the lease connection (the sequencer's session: its advisory lock,
 * its batches) and a pool of reader connections. Nothing here knows the
 * tiled log's rules: log.c plans, checks and signs, and calls the backend
 * below for storage, one transaction per batch.
 */
#include "store/tlog_pg.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/xmalloc.h"
#include "store/pg.h"
#include "tlog/merkle.h"

static const char *const schema[] = {
	/* 1 */
	"CREATE TABLE tlog_tile ("
	" path text PRIMARY KEY,"
	" data bytea NOT NULL);"
	"CREATE TABLE tlog_head ("
	" id integer PRIMARY KEY CHECK (id = 1),"
	" size bigint NOT NULL CHECK (size >= 0),"
	" root bytea NOT NULL,"
	" checkpoint text,"
	" epoch bigint NOT NULL);"
	"CREATE TABLE tlog_region ("
	" id integer PRIMARY KEY CHECK (id = 1),"
	" origin text NOT NULL,"
	" log_key text NOT NULL,"
	" sample_key text NOT NULL,"
	" region text NOT NULL,"
	" created timestamptz NOT NULL DEFAULT now());"
	"CREATE TABLE tlog_site ("
	" site text PRIMARY KEY,"
	" settings text NOT NULL,"
	" updated timestamptz NOT NULL DEFAULT now());"
	"CREATE TABLE log_pending ("
	" id bigserial PRIMARY KEY,"
	" entries bytea NOT NULL,"
	" added timestamptz NOT NULL DEFAULT now());"
	"CREATE TABLE log_done ("
	" pending_id bigint PRIMARY KEY,"
	" idx bigint,"
	" size bigint,"
	" error text,"
	" done timestamptz NOT NULL DEFAULT now())",
};

/* A pending row the open batch took. */
struct taken {
	int64_t id;
	size_t off, n; /* its entries in the batch */
	char *error;   /* refused: why (malloc'd), else NULL */
};

struct tlog_pg {
	struct tlog_backend be;

	/* The lease connection and the batch on it: one thread at a time
	 * (tlog_pg.h). */
	struct pg w;
	bool leased;
	int64_t epoch;
	bool in_tx;
	struct taken *tk;
	size_t ntk, captk;
	struct tile_entry *pe; /* the taken rows' entries */
	size_t npe, cappe;
	uint8_t **pbuf; /* their rows' bytes, which pe points into */
	size_t npbuf;

	/* The readers' pool. */
	pthread_mutex_t rlock;
	pthread_cond_t rcond;
	struct pg r[TLOG_PG_READERS];
	bool rbusy[TLOG_PG_READERS];
	char dsn[PG_DSN_MAX + 1], app[64];
};

/* ---- connections ---- */

/* Takes a reader connection, open, waiting for one to be free. */
static struct pg *
reader_get(struct tlog_pg *tp, char *err, size_t errlen, int *rc)
{
	struct pg *p = NULL;

	pthread_mutex_lock(&tp->rlock);
	for (;;) {
		for (size_t i = 0; i < TLOG_PG_READERS && p == NULL; i++)
			if (!tp->rbusy[i]) {
				tp->rbusy[i] = true;
				p = &tp->r[i];
			}
		if (p != NULL)
			break;
		pthread_cond_wait(&tp->rcond, &tp->rlock);
	}
	pthread_mutex_unlock(&tp->rlock);
	*rc = 0;
	if (p->conn == NULL)
		*rc = pg_open(p, tp->dsn, tp->app, err, errlen);
	else if (pg_lost(p))
		*rc = pg_reconnect(p, err, errlen);
	return p;
}

static void
reader_put(struct tlog_pg *tp, struct pg *p)
{
	pthread_mutex_lock(&tp->rlock);
	tp->rbusy[p - tp->r] = false;
	pthread_cond_signal(&tp->rcond);
	pthread_mutex_unlock(&tp->rlock);
}

/* Runs one statement on a reader connection, once more on a new session
 * if the first was lost (reads and single autocommitted statements whose
 * effect the caller checks can be repeated). */
static int
reader_exec(struct tlog_pg *tp, PGresult **res, char *err, size_t errlen,
	    const char *sql, int n, const char *const *params, const int *lens,
	    const int *formats)
{
	struct pg *p;
	int rc;

	p = reader_get(tp, err, errlen, &rc);
	if (rc == 0) {
		rc = pg_exec_bin(p, res, err, errlen, sql, n, params, lens,
				 formats);
		if (rc != 0 && pg_lost(p) && pg_reconnect(p, err, errlen) == 0)
			rc = pg_exec_bin(p, res, err, errlen, sql, n, params,
					 lens, formats);
	}
	reader_put(tp, p);
	return rc;
}

/* The connection of the appender's view: the lease's while held. */
static int
writer_exec(struct tlog_pg *tp, bool writer, PGresult **res, char *err,
	    size_t errlen, const char *sql, int n, const char *const *params)
{
	if (writer && tp->leased)
		return pg_exec(&tp->w, res, err, errlen, sql, n, params);
	return reader_exec(tp, res, err, errlen, sql, n, params, NULL, NULL);
}

/* ---- the backend ---- */

static int
be_read(void *ctx, bool writer, const char *path, size_t max, uint8_t **data,
	size_t *len, char *err, size_t errlen)
{
	struct tlog_pg *tp = ctx;
	const char *params[1] = {path};
	PGresult *res = NULL;
	int rc;

	*data = NULL;
	*len = 0;
	rc = writer_exec(tp, writer, &res, err, errlen,
			 "SELECT data FROM tlog_tile WHERE path = $1", 1,
			 params);
	if (rc != 0)
		return rc;
	if (PQntuples(res) == 0) {
		rc = vg_fail(err, errlen, VG_ENOENT,
			     "tlog_tile %s: no such row", path);
	} else if ((rc = pg_get_bytea(res, 0, 0, max, data, len)) != 0) {
		vg_seterr(err, errlen,
			  "tlog_tile %s: not bytea of at most %zu bytes", path,
			  max);
	} else {
		(*data)[*len] = '\0'; /* pg_get_bytea leaves a byte more */
	}
	PQclear(res);
	return rc;
}

static int
be_head(void *ctx, bool writer, uint64_t *size, struct merkle_hash *root,
	char **cp, size_t *cp_len, char *err, size_t errlen)
{
	struct tlog_pg *tp = ctx;
	PGresult *res = NULL;
	uint8_t *r = NULL;
	size_t rlen;
	int64_t sz;
	int rc;

	*cp = NULL;
	*cp_len = 0;
	rc = writer_exec(tp, writer, &res, err, errlen,
			 "SELECT size, root, checkpoint FROM tlog_head"
			 " WHERE id = 1",
			 0, NULL);
	if (rc != 0)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return vg_fail(err, errlen, VG_ENOENT, "no head row");
	}
	if (pg_get_i64(res, 0, 0, &sz) != 0 || sz < 0 ||
	    pg_get_bytea(res, 0, 1, MERKLE_HASH_LEN, &r, &rlen) != 0 ||
	    rlen != MERKLE_HASH_LEN) {
		rc = vg_fail(err, errlen, VG_ECORRUPT,
			     "tlog_head: a size or root that makes no sense");
		goto out;
	}
	*size = (uint64_t)sz;
	memcpy(root->b, r, MERKLE_HASH_LEN);
	if (!PQgetisnull(res, 0, 2)) {
		*cp_len = (size_t)PQgetlength(res, 0, 2);
		*cp = xmalloc(*cp_len + 1);
		memcpy(*cp, PQgetvalue(res, 0, 2), *cp_len + 1);
	}
out:
	free(r);
	PQclear(res);
	return rc;
}

static void
taken_clear(struct tlog_pg *tp)
{
	for (size_t i = 0; i < tp->ntk; i++)
		free(tp->tk[i].error);
	for (size_t i = 0; i < tp->npbuf; i++)
		free(tp->pbuf[i]);
	free(tp->pbuf);
	tp->pbuf = NULL;
	tp->npbuf = 0;
	tp->ntk = 0;
	tp->npe = 0;
}

static void
be_abort(void *ctx)
{
	struct tlog_pg *tp = ctx;

	if (tp->in_tx)
		(void)pg_cmd(&tp->w, NULL, 0, "ROLLBACK");
	tp->in_tx = false;
	taken_clear(tp);
}

/* After a failed statement of a batch: a lost session lost the lease
 * with it; a head at another epoch means another node took it over, and
 * this one gives up its lock (if it still has it) to compete again. */
static void
lease_check(struct tlog_pg *tp)
{
	char ep[24];
	const char *params[1] = {ep};
	PGresult *res = NULL;

	if (pg_lost(&tp->w)) {
		tp->leased = false;
		return;
	}
	snprintf(ep, sizeof(ep), "%" PRId64, tp->epoch);
	if (pg_exec(&tp->w, &res, NULL, 0,
		    "SELECT 1 FROM tlog_head WHERE id = 1 AND epoch = $1", 1,
		    params) == 0 &&
	    PQntuples(res) == 0) {
		(void)pg_cmd(&tp->w, NULL, 0,
			     "SELECT pg_advisory_unlock(" TLOG_PG_LEASE_KEY
			     ")");
		tp->leased = false;
	}
	PQclear(res);
}

/* The fence: the head row, locked until the batch ends, must be at this
 * lease's epoch and at size. */
static int
be_begin(void *ctx, uint64_t size, char *err, size_t errlen)
{
	struct tlog_pg *tp = ctx;
	char ep[24];
	const char *params[1] = {ep};
	PGresult *res = NULL;
	int64_t have;
	int rc;

	if (!tp->leased)
		return vg_fail(err, errlen, VG_EIO,
			       "postgresql: this node does not hold the log's "
			       "sequencer lease");
	if (!tp->in_tx) {
		if ((rc = pg_cmd(&tp->w, err, errlen, "BEGIN")) != 0)
			return rc;
		tp->in_tx = true;
	}
	snprintf(ep, sizeof(ep), "%" PRId64, tp->epoch);
	rc = pg_exec(&tp->w, &res, err, errlen,
		     "SELECT size FROM tlog_head WHERE id = 1 AND epoch = $1"
		     " FOR UPDATE",
		     1, params);
	if (rc == 0 && PQntuples(res) != 1)
		rc = vg_fail(err, errlen, VG_EIO,
			     "postgresql: the log's sequencer lease was taken "
			     "over (epoch %" PRId64 " is not the head's)",
			     tp->epoch);
	else if (rc == 0 &&
		 (pg_get_i64(res, 0, 0, &have) != 0 || have != (int64_t)size))
		rc = vg_fail(err, errlen, VG_EIO,
			     "postgresql: the head is not at size %" PRIu64
			     ": another sequencer appended",
			     size);
	PQclear(res);
	if (rc != 0) {
		be_abort(tp);
		lease_check(tp);
	}
	return rc;
}

static int
be_put(void *ctx, const char *path, const uint8_t *data, size_t len, char *err,
       size_t errlen)
{
	struct tlog_pg *tp = ctx;
	const char *params[2] = {path, (const char *)data};
	int lens[2] = {0, (int)len};
	int formats[2] = {0, 1};

	if (!tp->in_tx)
		return vg_fail(err, errlen, VG_EINVAL, "no batch is open");
	/* An empty bytea still needs a non-NULL pointer. */
	if (len == 0)
		params[1] = "";
	return pg_exec_bin(&tp->w, NULL, err, errlen,
			   "INSERT INTO tlog_tile (path, data) VALUES ($1, $2)",
			   2, params, lens, formats);
}

/* Records where the taken rows went, and deletes them. */
static int
finish_taken(struct tlog_pg *tp, uint64_t old_size, uint64_t size, char *err,
	     size_t errlen)
{
	char id[24], idx[24], sz[24];
	int rc = 0;

	snprintf(sz, sizeof(sz), "%" PRIu64, size);
	for (size_t i = 0; i < tp->ntk && rc == 0; i++) {
		const struct taken *t = &tp->tk[i];
		const char *params[4] = {id, t->error ? NULL : idx,
					 t->error ? NULL : sz, t->error};

		snprintf(id, sizeof(id), "%" PRId64, t->id);
		snprintf(idx, sizeof(idx), "%" PRIu64, old_size + t->off);
		rc = pg_exec(
			&tp->w, NULL, err, errlen,
			"INSERT INTO log_done (pending_id, idx, size, error)"
			" VALUES ($1, $2, $3, $4)",
			4, params);
		if (rc == 0)
			rc = pg_exec(&tp->w, NULL, err, errlen,
				     "DELETE FROM log_pending WHERE id = $1", 1,
				     params);
	}
	return rc;
}

static int
be_commit(void *ctx, uint64_t old_size, uint64_t size,
	  const struct merkle_hash *root, const char *cp, size_t cp_len,
	  bool *unknown, char *err, size_t errlen)
{
	struct tlog_pg *tp = ctx;
	char ep[24], os[24], ns[24];
	const char *params[5] = {ns, (const char *)root->b, cp, ep, os};
	int lens[5] = {0, MERKLE_HASH_LEN, (int)cp_len, 0, 0};
	int formats[5] = {0, 1, 0, 0, 0};
	PGresult *res = NULL;
	int rc;

	*unknown = false;
	if (!tp->in_tx)
		return vg_fail(err, errlen, VG_EINVAL, "no batch is open");
	snprintf(ep, sizeof(ep), "%" PRId64, tp->epoch);
	snprintf(os, sizeof(os), "%" PRIu64, old_size);
	snprintf(ns, sizeof(ns), "%" PRIu64, size);
	if ((rc = finish_taken(tp, old_size, size, err, errlen)) != 0)
		goto fail;
	/* Records of nodes that never came for them (they died waiting). */
	if (tp->ntk > 0 &&
	    (rc = pg_cmd(&tp->w, err, errlen,
			 "DELETE FROM log_done"
			 " WHERE done < now() - interval '1 hour'")) != 0)
		goto fail;
	rc = pg_exec_bin(&tp->w, &res, err, errlen,
			 "UPDATE tlog_head SET size = $1, root = $2,"
			 " checkpoint = $3"
			 " WHERE id = 1 AND epoch = $4 AND size = $5",
			 5, params, lens, formats);
	if (rc == 0 && strcmp(PQcmdTuples(res), "1") != 0)
		rc = vg_fail(err, errlen, VG_EIO,
			     "postgresql: the fence refused the batch (epoch "
			     "%" PRId64 ", size %" PRIu64 "): the lease was "
			     "taken over",
			     tp->epoch, old_size);
	PQclear(res);
	if (rc != 0)
		goto fail;
	params[0] = ns;
	if ((rc = pg_exec(&tp->w, NULL, err, errlen,
			  "SELECT pg_notify('" TLOG_PG_CHANNEL "', $1)", 1,
			  params)) != 0)
		goto fail;
	tp->in_tx = false;
	taken_clear(tp);
	if ((rc = pg_cmd(&tp->w, err, errlen, "COMMIT")) != 0) {
		/* Lost with the session: committed or not, nobody knows
		 * until the head is read again. */
		*unknown = pg_lost(&tp->w);
		if (*unknown)
			tp->leased = false;
		return rc;
	}
	return 0;
fail:
	be_abort(tp);
	lease_check(tp);
	return rc;
}

/* ---- the handle ---- */

int
tlog_pg_open(const char *dsn, const char *app, struct tlog_pg **out, char *err,
	     size_t errlen)
{
	struct tlog_pg *tp;
	int rc;

	*out = NULL;
	if (dsn == NULL || strlen(dsn) > PG_DSN_MAX || app == NULL ||
	    strlen(app) >= sizeof(tp->app))
		return vg_fail(err, errlen, VG_EINVAL,
			       "postgresql: no DSN or application name, or "
			       "one too long");
	tp = xcalloc(1, sizeof(*tp));
	snprintf(tp->dsn, sizeof(tp->dsn), "%s", dsn);
	snprintf(tp->app, sizeof(tp->app), "%s", app);
	pthread_mutex_init(&tp->rlock, NULL);
	pthread_cond_init(&tp->rcond, NULL);
	tp->be = (struct tlog_backend){
		.name = "postgresql:tlog",
		.ctx = tp,
		.read = be_read,
		.head = be_head,
		.begin = be_begin,
		.put = be_put,
		.commit = be_commit,
		.abort = be_abort,
	};
	if ((rc = pg_open(&tp->w, dsn, app, err, errlen)) != 0 ||
	    (rc = pg_migrate(&tp->w, "tlog", schema,
			     sizeof(schema) / sizeof(schema[0]), err,
			     errlen)) != 0) {
		tlog_pg_close(tp);
		return rc;
	}
	*out = tp;
	return 0;
}

void
tlog_pg_close(struct tlog_pg *tp)
{
	if (tp == NULL)
		return;
	taken_clear(tp);
	free(tp->tk);
	free(tp->pe);
	pg_close(&tp->w);
	for (size_t i = 0; i < TLOG_PG_READERS; i++)
		pg_close(&tp->r[i]);
	pthread_mutex_destroy(&tp->rlock);
	pthread_cond_destroy(&tp->rcond);
	free(tp);
}

const struct tlog_backend *
tlog_pg_backend(struct tlog_pg *tp)
{
	return &tp->be;
}

/* ---- the lease ---- */

int
tlog_pg_lease(struct tlog_pg *tp, bool *held, char *err, size_t errlen)
{
	struct merkle_hash empty;
	const char *params[1];
	int lens[1] = {MERKLE_HASH_LEN}, formats[1] = {1};
	PGresult *res = NULL;
	int64_t ep;
	int rc;

	*held = false;
	if (tp->in_tx)
		be_abort(tp);
	if (tp->leased) {
		/* The lock lives as long as the session: a session that
		 * answers still holds it. */
		if (pg_cmd(&tp->w, err, errlen, "SELECT 1") == 0) {
			*held = true;
			return 0;
		}
		tp->leased = false;
		tp->epoch = 0;
		if (!pg_lost(&tp->w)) /* an error, not a lost session */
			(void)pg_cmd(&tp->w, NULL, 0,
				     "SELECT pg_advisory_unlock_all()");
	}
	if (pg_lost(&tp->w) && (rc = pg_reconnect(&tp->w, err, errlen)) != 0)
		return rc;
	rc = pg_exec(&tp->w, &res, err, errlen,
		     "SELECT pg_try_advisory_lock(" TLOG_PG_LEASE_KEY ")", 0,
		     NULL);
	if (rc != 0)
		return rc;
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res); /* another node sequences */
		return 0;
	}
	PQclear(res);
	/* The new fencing token: from now on no batch of an earlier holder
	 * passes the fence. */
	merkle_hash_empty(&empty);
	params[0] = (const char *)empty.b;
	rc = pg_exec_bin(&tp->w, &res, err, errlen,
			 "INSERT INTO tlog_head (id, size, root, checkpoint,"
			 " epoch) VALUES (1, 0, $1, NULL, 1)"
			 " ON CONFLICT (id) DO UPDATE"
			 " SET epoch = tlog_head.epoch + 1 RETURNING epoch",
			 1, params, lens, formats);
	if (rc == 0 &&
	    (PQntuples(res) != 1 || pg_get_i64(res, 0, 0, &ep) != 0 || ep <= 0))
		rc = vg_fail(err, errlen, VG_ECORRUPT,
			     "tlog_head: an epoch that makes no sense");
	PQclear(res);
	if (rc != 0) {
		(void)pg_cmd(&tp->w, NULL, 0,
			     "SELECT pg_advisory_unlock(" TLOG_PG_LEASE_KEY
			     ")");
		return rc;
	}
	tp->epoch = ep;
	tp->leased = true;
	*held = true;
	return 0;
}

void
tlog_pg_unlease(struct tlog_pg *tp)
{
	if (tp->in_tx)
		be_abort(tp);
	if (tp->leased && !pg_lost(&tp->w))
		(void)pg_cmd(&tp->w, NULL, 0,
			     "SELECT pg_advisory_unlock(" TLOG_PG_LEASE_KEY
			     ")");
	tp->leased = false;
	tp->epoch = 0;
}

bool
tlog_pg_leased(const struct tlog_pg *tp)
{
	return tp->leased;
}

int64_t
tlog_pg_epoch(const struct tlog_pg *tp)
{
	return tp->leased ? tp->epoch : 0;
}

/* ---- pending appends ---- */

/* A row's entries: each a 4-byte big-endian length and its bytes. */
int
tlog_pg_pending_add(struct tlog_pg *tp, const struct tile_entry *e, size_t n,
		    int64_t *id, char *err, size_t errlen)
{
	const char *params[1];
	int lens[1], formats[1] = {1};
	PGresult *res = NULL;
	uint8_t *buf, *p;
	size_t total = 0;
	int rc;

	if (n == 0)
		return vg_fail(err, errlen, VG_EINVAL, "no entries");
	for (size_t i = 0; i < n; i++) {
		if (e[i].len > TILE_ENTRY_MAX)
			return vg_fail(err, errlen, VG_ELIMIT,
				       "entry %zu has %zu bytes, more than %d",
				       i, e[i].len, TILE_ENTRY_MAX);
		total += 4 + e[i].len;
	}
	if (total > INT32_MAX / 2)
		return vg_fail(err, errlen, VG_ELIMIT, "batch too large");
	p = buf = xmalloc(total + 1);
	for (size_t i = 0; i < n; i++) {
		p[0] = (uint8_t)(e[i].len >> 24);
		p[1] = (uint8_t)(e[i].len >> 16);
		p[2] = (uint8_t)(e[i].len >> 8);
		p[3] = (uint8_t)e[i].len;
		if (e[i].len > 0)
			memcpy(p + 4, e[i].data, e[i].len);
		p += 4 + e[i].len;
	}
	params[0] = (const char *)buf;
	lens[0] = (int)total;
	/* Not retried on a lost session: a row that may have been added
	 * must not be added twice. */
	{
		struct pg *c = reader_get(tp, err, errlen, &rc);

		if (rc == 0)
			rc = pg_exec_bin(c, &res, err, errlen,
					 "INSERT INTO log_pending (entries)"
					 " VALUES ($1) RETURNING id",
					 1, params, lens, formats);
		reader_put(tp, c);
	}
	free(buf);
	if (rc != 0)
		return rc;
	if (PQntuples(res) != 1 || pg_get_i64(res, 0, 0, id) != 0)
		rc = vg_fail(err, errlen, VG_ECORRUPT,
			     "log_pending: no id returned");
	PQclear(res);
	return rc;
}

/* Reads the log_done row of id (in res) into the caller's terms. */
static int
done_row(PGresult *res, int64_t id, uint64_t *first, uint64_t *size, char *err,
	 size_t errlen)
{
	int64_t a, b;

	if (!PQgetisnull(res, 0, 2))
		return vg_fail(err, errlen, VG_EINVAL,
			       "the sequencer refused pending row %" PRId64
			       ": %s",
			       id, PQgetvalue(res, 0, 2));
	if (pg_get_i64(res, 0, 0, &a) != 0 || pg_get_i64(res, 0, 1, &b) != 0 ||
	    a < 0 || b <= a)
		return vg_fail(err, errlen, VG_ECORRUPT,
			       "log_done %" PRId64 ": no index or size", id);
	*first = (uint64_t)a;
	*size = (uint64_t)b;
	return 0;
}

int
tlog_pg_pending_result(struct tlog_pg *tp, int64_t id, uint64_t *first,
		       uint64_t *size, char *err, size_t errlen)
{
	char ids[24];
	const char *params[1] = {ids};
	PGresult *res = NULL;
	int rc;

	snprintf(ids, sizeof(ids), "%" PRId64, id);
	/* Deleting it is reading it: the record is this node's alone. */
	rc = reader_exec(tp, &res, err, errlen,
			 "DELETE FROM log_done WHERE pending_id = $1"
			 " RETURNING idx, size, error",
			 1, params, NULL, NULL);
	if (rc != 0)
		return rc;
	if (PQntuples(res) == 0)
		rc = VG_ENOENT;
	else
		rc = done_row(res, id, first, size, err, errlen);
	PQclear(res);
	return rc;
}

int
tlog_pg_pending_cancel(struct tlog_pg *tp, int64_t id, bool *appended,
		       uint64_t *first, uint64_t *size, char *err,
		       size_t errlen)
{
	char ids[24];
	const char *params[1] = {ids};
	PGresult *res = NULL;
	struct pg *c;
	int rc;

	*appended = false;
	snprintf(ids, sizeof(ids), "%" PRId64, id);
	c = reader_get(tp, err, errlen, &rc);
	if (rc != 0)
		goto out;
	/* A sequencer that took the row holds it locked until its batch
	 * ends: the delete waits for that (a while at most), then finds
	 * the row gone (appended) or there (rolled back: deleted now). */
	if ((rc = pg_cmd(c, err, errlen, "BEGIN")) != 0)
		goto out;
	if ((rc = pg_cmd(c, err, errlen, "SET LOCAL lock_timeout = '5s'")) ==
		    0 &&
	    (rc = pg_exec(c, &res, err, errlen,
			  "DELETE FROM log_pending WHERE id = $1", 1,
			  params)) == 0) {
		bool gone = strcmp(PQcmdTuples(res), "1") == 0;

		PQclear(res);
		res = NULL;
		if (!gone)
			rc = pg_exec(
				c, &res, err, errlen,
				"DELETE FROM log_done WHERE pending_id = $1"
				" RETURNING idx, size, error",
				1, params);
		if (rc == 0 && !gone) {
			if (PQntuples(res) == 0)
				rc = vg_fail(err, errlen, VG_EIO,
					     "pending row %" PRId64 " is "
					     "neither waiting nor done",
					     id);
			else if ((rc = done_row(res, id, first, size, err,
						errlen)) == 0)
				*appended = true;
		}
	}
	if (rc == 0 || rc == VG_EINVAL)
		rc = pg_cmd(c, err, errlen, "COMMIT") == 0 ? rc : VG_EIO;
	else
		(void)pg_cmd(c, NULL, 0, "ROLLBACK");
out:
	PQclear(res);
	reader_put(tp, c);
	return rc;
}

static void
take_add(struct tlog_pg *tp, int64_t id, size_t off, size_t n, char *error)
{
	if (tp->ntk == tp->captk) {
		tp->captk = tp->captk ? 2 * tp->captk : 16;
		tp->tk = xreallocarray(tp->tk, tp->captk, sizeof(*tp->tk));
	}
	tp->tk[tp->ntk++] = (struct taken){id, off, n, error};
}

/* Decodes a row's entries (pointing into buf) after the batch's; an
 * error (malloc'd) if they make no sense. */
static char *
decode_row(struct tlog_pg *tp, const uint8_t *buf, size_t len, size_t *n)
{
	size_t start = tp->npe, pos = 0;

	*n = 0;
	while (pos < len) {
		size_t l;

		if (len - pos < 4)
			goto bad;
		l = (size_t)buf[pos] << 24 | (size_t)buf[pos + 1] << 16 |
		    (size_t)buf[pos + 2] << 8 | buf[pos + 3];
		pos += 4;
		if (l > TILE_ENTRY_MAX || l > len - pos)
			goto bad;
		if (tp->npe == tp->cappe) {
			tp->cappe = tp->cappe ? 2 * tp->cappe : 256;
			tp->pe = xreallocarray(tp->pe, tp->cappe,
					       sizeof(*tp->pe));
		}
		tp->pe[tp->npe++] = (struct tile_entry){buf + pos, l};
		pos += l;
	}
	if (tp->npe == start)
		return xstrdup("no entries");
	*n = tp->npe - start;
	return NULL;
bad:
	tp->npe = start;
	return xstrdup("malformed entries");
}

int
tlog_pg_pending_take(struct tlog_pg *tp, size_t max_rows,
		     const struct tile_entry **entries, size_t *n, char *err,
		     size_t errlen)
{
	char lim[24];
	const char *params[1] = {lim};
	PGresult *res = NULL;
	int rc;

	*entries = NULL;
	*n = 0;
	if (!tp->leased)
		return vg_fail(err, errlen, VG_EIO,
			       "postgresql: this node does not hold the log's "
			       "sequencer lease");
	if (tp->in_tx)
		be_abort(tp);
	if ((rc = pg_cmd(&tp->w, err, errlen, "BEGIN")) != 0)
		goto fail;
	tp->in_tx = true;
	snprintf(lim, sizeof(lim), "%zu", max_rows ? max_rows : 1);
	rc = pg_exec(&tp->w, &res, err, errlen,
		     "SELECT id, entries FROM log_pending ORDER BY id"
		     " LIMIT $1 FOR UPDATE SKIP LOCKED",
		     1, params);
	if (rc != 0)
		goto fail;
	tp->pbuf = xcalloc((size_t)PQntuples(res) + 1, sizeof(*tp->pbuf));
	for (int i = 0; i < PQntuples(res); i++) {
		uint8_t *buf = NULL;
		size_t len, off = tp->npe, k = 0;
		char *why = NULL;
		int64_t id;

		if (pg_get_i64(res, i, 0, &id) != 0) {
			rc = vg_fail(err, errlen, VG_ECORRUPT,
				     "log_pending: a row without an id");
			goto fail;
		}
		if (pg_get_bytea(res, i, 1, (size_t)INT32_MAX, &buf, &len) != 0)
			why = xstrdup("unreadable entries");
		else
			why = decode_row(tp, buf, len, &k);
		tp->pbuf[tp->npbuf++] = buf;
		take_add(tp, id, why ? 0 : off, k, why);
	}
	PQclear(res);
	*entries = tp->pe;
	*n = tp->npe;
	return 0;
fail:
	PQclear(res);
	be_abort(tp);
	if (pg_lost(&tp->w))
		tp->leased = false;
	return rc;
}

void
tlog_pg_batch_abort(struct tlog_pg *tp)
{
	be_abort(tp);
}

/* ---- the region ---- */

static void
copy_col(PGresult *res, int col, char *dst, size_t len)
{
	snprintf(dst, len, "%s",
		 PQgetisnull(res, 0, col) ? "" : PQgetvalue(res, 0, col));
}

int
tlog_pg_region_get(struct tlog_pg *tp, struct tlog_pg_region *r, char *err,
		   size_t errlen)
{
	PGresult *res = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = reader_exec(tp, &res, err, errlen,
			 "SELECT origin, log_key, sample_key, region"
			 " FROM tlog_region WHERE id = 1",
			 0, NULL, NULL, NULL);
	if (rc != 0)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return VG_ENOENT;
	}
	copy_col(res, 0, r->origin, sizeof(r->origin));
	copy_col(res, 1, r->log_key, sizeof(r->log_key));
	copy_col(res, 2, r->sample_key, sizeof(r->sample_key));
	copy_col(res, 3, r->region, sizeof(r->region));
	PQclear(res);
	if (r->origin[0] == '\0' || r->log_key[0] == '\0')
		return vg_fail(err, errlen, VG_ECORRUPT,
			       "tlog_region: no origin or log key");
	return 0;
}

int
tlog_pg_region_put(struct tlog_pg *tp, const struct tlog_pg_region *r,
		   bool *created, char *err, size_t errlen)
{
	const char *params[4] = {r->origin, r->log_key, r->sample_key,
				 r->region};
	PGresult *res = NULL;
	int rc;

	*created = false;
	rc = reader_exec(tp, &res, err, errlen,
			 "INSERT INTO tlog_region (id, origin, log_key,"
			 " sample_key, region) VALUES (1, $1, $2, $3, $4)"
			 " ON CONFLICT (id) DO NOTHING",
			 4, params, NULL, NULL);
	if (rc == 0)
		*created = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return rc;
}

int
tlog_pg_site_get(struct tlog_pg *tp, const char *site, char **text, char *err,
		 size_t errlen)
{
	const char *params[1] = {site};
	PGresult *res = NULL;
	int rc;

	*text = NULL;
	rc = reader_exec(tp, &res, err, errlen,
			 "SELECT settings FROM tlog_site WHERE site = $1", 1,
			 params, NULL, NULL);
	if (rc != 0)
		return rc;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		*text = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int
tlog_pg_site_put(struct tlog_pg *tp, const char *site, const char *text,
		 char *err, size_t errlen)
{
	const char *params[2] = {site, text};

	return reader_exec(tp, NULL, err, errlen,
			   "INSERT INTO tlog_site (site, settings)"
			   " VALUES ($1, $2) ON CONFLICT (site) DO UPDATE"
			   " SET settings = excluded.settings, updated = now()",
			   2, params, NULL, NULL);
}
