/*
 * samples_pg.c - the sample store's records in PostgreSQL, for a region
 * whose nodes share one cluster; see samples.h (the store's contract),
 * samples_impl.h (what a backend does) and pg.h (the session).
 *
 * Owns the writer's session with its open transaction, segment and the
 * rows not yet sent, and a bounded pool of readers' sessions. Records are
 * sealed and verified by samples.c, byte for byte as in a segment file;
 * here they only go to and come from rows.
 *
 * Rows. The record at (segment, off) is cut into rows of sample_chunks:
 * row seq holds its bytes [seq * ROW_MAX, min((seq + 1) * ROW_MAX,
 * length)). The cut is canonical, like the chunks inside a record: the
 * location's length alone fixes how many rows there are and each one's
 * size, so the reader checks them all before it fetches any data, never
 * holds more than a few rows at a time, and a row missing, added, resized
 * or out of place is VG_ECORRUPT before decryption is even tried.
 *
 * Segments. The writer takes a segment number from the sequence
 * sample_segments at open, after a failed transaction, and when its
 * segment reaches SAMPLES_SEGMENT_MAX; offsets then run on as if the
 * records were appended to a file. A sequence never hands out a number
 * twice, even to transactions that roll back, so two writers (two nodes,
 * or one restarted) never share a segment, and a location given out for a
 * record that was then lost never comes to name another. The numbers start
 * at SAMPLES_PG_SEGMENT_FIRST, far above any a segment directory reaches
 * (it counts up from 1, one per restart or GiB), so a file location and a
 * PostgreSQL one never collide: a region that moves its samples over can
 * keep both kinds of location in its metadata.
 *
 * Durability. samples_append() puts the record's rows into the writer's
 * transaction, begun by the first append after a sync. Rows are gathered
 * and sent in one statement per MiB, so that a batch of small samples
 * costs one round trip, not one per sample. samples_sync() sends the rest
 * and commits: one commit, which the cluster's synchronous standby makes
 * durable on both sites, for the whole batch. Anything that fails on the
 * way (a statement, the commit, the connection) rolls the transaction
 * back: its records are lost and the caller must not record their
 * locations (samples.h); the next append starts a new transaction in a new
 * segment. A COMMIT whose answer is lost may have committed: its records
 * are then orphans, rows no location names, which cost space and nothing
 * else.
 *
 * Failover. A session found lost (pg_lost) is reconnected by the next call
 * that needs it, to whichever host of the DSN is the primary then. Nothing
 * that may have been done is redone: the writer retries only a BEGIN, a
 * reader only a whole read, both of which change nothing.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "store/pg.h"
#include "store/samples.h"
#include "store/samples_impl.h"

/* A row's share of a record: 1 MiB of sealed bytes, 2 MiB as hex in a
 * reply. Part of the format, like SAMPLES_CHUNK: changing it makes the
 * rows already written unreadable. */
#define ROW_MAX (1u << 20)
/* Rows fetched by one statement when reading. */
#define READ_BATCH 4
/* Readers' sessions at most; a reader that finds none free waits. */
#define POOL_MAX 8

_Static_assert(SAMPLES_PG_SEGMENT_FIRST > 0 &&
		       SAMPLES_PG_SEGMENT_FIRST < SAMPLES_SEGMENT_LAST,
	       "segment numbers fit the names of segment files");

static const char *const schema[] = {
	/* 1: the segment numbers and the rows. The data is sealed, so
	 * incompressible: EXTERNAL spares the server trying to compress
	 * every row before it stores it out of line anyway. */
	"CREATE SEQUENCE sample_segments AS bigint"
	" MINVALUE 1000000000000000 MAXVALUE 9999999999999999"
	" START 1000000000000000 NO CYCLE;"
	"CREATE TABLE sample_chunks ("
	" segment bigint NOT NULL,"
	" off bigint NOT NULL CHECK (off >= 0),"
	" seq integer NOT NULL CHECK (seq >= 0),"
	" data bytea NOT NULL,"
	" PRIMARY KEY (segment, off, seq));"
	"ALTER TABLE sample_chunks ALTER COLUMN data SET STORAGE EXTERNAL;",
};

