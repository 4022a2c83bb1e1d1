/*
 * pg.c - the libpq layer every PostgreSQL part of vigil shares; see pg.h.
 */
#include "store/pg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/hex.h"

/* The advisory lock key every node takes to migrate the schema: the
 * first 8 bytes of "vigil-sc" read as a number, unlikely to meet another
 * application's key in the same database. */
#define MIGRATE_LOCK_KEY "6181417763591988067"

/* Whether dsn already sets key (key=... in the key=value form, key= in a
 * URI's query). A crude test is enough: a DSN that names it wrongly is
 * rejected by libpq anyway. */
static bool
dsn_has(const char *dsn, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = dsn; (p = strstr(p, key)) != NULL; p += kl) {
		bool start = p == dsn || p[-1] == ' ' || p[-1] == '\t' ||
			     p[-1] == '?' || p[-1] == '&';
		const char *q = p + kl;

		while (*q == ' ')
			q++;
		if (start && *q == '=')
			return true;
	}
	return false;
}

static bool
dsn_is_uri(const char *dsn)
{
	return strncmp(dsn, "postgresql://", 13) == 0 ||
	       strncmp(dsn, "postgres://", 11) == 0;
}

/* Copies libpq's message (one line: its trailing newline dropped, inner
 * ones turned to spaces) into err after prefix. */
static void
set_pqerr(char *err, size_t errlen, const char *prefix, const char *msg)
{
	char line[512];
	size_t n = 0;

	for (; msg != NULL && *msg != '\0' && n + 1 < sizeof(line); msg++)
		if (*msg == '\n' || *msg == '\r' || *msg == '\t') {
			/* One line, one space between its parts. */
			if (n > 0 && line[n - 1] != ' ')
				line[n++] = ' ';
		} else
			line[n++] = *msg;
	while (n > 0 && line[n - 1] == ' ')
		n--;
	line[n] = '\0';
	vg_seterr(err, errlen, "%s%s", prefix, n ? line : "unknown error");
}

int
pg_open(struct pg *p, const char *dsn, const char *app, char *err,
	size_t errlen)
{
	const char *keys[5], *vals[5];
	int k = 0;
	char *perr = NULL;
	PQconninfoOption *opts;

	memset(p, 0, sizeof(*p));
	if (dsn == NULL || strlen(dsn) > PG_DSN_MAX)
		return vg_fail(
			err, errlen, VG_EINVAL,
			"postgresql: the DSN is missing or over %d bytes",
			PG_DSN_MAX);
	if (app == NULL || strlen(app) >= sizeof(p->app))
		return vg_fail(err, errlen, VG_EINVAL,
			       "postgresql: application name over %zu bytes",
			       sizeof(p->app) - 1);
	/* Parse it first, so that a malformed DSN is told apart from an
	 * unreachable server. */
	if ((opts = PQconninfoParse(dsn, &perr)) == NULL) {
		set_pqerr(err, errlen, "postgresql: malformed DSN: ", perr);
		PQfreemem(perr);
		return VG_EINVAL;
	}
	PQconninfoFree(opts);
	snprintf(p->dsn, sizeof(p->dsn), "%s", dsn);
	snprintf(p->app, sizeof(p->app), "%s", app);

	/* expand_dbname makes the first "dbname" the whole DSN; the keys
	 * after it fill only what it left unset... except that libpq lets
	 * later keys override. So defaults go first, then the DSN. */
	if (!dsn_has(dsn, "target_session_attrs") && !dsn_is_uri(dsn)) {
		keys[k] = "target_session_attrs";
		vals[k++] = "read-write";
	}
	if (!dsn_has(dsn, "connect_timeout") && !dsn_is_uri(dsn)) {
		keys[k] = "connect_timeout";
		vals[k++] = "5";
	}
	keys[k] = "application_name";
	vals[k++] = p->app;
	keys[k] = "dbname";
	vals[k++] = p->dsn;
	keys[k] = NULL;
	vals[k] = NULL;
	p->conn = PQconnectdbParams(keys, vals, 1);
	if (p->conn == NULL)
		return vg_fail(err, errlen, VG_ENOMEM, "postgresql: no memory");
	if (PQstatus(p->conn) != CONNECTION_OK) {
		char pub[256];

		pg_dsn_public(dsn, pub, sizeof(pub));
		char prefix[300];
		snprintf(prefix, sizeof(prefix), "postgresql (%s): ", pub);
		set_pqerr(err, errlen, prefix, PQerrorMessage(p->conn));
		PQfinish(p->conn);
		p->conn = NULL;
		return VG_EIO;
	}
	if (pg_cmd(p, err, errlen,
		   "SET TIME ZONE 'UTC'; SET statement_timeout = 0;"
		   " SET client_min_messages = warning") != 0) {
		PQfinish(p->conn);
		p->conn = NULL;
		return VG_EIO;
	}
	return 0;
}

