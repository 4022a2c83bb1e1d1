/*
 * pg.h - what every part of vigil that talks to PostgreSQL shares: the
 * connection (libpq, a multi-host DSN that finds the primary by itself),
 * statements with parameters, transactions, the versioned schema, and
 * what an error means for the caller.
 *
 * Used by the PostgreSQL store (store_pg.c), the sample bytes kept in
 * PostgreSQL (samples.c), the transparency log kept in PostgreSQL
 * (tlog_pg.c) and the node's change feed (pgfeed.c). Nothing here knows
 * their tables.
 *
 * Errors. Every function returns 0 or a negative VG_E* code with a
 * message in err: VG_EIO for a server or connection error (the message
 * is the server's, with its SQLSTATE), VG_ECORRUPT for a reply of the
 * wrong shape (columns, types). pg_lost() tells whether the connection is
 * gone (the server crashed, was stopped, or failed over): then the
 * handle is useless and pg_reconnect() opens a new session, to whatever
 * host of the DSN is the primary now. A statement is never retried here:
 * whether a lost COMMIT committed is unknown, and only the caller knows
 * whether what it did can be redone.
 *
 * Schema. pg_migrate() brings one component's tables (for example
 * "store", "samples", "tlog") to its latest version: a list of steps,
 * each run once, in order, in its own transaction, under an advisory lock
 * that every node of the region takes for this, so that two nodes starting
 * together migrate once. vigil_schema(component, version) records where
 * each component is; a database at a version newer than this build knows
 * is refused (VG_EINVAL), never written to.
 *
 * Threads: a struct pg is one session, used by one thread at a time.
 */
#ifndef VIGIL_STORE_PG_H
#define VIGIL_STORE_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg {
	PGconn *conn;
	char dsn[1024];
	char app[64];     /* application_name */
	char sqlstate[6]; /* of the last failed statement; "" if none */
};

/* Longest DSN taken (the [store] dsn of the node's configuration). */
#define PG_DSN_MAX 1023

/*
 * Connects to the primary named by dsn (libpq's key=value or URI form;
 * target_session_attrs=read-write is added when dsn does not say), with
 * application_name app (at most 63 bytes), within connect_timeout
 * (added as 5 s when dsn does not say). Sets the session's time zone to
 * UTC and its statement_timeout to 0. Returns 0, VG_EINVAL (a malformed
 * DSN), or VG_EIO (no server reachable, or none that accepts writes).
 */
int pg_open(struct pg *p, const char *dsn, const char *app, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

/* Closes the session; accepts a closed or zeroed handle. */
void pg_close(struct pg *p);

/* pg_close(), then pg_open() with the same DSN and name. */
int pg_reconnect(struct pg *p, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* libpq's last message on the session, on one line, after prefix, into
 * buf ("not connected" without a session). */
void pg_message(const struct pg *p, const char *prefix, char *buf, size_t len);

/* True if the session is gone (PQstatus is not CONNECTION_OK). */
bool pg_lost(const struct pg *p);

/*
 * Runs sql with n text parameters (NULL for SQL NULL; binary ones through
 * pg_exec_bin()). Returns the result in *res (the caller PQclear()s it;
 * res may be NULL to discard it) when its status is PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK; else VG_EIO with the server's message and SQLSTATE in
 * err, and *res NULL.
 */
int pg_exec(struct pg *p, PGresult **res, char *err, size_t errlen,
	    const char *sql, int n, const char *const *params)
	__attribute__((warn_unused_result));

/* pg_exec() with parameters that may be binary: lens[i] and formats[i]
 * (1: binary) as PQexecParams takes them; results in text. */
int pg_exec_bin(struct pg *p, PGresult **res, char *err, size_t errlen,
		const char *sql, int n, const char *const *params,
		const int *lens, const int *formats)
	__attribute__((warn_unused_result));

/* A statement with no parameters and no rows wanted ("BEGIN", ...).
 * Its result may be ignored where failing changes nothing (a ROLLBACK
 * after an error: the server rolls back anyway when the session ends). */
int pg_cmd(struct pg *p, char *err, size_t errlen, const char *sql);

/* The SQLSTATE of the last failed pg_exec on p ("" if none): the caller
 * tells a unique violation ("23505") or a serialization failure
 * ("40001") from a lost server. */
const char *pg_sqlstate(const struct pg *p);

/*
 * Brings component to the last of its n steps (SQL scripts, several
 * statements each), as described above. The first step is version 1.
 * Returns 0, VG_EINVAL (the database is at a version above n: a newer
 * vigil wrote it), VG_EIO.
 */
int pg_migrate(struct pg *p, const char *component, const char *const *steps,
	       size_t n, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Parses a column of a result row as a signed 64-bit decimal; VG_ECORRUPT
 * if it is NULL or not one. */
int pg_get_i64(const PGresult *res, int row, int col, int64_t *out);

/* Decodes a bytea column (text format, "\x..." hex) into a malloc'd
 * buffer (the caller frees it) of *len bytes, at most max; VG_ECORRUPT for
 * a NULL, malformed or longer value, VG_ENOMEM. */
int pg_get_bytea(const PGresult *res, int row, int col, size_t max,
		 uint8_t **out, size_t *len);

/* Writes DSN's hosts and ports, never its password, into buf ("host=a,b
 * port=5432"): what log lines and /healthz may show. */
void pg_dsn_public(const char *dsn, char *buf, size_t len);

#endif