_Static_assert(SAMPLES_PG_SEGMENT_FIRST == 1000000000000000ULL,
	       "the sequence's MINVALUE above");

/* A row gathered for the next insert: its place and its bytes, n at
 * offset at of pend. */
struct pend_row {
	uint64_t off;
	uint32_t seq;
	size_t at, n;
};

struct reader {
	struct pg pg; /* conn NULL: not connected */
	bool busy;
};

struct samples_pg {
	struct samples base;
	char dsn[PG_DSN_MAX + 1];

	/* The writer's: its session, whether a transaction is open and
	 * holds records, whether the records of the last one were lost
	 * (the next sync says so), and the segment (seg_no 0: take a new
	 * one). */
	struct pg w;
	bool in_tx, dirty, lost;
	uint64_t seg_no, seg_size;
	/* Rows not yet sent: their bytes, plen of ROW_MAX * 2, and where
	 * each goes. */
	uint8_t *pend;
	size_t plen;
	struct pend_row *rows;
	size_t nrows, rows_cap;
	/* The record being sealed: its offset, the next row's seq and the
	 * bytes it has so far, and whether any of its rows was sent. */
	uint64_t rec_off;
	uint32_t rec_seq;
	size_t row_len;
	bool rec_sent;

	/* The readers' sessions, taken and given back under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct reader rd[POOL_MAX];
};

#define PEND_CAP (2 * (size_t)ROW_MAX)

/* A record has at most this many rows: their numbers fit the seq
 * column, an integer, and a uint32_t here. */
_Static_assert((SAMPLES_MAX_SIZE + ROW_MAX) / ROW_MAX * 2 < INT32_MAX,
	       "row numbers fit an integer");

/* Logs the server's reason for a failure, which the codes returned
 * cannot carry, under the caller's name. */
static void
log_pg_at(const char *func, const char *op, const char *err)
{
	char v[512];

	log_event_at(LOG_WARN, func, "samples_pg_failed", "op=%s err=%s", op,
		     log_value(err, v, sizeof(v)));
}
#define log_pg(op, err) log_pg_at(__func__, op, err)

/* Forgets the transaction, rolling it back if the session is still
 * there: its records are lost (the next sync says so, if they had not
 * been reported yet) and the next append takes a new segment. */
static void
tx_abandon(struct samples_pg *s)
{
	PGTransactionStatusType ts = pg_lost(&s->w)
					     ? PQTRANS_UNKNOWN
					     : PQtransactionStatus(s->w.conn);

	/* After a failed COMMIT the server has already ended it. */
	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
		(void)pg_cmd(&s->w, NULL, 0, "ROLLBACK");
	if (s->dirty)
		s->lost = true;
	s->in_tx = false;
	s->dirty = false;
	s->seg_no = 0;
	s->seg_size = 0;
	s->plen = 0;
	s->nrows = 0;
}

static int
take_segment(struct samples_pg *s)
{
	char err[256];
	PGresult *res = NULL;
	int64_t v = 0;
	int rc;

	rc = pg_exec(&s->w, &res, err, sizeof(err),
		     "SELECT nextval('sample_segments')", 0, NULL);
	if (rc != 0) {
		log_pg("nextval", err);
		return rc;
	}
	rc = pg_get_i64(res, 0, 0, &v);
	PQclear(res);
	if (rc != 0 || v < (int64_t)SAMPLES_PG_SEGMENT_FIRST ||
	    (uint64_t)v > SAMPLES_SEGMENT_LAST)
		return VG_ECORRUPT;
	s->seg_no = (uint64_t)v;
	s->seg_size = 0;
	return 0;
}

/* Makes sure a transaction is open on a live session, with a segment:
 * reconnects a session found lost, and retries a BEGIN that finds it
 * lost (a BEGIN changes nothing, so it can be repeated). */
static int
tx_ready(struct samples_pg *s)
{
	char err[256];
	int rc;

	if (s->in_tx && !pg_lost(&s->w))
		return 0;
	if (s->in_tx) {
		/* The session went with the transaction's records. */
		tx_abandon(s);
		return VG_EIO;
	}
	for (int tries = 0;; tries++) {
		if (pg_lost(&s->w) &&
		    (rc = pg_reconnect(&s->w, err, sizeof(err))) != 0) {
			log_pg("reconnect", err);
			return VG_EIO;
		}
		if ((rc = pg_cmd(&s->w, err, sizeof(err), "BEGIN")) == 0)
			break;
		if (tries > 0 || !pg_lost(&s->w)) {
			log_pg("begin", err);
			return VG_EIO;
		}
	}
	s->in_tx = true;
	/* Numbers are taken outside the transaction's fate: nextval does
	 * not roll back. */
	if (s->seg_no == 0 && (rc = take_segment(s)) != 0) {
		tx_abandon(s);
		return rc;
	}
	return 0;
}

/* Appends an integer to a PostgreSQL array literal being built in buf. */
static void
arr_add(char **buf, size_t *len, size_t *cap, uint64_t v)
{
	int n;

	/* Room for a comma, 20 digits, and "}" with its NUL after. */
	if (*cap - *len < 24) {
		*cap = *cap * 2 + 64;
		*buf = xreallocarray(*buf, *cap, 1);
	}
	n = snprintf(*buf + *len, *cap - *len, "%s%" PRIu64,
		     *len > 1 ? "," : "", v);
	*len += (size_t)n;
}

/*
 * Sends the gathered rows in one statement: their bytes as one binary
 * parameter, cut into rows by the server, with their places as arrays.
 * Returns 0 or VG_EIO (the caller abandons the transaction).
 */
static int
pend_flush(struct samples_pg *s)
{
	static const char sql[] =
		"INSERT INTO sample_chunks (segment, off, seq, data)"
		" SELECT $1::bigint, r.off, r.seq,"
		" substring($2::bytea FROM r.at::integer + 1"
		" FOR r.n::integer)"
		" FROM unnest($3::bigint[], $4::integer[], $5::bigint[],"
		" $6::bigint[]) AS r(off, seq, at, n)";
	char *arr[4] = {NULL}, seg[24], err[256];
	size_t alen[4], acap[4];
	const char *params[6];
	int lens[6] = {0}, formats[6] = {0};
	int rc;

	if (s->nrows == 0)
		return 0;
	for (int i = 0; i < 4; i++) {
		acap[i] = 64 + 24 * s->nrows;
		arr[i] = xmalloc(acap[i]);
		memcpy(arr[i], "{", 2);
		alen[i] = 1;
	}
	for (size_t i = 0; i < s->nrows; i++) {
		arr_add(&arr[0], &alen[0], &acap[0], s->rows[i].off);
		arr_add(&arr[1], &alen[1], &acap[1], s->rows[i].seq);
		arr_add(&arr[2], &alen[2], &acap[2], s->rows[i].at);
		arr_add(&arr[3], &alen[3], &acap[3], s->rows[i].n);
	}
	for (int i = 0; i < 4; i++) {
		/* arr_add leaves room for more than the closing brace. */
		memcpy(arr[i] + alen[i], "}", 2);
		params[2 + i] = arr[i];
	}
	snprintf(seg, sizeof(seg), "%" PRIu64, s->seg_no);
	params[0] = seg;
	params[1] = (const char *)s->pend;
	lens[1] = (int)s->plen;
	formats[1] = 1;
	rc = pg_exec_bin(&s->w, NULL, err, sizeof(err), sql, 6, params, lens,
			 formats);
	for (int i = 0; i < 4; i++)
		free(arr[i]);
	if (rc != 0) {
		log_pg("insert", err);
		return VG_EIO;
	}
	s->plen = 0;
	s->nrows = 0;
	return 0;
}

/* Ends the record's current row, and sends what is gathered once it
 * reaches a row's worth. */
static int
row_end(struct samples_pg *s)
{
	struct pend_row *r;

	if (s->row_len == 0)
		return 0;
	if (s->nrows == s->rows_cap) {
		s->rows_cap = s->rows_cap ? 2 * s->rows_cap : 64;
		s->rows = xreallocarray(s->rows, s->rows_cap, sizeof(*s->rows));
	}
	r = &s->rows[s->nrows++];
	r->off = s->rec_off;
	r->seq = s->rec_seq++;
	r->at = s->plen - s->row_len;
	r->n = s->row_len;
	s->row_len = 0;
	if (s->plen < ROW_MAX)
		return 0;
	s->rec_sent = true;
	return pend_flush(s);
}

/* samples_rec_seal()'s sink: the record's bytes into rows of ROW_MAX.
 * pend never passes PEND_CAP: it is sent once it holds ROW_MAX bytes,
 * before the next row is begun. */
static int
pg_put(void *ctx, const uint8_t *p, size_t n)
{
	struct samples_pg *s = ctx;
	int rc;

	while (n > 0) {
		size_t k = ROW_MAX - s->row_len;

		if (k > n)
			k = n;
		memcpy(s->pend + s->plen, p, k);
		s->plen += k;
		s->row_len += k;
		p += k;
		n -= k;
		if (s->row_len == ROW_MAX && (rc = row_end(s)) != 0)
			return rc;
	}
	return 0;
}

static int
pgs_append(struct samples *base, const uint8_t sha[32], const void *buf,
	   size_t len, struct sample_loc *loc)
{
	struct samples_pg *s = (struct samples_pg *)base;
	uint64_t rec = samples_record_size(len);
	size_t plen0, nrows0;
	int rc;

	if ((rc = tx_ready(s)) != 0)
		return rc;
	/* Full: the next segment, in the same transaction. */
	if (s->seg_size > 0 && s->seg_size + rec > SAMPLES_SEGMENT_MAX) {
		if ((rc = pend_flush(s)) != 0 || (rc = take_segment(s)) != 0) {
			tx_abandon(s);
			return rc;
		}
	}
	if (s->pend == NULL)
		s->pend = xmalloc(PEND_CAP);
	plen0 = s->plen;
	nrows0 = s->nrows;
	s->rec_off = s->seg_size;
	s->rec_seq = 0;
	s->row_len = 0;
	s->rec_sent = false;
	rc = samples_rec_seal(base, sha, buf, len, pg_put, s);
	if (rc == 0)
		rc = row_end(s);
	if (rc != 0) {
		/* Rows of this record in the transaction cannot be taken
		 * back one by one: the transaction goes, with the records
		 * before it. Otherwise the record's bytes are only dropped
		 * here, and the next one takes its place. */
		if (s->rec_sent || rc == VG_EIO) {
			tx_abandon(s);
			return VG_EIO;
		}
		s->plen = plen0;
		s->nrows = nrows0;
		s->row_len = 0;
		return rc;
	}
	loc->segment = s->seg_no;
	loc->offset = s->seg_size;
	loc->length = rec;
	s->seg_size += rec;
	s->dirty = true;
	return 0;
}

static int
pgs_sync(struct samples *base, bool ordered)
{
	struct samples_pg *s = (struct samples_pg *)base;
	char err[256];
	int rc;

	/* Records lost since the last sync: and those appended after the
	 * loss go too, so that nothing the caller takes as lost is
	 * committed. */
	if (s->lost) {
		tx_abandon(s);
		s->lost = false;
		return VG_EIO;
	}
	if (!s->in_tx)
		return 0;
	/* Ordered: the caller's synchronous commit, later in the WAL,
	 * waits for this one's flush on both sites (samples.h). */
	if ((rc = pend_flush(s)) == 0 &&
	    (rc = pg_cmd(&s->w, err, sizeof(err),
			 ordered ? "SET LOCAL synchronous_commit = off; COMMIT"
				 : "COMMIT")) != 0)
		log_pg("commit", err);
	if (rc != 0) {
		tx_abandon(s);
		s->lost = false;
		return VG_EIO;
	}
	s->in_tx = false;
	s->dirty = false;
	return 0;
}

/* Takes a reader's session, connecting it if it is not, waiting while
 * all POOL_MAX are busy. Returns 0 or VG_EIO. */
static int
reader_get(struct samples_pg *s, struct reader **out)
{
	struct reader *r = NULL;
	char err[256];
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		/* A connected one first; else one to connect. */
		for (int i = 0; i < POOL_MAX && r == NULL; i++)
			if (!s->rd[i].busy && s->rd[i].pg.conn != NULL)
				r = &s->rd[i];
		for (int i = 0; i < POOL_MAX && r == NULL; i++)
			if (!s->rd[i].busy)
				r = &s->rd[i];
		if (r != NULL)
			break;
		pthread_cond_wait(&s->cv, &s->mu);
	}
	r->busy = true;
	pthread_mutex_unlock(&s->mu);
	/* Connecting takes up to connect_timeout: not under the lock. */
	if (r->pg.conn == NULL &&
	    (rc = pg_open(&r->pg, s->dsn, "vigil-samples-read", err,
			  sizeof(err))) != 0) {
		log_pg("connect", err);
		pthread_mutex_lock(&s->mu);
		r->busy = false;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		return VG_EIO;
	}
	*out = r;
	return 0;
}