void
pg_close(struct pg *p)
{
	if (p == NULL)
		return;
	if (p->conn != NULL)
		PQfinish(p->conn);
	p->conn = NULL;
}

int
pg_reconnect(struct pg *p, char *err, size_t errlen)
{
	char dsn[sizeof(p->dsn)], app[sizeof(p->app)];

	memcpy(dsn, p->dsn, sizeof(dsn));
	memcpy(app, p->app, sizeof(app));
	pg_close(p);
	return pg_open(p, dsn, app, err, errlen);
}

void
pg_message(const struct pg *p, const char *prefix, char *buf, size_t len)
{
	set_pqerr(buf, len, prefix,
		  p->conn ? PQerrorMessage(p->conn) : "not connected");
}

bool
pg_lost(const struct pg *p)
{
	return p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK;
}

static int
check_result(struct pg *p, PGresult *r, PGresult **res, char *err,
	     size_t errlen)
{
	ExecStatusType st;

	p->sqlstate[0] = '\0';
	if (res != NULL)
		*res = NULL;
	if (r == NULL) {
		pg_message(p, "postgresql: ", err, errlen);
		return VG_EIO;
	}
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		char prefix[32];

		if (state != NULL)
			snprintf(p->sqlstate, sizeof(p->sqlstate), "%s", state);
		snprintf(prefix, sizeof(prefix),
			 "postgresql [%s]: ", state ? state : "-----");
		set_pqerr(err, errlen, prefix, PQresultErrorMessage(r));
		PQclear(r);
		return VG_EIO;
	}
	if (res != NULL)
		*res = r;
	else
		PQclear(r);
	return 0;
}

int
pg_exec(struct pg *p, PGresult **res, char *err, size_t errlen, const char *sql,
	int n, const char *const *params)
{
	return pg_exec_bin(p, res, err, errlen, sql, n, params, NULL, NULL);
}

int
pg_exec_bin(struct pg *p, PGresult **res, char *err, size_t errlen,
	    const char *sql, int n, const char *const *params, const int *lens,
	    const int *formats)
{
	if (p->conn == NULL) {
		if (res != NULL)
			*res = NULL;
		return vg_fail(err, errlen, VG_EIO,
			       "postgresql: not connected");
	}
	return check_result(
		p,
		PQexecParams(p->conn, sql, n, NULL, params, lens, formats, 0),
		res, err, errlen);
}

int
pg_cmd(struct pg *p, char *err, size_t errlen, const char *sql)
{
	if (p->conn == NULL)
		return vg_fail(err, errlen, VG_EIO,
			       "postgresql: not connected");
	/* PQexec, not PQexecParams: a script of several statements. */
	return check_result(p, PQexec(p->conn, sql), NULL, err, errlen);
}

const char *
pg_sqlstate(const struct pg *p)
{
	return p->sqlstate;
}

int
pg_get_i64(const PGresult *res, int row, int col, int64_t *out)
{
	const char *s;
	char *end;
	long long v;

	if (row >= PQntuples(res) || col >= PQnfields(res) ||
	    PQgetisnull(res, row, col))
		return VG_ECORRUPT;
	s = PQgetvalue(res, row, col);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return VG_ECORRUPT;
	*out = v;
	return 0;
}

