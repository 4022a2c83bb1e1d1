/*
 * samples.h - the regional node's sample store: encrypted at rest,
 * appended to segment files or to PostgreSQL, made durable in groups.
 *
 * Samples are records appended to segment files <dir>/<NNNNNNNNNNNNNNNN>.seg
 * (16 decimal digits, numbered from 1), or, in a region whose nodes share
 * a PostgreSQL cluster, to rows of that cluster (samples_open_pg(); the
 * same records, cut into rows: samples_pg.c). A record is a libsodium
 * secretstream (XChaCha20-Poly1305) under the region's sample key: a
 * header naming the sample's SHA-256 and length, then chunks of at most
 * SAMPLES_CHUNK bytes, the last tagged FINAL; every chunk carries the
 * record header as additional data, so a record cannot pass for another
 * sample. A record is addressed by a struct sample_loc, which the caller
 * keeps (the node keeps it in its metadata store, in the same transaction
 * as the submission that brought the sample).
 *
 * Durability is grouped: samples_append() writes records, samples_sync()
 * makes everything appended so far durable with one fdatasync() (in
 * PostgreSQL: one COMMIT of the transaction the appends were made in), so
 * that one flush covers a whole batch of submissions. The caller records a
 * location only after samples_sync() succeeded, so a location always
 * names a whole record; bytes a crash left after the last sync belong to
 * no location and are never read (in PostgreSQL, they were rolled back).
 * A restarted store never appends to an existing segment: it starts a new
 * one, so a torn tail stays where it is.
 *
 * Reading (samples_read) checks the location against the record, verifies
 * every chunk and the final tag before returning any byte: a truncated,
 * tampered or misplaced record is VG_ECORRUPT, never served.
 *
 * Threads: samples_append() and samples_sync() belong to one writer
 * thread at a time; samples_read() may run in any number of threads (and
 * processes) beside it.
 *
 * Key: 32 random bytes in a key file of mode 0600, created on first use;
 * a key file with wider permissions, or of the wrong size, is refused. A
 * missing key file is generated only while the store directory is empty: a
 * new key could read none of what is there (the path is most likely
 * wrong), so that is refused too. The key is wiped from memory by
 * samples_key_free() (samples_close() for samples_open()'s).
 *
 * Key source. The store never needs the key itself, only each record's
 * secretstream state: init_push derives it from the key and a random
 * header (a subkey that serves that record alone), init_pull from the key
 * and the header read back. A struct samples_keysrc gives those two; the
 * store pushes and pulls the chunks with the state. samples_open() uses
 * the key in this process (tools and tests); the node opens its store with
 * samples_open_keysrc() and the key holder's source (node/keyholder.h), so
 * the key stays in the key holder's process.
 */
#ifndef VIGIL_STORE_SAMPLES_H
#define VIGIL_STORE_SAMPLES_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define SAMPLES_CHUNK (64 * 1024)
/* Largest sample stored: the engine's ceiling on one file. It bounds what
 * samples_read() allocates, whatever a damaged record claims. */
#define SAMPLES_MAX_SIZE (4ULL * 1024 * 1024 * 1024)
/* A segment that has reached this size is closed and a new one started. */
#define SAMPLES_SEGMENT_MAX (1ULL << 30)
/* The first segment number the PostgreSQL backend hands out; those of
 * segment files count up from 1 and never get near it (one per restart or
 * GiB), so a location names one backend's segment or the other's. */
#define SAMPLES_PG_SEGMENT_FIRST 1000000000000000ULL
/* A record's secretstream header, and the key's length. */
#define SAMPLES_SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SAMPLES_KEY_LEN   crypto_secretstream_xchacha20poly1305_KEYBYTES

/* Where a sample's record is: segment number, byte offset in it, and the
 * record's length in bytes (which fixes the sample's length). */
struct sample_loc {
	uint64_t segment;
	uint64_t offset;
	uint64_t length;
};

struct samples;
struct samples_key;