static void
reader_put(struct samples_pg *s, struct reader *r)
{
	/* A lost session is not given to the next reader. */
	if (pg_lost(&r->pg))
		pg_close(&r->pg);
	pthread_mutex_lock(&s->mu);
	r->busy = false;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* samples_rec_open()'s source: the record's rows, READ_BATCH per
 * statement, the current one decoded. */
struct pg_source {
	struct pg *pg;
	const char *params[5]; /* segment, off, first seq, end seq, max */
	char seg[24], off[24], first[24], end[24], max[24];
	uint64_t length;
	uint32_t nrows;
	PGresult *res; /* rows [res_first, res_first + PQntuples) */
	uint32_t res_first;
	uint8_t *row; /* row row_seq, decoded */
	size_t row_len;
	int64_t row_seq;
	int rc_io; /* a server error: the read may be retried */
};

static size_t
row_size(uint64_t length, uint32_t seq)
{
	uint64_t at = (uint64_t)seq * ROW_MAX;

	return length - at < ROW_MAX ? (size_t)(length - at) : ROW_MAX;
}

static int
fetch_rows(struct pg_source *src, uint32_t first)
{
	static const char sql[] =
		"SELECT seq, data FROM sample_chunks"
		" WHERE segment = $1 AND off = $2 AND seq >= $3 AND seq < $4"
		" AND octet_length(data) <= $5 ORDER BY seq";
	uint32_t end = first + READ_BATCH < src->nrows ? first + READ_BATCH
						       : src->nrows;
	char err[256];

	PQclear(src->res);
	src->res = NULL;
	snprintf(src->first, sizeof(src->first), "%" PRIu32, first);
	snprintf(src->end, sizeof(src->end), "%" PRIu32, end);
	if (pg_exec(src->pg, &src->res, err, sizeof(err), sql, 5,
		    src->params) != 0) {
		log_pg("select", err);
		return src->rc_io = VG_EIO;
	}
	src->res_first = first;
	/* The rows were all there a moment ago: one gone or grown since
	 * is damage like any other. */
	if (PQnfields(src->res) != 2 ||
	    (uint32_t)PQntuples(src->res) != end - first)
		return VG_ECORRUPT;
	return 0;
}

static int
load_row(struct pg_source *src, uint32_t seq)
{
	int64_t got = -1;
	size_t want = row_size(src->length, seq);
	int i, rc;

	if (src->res == NULL || seq < src->res_first ||
	    seq - src->res_first >= (uint32_t)PQntuples(src->res)) {
		if ((rc = fetch_rows(src, seq)) != 0)
			return rc;
	}
	i = (int)(seq - src->res_first);
	free(src->row);
	src->row = NULL;
	src->row_seq = -1;
	if (pg_get_i64(src->res, i, 0, &got) != 0 || got != (int64_t)seq)
		return VG_ECORRUPT;
	if ((rc = pg_get_bytea(src->res, i, 1, want, &src->row,
			       &src->row_len)) != 0)
		return rc;
	if (src->row_len != want)
		return VG_ECORRUPT;
	src->row_seq = seq;
	return 0;
}

static int
pg_get(void *ctx, uint64_t off, uint8_t *p, size_t n)
{
	struct pg_source *src = ctx;
	int rc;

	while (n > 0) {
		uint32_t seq = (uint32_t)(off / ROW_MAX);
		size_t in = (size_t)(off - (uint64_t)seq * ROW_MAX), k;

		if (off >= src->length)
			return VG_ECORRUPT;
		if (src->row_seq != (int64_t)seq &&
		    (rc = load_row(src, seq)) != 0)
			return rc;
		k = src->row_len - in < n ? src->row_len - in : n;
		memcpy(p, src->row + in, k);
		p += k;
		n -= k;
		off += k;
	}
	return 0;
}

/*
 * Checks the rows at loc before any data is fetched: exactly the ones its
 * length fixes, each of its size. None at all is VG_ENOENT if the segment
 * has no row (never written, or not committed), else VG_ECORRUPT (no
 * record starts there), as a segment file answers.
 */
static int
check_rows(struct pg_source *src)
{
	static const char list[] =
		"SELECT seq, octet_length(data) FROM sample_chunks"
		" WHERE segment = $1 AND off = $2 ORDER BY seq LIMIT $3";
	static const char any[] =
		"SELECT 1 FROM sample_chunks WHERE segment = $1 LIMIT 1";
	char err[256], limit[24];
	const char *params[3] = {src->seg, src->off, limit};
	PGresult *res = NULL;
	int rc = 0, n;

	/* One more than there should be, to see one too many. */
	snprintf(limit, sizeof(limit), "%" PRIu32, src->nrows + 1);
	if (pg_exec(src->pg, &res, err, sizeof(err), list, 3, params) != 0)
		goto io;
	if (PQnfields(res) != 2) {
		rc = VG_ECORRUPT;
		goto out;
	}
	n = PQntuples(res);
	if (n == 0) {
		PQclear(res);
		if (pg_exec(src->pg, &res, err, sizeof(err), any, 1, params) !=
		    0)
			goto io;
		rc = PQntuples(res) > 0 ? VG_ECORRUPT : VG_ENOENT;
		goto out;
	}
	if ((uint32_t)n != src->nrows) {
		rc = VG_ECORRUPT;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		int64_t seq = -1, size = -1;

		if (pg_get_i64(res, i, 0, &seq) != 0 ||
		    pg_get_i64(res, i, 1, &size) != 0 || seq != i ||
		    size != (int64_t)row_size(src->length, (uint32_t)i)) {
			rc = VG_ECORRUPT;
			goto out;
		}
	}
out:
	PQclear(res);
	return rc;
io:
	log_pg("select", err);
	return src->rc_io = VG_EIO;
}

static int
read_once(struct samples_pg *s, struct pg *pg, const struct sample_loc *loc,
	  const uint8_t sha[32], uint8_t **out, size_t *len)
{
	struct pg_source src;
	int rc;

	memset(&src, 0, sizeof(src));
	src.pg = pg;
	src.length = loc->length;
	src.nrows = (uint32_t)((loc->length + ROW_MAX - 1) / ROW_MAX);
	src.row_seq = -1;
	snprintf(src.seg, sizeof(src.seg), "%" PRIu64, loc->segment);
	snprintf(src.off, sizeof(src.off), "%" PRIu64, loc->offset);
	snprintf(src.max, sizeof(src.max), "%u", ROW_MAX);
	src.params[0] = src.seg;
	src.params[1] = src.off;
	src.params[2] = src.first;
	src.params[3] = src.end;
	src.params[4] = src.max;
	if ((rc = check_rows(&src)) == 0)
		rc = samples_rec_open(&s->base, loc, sha, pg_get, &src, out,
				      len);
	PQclear(src.res);
	free(src.row);
	/* A server error, whatever samples_rec_open made of it. */
	if (rc != 0 && src.rc_io != 0)
		rc = src.rc_io;
	return rc;
}

static int
pgs_read(struct samples *base, const struct sample_loc *loc,
	 const uint8_t sha[32], uint8_t **out, size_t *len)
{
	struct samples_pg *s = (struct samples_pg *)base;
	struct reader *r;
	char err[256];
	int rc;

	if ((rc = reader_get(s, &r)) != 0)
		return rc;
	rc = read_once(s, &r->pg, loc, sha, out, len);
	/* A session that died while it sat in the pool (a failover, a
	 * restarted server) is only found out by using it: a read changes
	 * nothing, so it is tried once more on a new session. */
	if (rc == VG_EIO && pg_lost(&r->pg)) {
		if (pg_reconnect(&r->pg, err, sizeof(err)) != 0)
			log_pg("reconnect", err);
		else
			rc = read_once(s, &r->pg, loc, sha, out, len);
	}
	reader_put(s, r);
	return rc;
}

/* Deletes the record's rows on a reader's session, in a transaction of
 * its own (committed when the statement returns). */
static int
pgs_erase(struct samples *base, const struct sample_loc *loc)
{
	static const char sql[] =
		"DELETE FROM sample_chunks WHERE segment = $1 AND off = $2";
	struct samples_pg *s = (struct samples_pg *)base;
	char seg[24], off[24], err[256];
	const char *params[2] = {seg, off};
	struct reader *r;
	int rc;

	snprintf(seg, sizeof(seg), "%" PRIu64, loc->segment);
	snprintf(off, sizeof(off), "%" PRIu64, loc->offset);
	if ((rc = reader_get(s, &r)) != 0)
		return rc;
	rc = pg_exec(&r->pg, NULL, err, sizeof(err), sql, 2, params);
	/* A DELETE done twice deletes nothing the second time: retried
	 * once on a new session like a read. */
	if (rc != 0 && pg_lost(&r->pg)) {
		if (pg_reconnect(&r->pg, err, sizeof(err)) == 0)
			rc = pg_exec(&r->pg, NULL, err, sizeof(err), sql, 2,
				     params);
	}
	if (rc != 0) {
		log_pg("delete", err);
		rc = VG_EIO;
	}
	reader_put(s, r);
	return rc;
}

static void
pgs_close(struct samples *base)
{
	struct samples_pg *s = (struct samples_pg *)base;

	/* Unsynced records go with the session (samples.h). */
	pg_close(&s->w);
	for (int i = 0; i < POOL_MAX; i++)
		pg_close(&s->rd[i].pg);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->pend);
	free(s->rows);
}