int
pg_get_bytea(const PGresult *res, int row, int col, size_t max, uint8_t **out,
	     size_t *len)
{
	const char *s;
	size_t n;
	uint8_t *buf;

	*out = NULL;
	*len = 0;
	if (row >= PQntuples(res) || col >= PQnfields(res) ||
	    PQgetisnull(res, row, col))
		return VG_ECORRUPT;
	s = PQgetvalue(res, row, col);
	n = (size_t)PQgetlength(res, row, col);
	if (n < 2 || s[0] != '\\' || s[1] != 'x' || (n - 2) % 2 != 0)
		return VG_ECORRUPT;
	if ((n - 2) / 2 > max)
		return VG_ECORRUPT;
	/* One byte more, so that an empty value is not malloc(0). */
	if ((buf = malloc((n - 2) / 2 + 1)) == NULL)
		return VG_ENOMEM;
	if (!hex_decode_lower(s + 2, (n - 2) / 2, buf)) {
		free(buf);
		return VG_ECORRUPT;
	}
	*out = buf;
	*len = (n - 2) / 2;
	return 0;
}

int
pg_migrate(struct pg *p, const char *component, const char *const *steps,
	   size_t n, char *err, size_t errlen)
{
	const char *params[2];
	PGresult *res = NULL;
	int64_t have = 0;
	char ver[24];
	int rc;

	/* A session lock, not a transaction's: the steps run in their own
	 * transactions under it. */
	if ((rc = pg_cmd(p, err, errlen,
			 "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")")) != 0)
		return rc;
	rc = pg_cmd(p, err, errlen,
		    "CREATE TABLE IF NOT EXISTS vigil_schema ("
		    " component text PRIMARY KEY,"
		    " version integer NOT NULL CHECK (version >= 0))");
	if (rc != 0)
		goto out;
	params[0] = component;
	rc = pg_exec(p, &res, err, errlen,
		     "SELECT version FROM vigil_schema WHERE component = $1", 1,
		     params);
	if (rc != 0)
		goto out;
	if (PQntuples(res) == 1 && pg_get_i64(res, 0, 0, &have) != 0) {
		rc = vg_fail(err, errlen, VG_ECORRUPT,
			     "postgresql: vigil_schema: unreadable version of "
			     "%s",
			     component);
		goto out;
	}
	PQclear(res);
	res = NULL;
	if (have > (int64_t)n) {
		rc = vg_fail(err, errlen, VG_EINVAL,
			     "postgresql: the %s schema is at version %" PRId64
			     ", newer than this vigil knows (%zu): a newer "
			     "vigil wrote this database",
			     component, have, n);
		goto out;
	}
	for (size_t i = (size_t)have; i < n; i++) {
		if ((rc = pg_cmd(p, err, errlen, "BEGIN")) != 0)
			goto out;
		snprintf(ver, sizeof(ver), "%zu", i + 1);
		params[1] = ver;
		if ((rc = pg_cmd(p, err, errlen, steps[i])) != 0 ||
		    (rc = pg_exec(p, NULL, err, errlen,
				  "INSERT INTO vigil_schema VALUES ($1, $2)"
				  " ON CONFLICT (component) DO UPDATE"
				  " SET version = excluded.version",
				  2, params)) != 0 ||
		    (rc = pg_cmd(p, err, errlen, "COMMIT")) != 0) {
			char why[256];

			snprintf(why, sizeof(why), "%s", err ? err : "");
			(void)pg_cmd(p, NULL, 0, "ROLLBACK");
			vg_seterr(err, errlen, "%s schema, step %zu: %s",
				  component, i + 1, why);
			goto out;
		}
	}
out:
	PQclear(res);
	/* The lock goes with the session if the server is gone. */
	if (!pg_lost(p))
		(void)pg_cmd(p, NULL, 0,
			     "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")");
	return rc;
}

void
pg_dsn_public(const char *dsn, char *buf, size_t len)
{
	PQconninfoOption *opts;
	size_t off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if ((opts = PQconninfoParse(dsn, NULL)) == NULL) {
		snprintf(buf, len, "malformed DSN");
		return;
	}
	/* In this order, whatever the DSN's. */
	static const char *const shown[] = {"host", "hostaddr", "port",
					    "dbname"};
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
			if (strcmp(o->keyword, shown[i]) != 0 ||
			    o->val == NULL || o->val[0] == '\0')
				continue;
			int w = snprintf(buf + off, len - off, "%s%s=%s",
					 off ? " " : "", o->keyword, o->val);
			if (w < 0 || (size_t)w >= len - off)
				break;
			off += (size_t)w;
		}
	}
	PQconninfoFree(opts);
}