/* Where records get their secretstream state; see "Key source" above.
 * Both return 0 or a VG_E* code (open_init: VG_ECORRUPT for a header
 * that does not initialise), and may be called from any thread. */
struct samples_keysrc {
	/* A new record: a random header and the state it gives. */
	int (*seal_init)(void *ctx,
			 crypto_secretstream_xchacha20poly1305_state *st,
			 uint8_t header[SAMPLES_SS_HEADER]);
	/* A stored record: the state its header gives. */
	int (*open_init)(void *ctx,
			 crypto_secretstream_xchacha20poly1305_state *st,
			 const uint8_t header[SAMPLES_SS_HEADER]);
	void *ctx;
};

/* Opens the sample store kept in PostgreSQL, in the cluster dsn names,
 * with the records sealed through src (samples.c). */
int samples_open_pg(const char *dsn, const struct samples_keysrc *src,
		    struct samples **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Loads the sample key of the store at dir (created, mode 0700, if
 * missing) from key_path, generating it (mode 0600) if missing and the
 * store is empty (see "Key" above), into a new *out for
 * samples_key_free(). Returns 0 or a VG_E* code with a message in err.
 */
int samples_key_open(const char *dir, const char *key_path,
		     struct samples_key **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Wipes and frees k; accepts NULL. */
void samples_key_free(struct samples_key *k);

/* A new record's random header and state under k. Returns 0 or VG_ELIB. */
int samples_key_seal_init(const struct samples_key *k,
			  crypto_secretstream_xchacha20poly1305_state *st,
			  uint8_t header[SAMPLES_SS_HEADER])
	__attribute__((warn_unused_result));

/* The state of a stored record of this header under k. Returns 0 or
 * VG_ECORRUPT. */
int samples_key_open_init(const struct samples_key *k,
			  crypto_secretstream_xchacha20poly1305_state *st,
			  const uint8_t header[SAMPLES_SS_HEADER])
	__attribute__((warn_unused_result));

/* Sets *src to the source that uses k in this process (k must outlive
 * every store opened with it). */
void samples_keysrc_local(struct samples_key *k, struct samples_keysrc *src);

/*
 * Opens the store rooted at dir (created, mode 0700, if missing), with the
 * key at key_path (samples_key_open(); the store owns it). Returns 0 and
 * *out, or a negative VG_E* code with a message in err.
 */
int samples_open(const char *dir, const char *key_path, struct samples **out,
		 char *err, size_t errlen) __attribute__((warn_unused_result));

/* As samples_open(), with the records' states from src (copied; its ctx
 * must outlive the store); the store never sees the key. */
int samples_open_keysrc(const char *dir, const struct samples_keysrc *src,
			struct samples **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Opens the store in the PostgreSQL database at dsn (libpq's forms; pg.h),
 * bringing its "samples" schema up to date (pg_migrate()), with the
 * records' states from src as samples_open_keysrc() takes them. The writer
 * takes a segment number of its own (SAMPLES_PG_SEGMENT_FIRST and up,
 * never one another writer had). Returns 0 and *out, VG_EINVAL (a bad DSN,
 * a schema newer than this build), or VG_EIO (no primary reachable) with a
 * message in err.
 *
 * The same contract as a segment directory, with these differences:
 * samples_append() writes into the writer's transaction (begun by the
 * first append after a sync) and samples_sync() commits it. If either
 * fails (VG_EIO: a statement, the commit, the connection), the transaction
 * is rolled back and every record appended since the last successful sync
 * is gone: the caller must not record their locations. A location read
 * before its sync, or after its transaction was lost, is VG_ENOENT or
 * VG_ECORRUPT, never bytes. samples_read() takes one of a few sessions
 * of its own, waiting while all are busy. A session found lost is
 * reconnected by the next call, to whichever host of the DSN is the
 * primary then; a read is retried once on a new session. samples_close()
 * rolls back what was appended and not synced.
 */
int samples_open_pg(const char *dsn, const struct samples_keysrc *src,
		    struct samples **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Closes the store (the writer's segment or transaction is given up:
 * unsynced records are lost) and frees s; accepts NULL. */
void samples_close(struct samples *s);

/*
 * Encrypts len bytes at buf, whose SHA-256 the caller has computed
 * (sha256_hex: 64 lowercase hex digits; checked again here, VG_EINVAL if
 * it does not match; VG_ELIMIT above SAMPLES_MAX_SIZE), into a new record
 * of the current segment, and returns its location. The record is not
 * durable until samples_sync() returns 0. Records of up to 1 MiB are
 * gathered in memory and written by samples_sync() (or once 1 MiB is
 * gathered), so that a batch of small samples costs one write: a write
 * that fails then is reported by samples_sync(), or by the append that
 * filled the buffer, and every record gathered with it is lost. A larger
 * record is written as it is encrypted: VG_EIO if that fails (nothing
 * referable was written then).
 */
int samples_append(struct samples *s, const char *sha256_hex, const void *buf,
		   size_t len, struct sample_loc *loc)
	__attribute__((warn_unused_result));

/*
 * Makes every record appended so far durable. 0, or VG_EIO: then the
 * records appended since the last successful sync must be treated as
 * lost (the segment is abandoned and the next append starts a new one).
 */
int samples_sync(struct samples *s) __attribute__((warn_unused_result));

/*
 * samples_sync() for a caller that makes the records durable by a commit
 * of its own, which comes after this returns and is itself waited for:
 * the node's metadata commit, in the same PostgreSQL cluster, whose rows
 * name the records. On segment files it is samples_sync(). On PostgreSQL
 * the transaction commits without waiting for the flush or the standby
 * (synchronous_commit = off for it alone): its commit record then comes
 * before the caller's in the cluster's one WAL, so the caller's commit,
 * flushed and confirmed by the synchronous standby, makes both durable on
 * both sites; a crash before it loses both, and the caller acknowledged
 * neither. Only for a caller whose later commit is in the same cluster.
 */
int samples_sync_ordered(struct samples *s)
	__attribute__((warn_unused_result));

/*
 * Decrypts and verifies the sample at loc into a new buffer of *len bytes
 * that the caller frees with free(). VG_ENOENT if the segment does not
 * exist, VG_EIO if it cannot be read (PostgreSQL unreachable), VG_ECORRUPT if
 * the record is truncated, tampered with, is not the one of sha256_hex, or its
 * plaintext does not hash to sha256_hex.
 */
int samples_read(struct samples *s, const struct sample_loc *loc,
		 const char *sha256_hex, uint8_t **out, size_t *len)
	__attribute__((warn_unused_result));

/*
 * Erases the bytes of the record at loc for good, so that no read serves
 * them again (samples_read() is VG_ECORRUPT or VG_ENOENT there), and its
 * neighbours are untouched. In a segment file, the record's byte range is
 * deallocated (fallocate PUNCH_HOLE, KEEP_SIZE: the segment keeps its
 * size and reads zeros there) and the file is fdatasync()ed; in
 * PostgreSQL, the record's rows are deleted and the deletion committed.
 * Erasing what is already erased, or a record of a segment that no
 * longer exists, is 0: a retry after a crash erases what the first try
 * did not. The caller first makes durable that nothing names loc any
 * more (the metadata store cleared the sample's location), then erases:
 * a crash in between leaves bytes no location names, never a location
 * naming erased bytes (the node keeps such records pending in its store
 * and erases them at its next start). May run in any thread beside the
 * writer. Returns 0,
 * VG_EINVAL (a location no record can have), VG_ETYPE (a segment that is
 * not a regular file), or VG_EIO.
 */
int samples_erase(struct samples *s, const struct sample_loc *loc)
	__attribute__((warn_unused_result));

/* Calls fn with the sample key (read-only, for the call's duration only),
 * to compute something public from it such as its ID; returns what fn
 * returns. */
int samples_key_use(const struct samples_key *k,
		    int (*fn)(const uint8_t *key, size_t len, void *ud),
		    void *ud);

/* The length of the record that holds a sample of len bytes. */
uint64_t samples_record_size(uint64_t len);

#endif