static const struct samples_ops pg_ops = {
	.append = pgs_append,
	.sync = pgs_sync,
	.read = pgs_read,
	.erase = pgs_erase,
	.close = pgs_close,
};

int
samples_open_pg(const char *dsn, const struct samples_keysrc *src,
		struct samples **out, char *err, size_t errlen)
{
	struct samples_pg *s;
	int rc;

	*out = NULL;
	if (dsn == NULL || strlen(dsn) > PG_DSN_MAX)
		return vg_fail(err, errlen, VG_EINVAL,
			       "samples: the DSN is missing or over %d bytes",
			       PG_DSN_MAX);
	s = xcalloc(1, sizeof(*s));
	snprintf(s->dsn, sizeof(s->dsn), "%s", dsn);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if ((rc = samples_base_init(&s->base, &pg_ops, src, err, errlen)) !=
		    0 ||
	    (rc = pg_open(&s->w, dsn, "vigil-samples", err, errlen)) != 0 ||
	    (rc = pg_migrate(&s->w, "samples", schema,
			     sizeof(schema) / sizeof(schema[0]), err,
			     errlen)) != 0)
		goto out;
	if ((rc = take_segment(s)) != 0) {
		vg_seterr(err, errlen,
			  "samples: cannot take a segment number (%s)",
			  vg_strerror(rc));
		goto out;
	}
	*out = &s->base;
	return 0;
out:
	samples_close(&s->base);
	return rc;
}
