/*
 * witness.c - a tlog-witness's checks and durable state; see witness.h.
 *
 * Owns the state directory's descriptor (flock()ed while the witness is
 * open) and, for each known log, its key and the size and root it last
 * cosigned, under the log's mutex. A request is parsed and its log
 * signature checked without a lock; the log's mutex is held from the
 * comparison of the old size with the state, through the proof, the
 * cosignature and the durable write of the new state, to the update of
 * the state in memory. The cosignature is made before the write but
 * returned only after it: nothing is cosigned that a crash could forget.
 */
#include "tlog/witness.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/xmalloc.h"
#include "tlog/checkpoint.h"
#include "tlog/util.h"

#define OLD_PREFIX      "old "
#define OLD_PREFIX_LEN  4
#define PROOF_LINE_LEN  44 /* the base64 of 32 bytes */
#define STATE_MAGIC     "VGWIT01\n"
#define STATE_MAGIC_LEN 8
#define STATE_LEN       (STATE_MAGIC_LEN + 8 + MERKLE_HASH_LEN + 32)
#define STATE_NAME_LEN  (2 * TLOG_SHA256_LEN)
#define WHY_MAX         256

/* A known log. */
struct wlog {
	struct note_verifier key; /* key.name is the origin */
	char file[STATE_NAME_LEN + 1];
	char tmp[STATE_NAME_LEN + 7]; /* ".<file>.tmp" */
	pthread_mutex_t mu;
	/* Under mu: the state last cosigned, durable; or why the log is
	 * refused (broken: VG_ECORRUPT, VG_EIO). */
	uint64_t size;
	struct merkle_hash root;
	int broken;
	char why[WHY_MAX];
};

struct witness {
	int dirfd;                          /* O_DIRECTORY, flock()ed */
	char *dir;                          /* for messages */
	const struct note_signer *cosigner; /* not owned */
	struct wlog *logs;
	size_t nlogs;
};

/* Where witness_add_checkpoint()'s answer goes. */
struct answer {
	int *status;
	char **body;
	size_t *len;
	const char **ctype;
};

/* --- the request ------------------------------------------------------- */

int
witness_request_parse(const char *body, size_t len, struct witness_request *r,
		      char *err, size_t errlen)
{
	const char *cur = body, *end = body + len, *nl;
	size_t ll, got, lineno = 1;

	if (len > WITNESS_REQUEST_MAX) {
		vg_seterr(err, errlen, "request longer than %d bytes",
			  WITNESS_REQUEST_MAX);
		return VG_ELIMIT;
	}
	r->proof_len = 0;
	nl = len > 0 ? memchr(cur, '\n', len) : NULL;
	if (nl == NULL || (ll = (size_t)(nl - cur)) <= OLD_PREFIX_LEN ||
	    memcmp(cur, OLD_PREFIX, OLD_PREFIX_LEN) != 0 ||
	    tlog_parse_u64(cur + OLD_PREFIX_LEN, ll - OLD_PREFIX_LEN,
			   &r->old_size) != 0) {
		vg_seterr(err, errlen, "line 1 is not \"old\" and a tree size");
		return VG_EFORMAT;
	}
	for (cur = nl + 1;; cur = nl + 1) {
		lineno++;
		nl = cur < end ? memchr(cur, '\n', (size_t)(end - cur)) : NULL;
		if (nl == NULL) {
			vg_seterr(err, errlen,
				  "line %zu: no empty line before the "
				  "checkpoint",
				  lineno);
			return VG_EFORMAT;
		}
		ll = (size_t)(nl - cur);
		if (ll == 0)
			break;
		if (r->proof_len == WITNESS_PROOF_MAX) {
			vg_seterr(err, errlen,
				  "line %zu: more than %d proof lines", lineno,
				  WITNESS_PROOF_MAX);
			return VG_ELIMIT;
		}
		if (ll != PROOF_LINE_LEN ||
		    tlog_b64_decode(cur, ll, r->proof[r->proof_len].b,
				    MERKLE_HASH_LEN, &got) != 0 ||
		    got != MERKLE_HASH_LEN) {
			vg_seterr(err, errlen,
				  "line %zu is not the base64 of a 32-byte "
				  "hash",
				  lineno);
			return VG_EFORMAT;
		}
		r->proof_len++;
	}
	cur = nl + 1;
	if (cur == end) {
		vg_seterr(err, errlen, "no checkpoint after the empty line");
		return VG_EFORMAT;
	}
	r->checkpoint = cur;
	r->checkpoint_len = (size_t)(end - cur);
	return 0;
}

int
witness_request_format(uint64_t old_size, const struct merkle_hash *proof,
		       size_t n, const char *cp, size_t cp_len, char **out,
		       size_t *out_len, char *err, size_t errlen)
{
	size_t cap, o;
	char *buf;

	if (n > WITNESS_PROOF_MAX || (n > 0 && proof == NULL) || cp == NULL ||
	    cp_len == 0) {
		vg_seterr(err, errlen,
			  "%zu proof hashes (at most %d), or no checkpoint", n,
			  WITNESS_PROOF_MAX);
		return VG_EINVAL;
	}
	/* n is small: no overflow before the comparison. */
	cap = OLD_PREFIX_LEN + TLOG_U64_DIGITS + 1 + n * (PROOF_LINE_LEN + 1) +
	      1;
	if (cp_len > WITNESS_REQUEST_MAX - cap) {
		vg_seterr(err, errlen, "request longer than %d bytes",
			  WITNESS_REQUEST_MAX);
		return VG_EINVAL;
	}
	buf = xmalloc(cap + cp_len + 1);
	o = (size_t)snprintf(buf, cap, OLD_PREFIX "%" PRIu64 "\n", old_size);
	for (size_t i = 0; i < n; i++) {
		/* Writes 44 characters and a terminator, which the newline
		 * replaces. */
		o += tlog_b64_encode(proof[i].b, MERKLE_HASH_LEN, buf + o);
		buf[o++] = '\n';
	}
	buf[o++] = '\n';
	memcpy(buf + o, cp, cp_len);
	o += cp_len;
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	return 0;
}

/* --- state files ------------------------------------------------------- */

static int
state_sum(const uint8_t *head, const char *origin, uint8_t out[32])
{
	struct tlog_bytes parts[2] = {
		{head, STATE_LEN - 32},
		{origin, strlen(origin)},
	};

	return tlog_sha256(parts, 2, out);
}

/* Names the state file of origin: its SHA-256 in lowercase hex. */
static int
state_name(const char *origin, char out[STATE_NAME_LEN + 1])
{
	struct tlog_bytes part = {origin, strlen(origin)};
	uint8_t h[TLOG_SHA256_LEN];
	int rc;

	if ((rc = tlog_sha256(&part, 1, h)) != 0)
		return rc;
	hex_encode(h, sizeof(h), out);
	return 0;
}

/*
 * Reads lg's state into lg->size and lg->root: none is size 0 and the
 * empty tree. A state that cannot be read or makes no sense sets
 * lg->broken and lg->why instead.
 */
static void
state_load(struct witness *w, struct wlog *lg)
{
	struct merkle_hash empty;
	uint8_t buf[STATE_LEN], sum[32];
	struct stat st;
	int fd;

	merkle_hash_empty(&empty);
	lg->size = 0;
	lg->root = empty;
	fd = openat(w->dirfd, lg->file,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return;
		lg->broken = VG_EIO;
		snprintf(lg->why, sizeof(lg->why), "state file %s: %s",
			 lg->file, strerror(errno));
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size != STATE_LEN) {
		lg->broken = VG_ECORRUPT;
		snprintf(lg->why, sizeof(lg->why),
			 "state file %s: not a file of %d bytes", lg->file,
			 STATE_LEN);
		goto out;
	}
	if (io_pread_all(fd, buf, sizeof(buf), 0) != 0) {
		lg->broken = VG_EIO;
		snprintf(lg->why, sizeof(lg->why), "state file %s: read failed",
			 lg->file);
		goto out;
	}
	if (memcmp(buf, STATE_MAGIC, STATE_MAGIC_LEN) != 0) {
		lg->broken = VG_ECORRUPT;
		snprintf(lg->why, sizeof(lg->why),
			 "state file %s: not a witness state", lg->file);
		goto out;
	}
	if (state_sum(buf, lg->key.name, sum) != 0) {
		lg->broken = VG_ELIB;
		snprintf(lg->why, sizeof(lg->why), "hashing failed");
		goto out;
	}
	if (memcmp(sum, buf + STATE_LEN - 32, 32) != 0) {
		lg->broken = VG_ECORRUPT;
		snprintf(lg->why, sizeof(lg->why),
			 "state file %s: checksum does not match (damaged, "
			 "or another log's)",
			 lg->file);
		goto out;
	}
	lg->size = tlog_be64(buf + STATE_MAGIC_LEN);
	memcpy(lg->root.b, buf + STATE_MAGIC_LEN + 8, MERKLE_HASH_LEN);
	if (lg->size == 0 && !merkle_hash_equal(&lg->root, &empty)) {
		lg->broken = VG_ECORRUPT;
		snprintf(lg->why, sizeof(lg->why),
			 "state file %s: size 0 with another root than the "
			 "empty tree's",
			 lg->file);
	}
out:
	close(fd);
}

/*
 * Persists (size, root) as lg's state: a temporary file, fsync()ed,
 * renamed over the state file, and the directory fsync()ed. *renamed
 * says whether the rename happened: after it, a failure leaves unknown
 * which state is durable.
 */
static int
state_write(struct witness *w, struct wlog *lg, uint64_t size,
	    const struct merkle_hash *root, bool *renamed, char *why,
	    size_t whylen)
{
	uint8_t buf[STATE_LEN];
	int fd, rc = 0;

	*renamed = false;
	memcpy(buf, STATE_MAGIC, STATE_MAGIC_LEN);
	tlog_put_be64(buf + STATE_MAGIC_LEN, size);
	memcpy(buf + STATE_MAGIC_LEN + 8, root->b, MERKLE_HASH_LEN);
	if ((rc = state_sum(buf, lg->key.name, buf + STATE_LEN - 32)) != 0) {
		snprintf(why, whylen, "hashing failed");
		return rc;
	}
	fd = openat(w->dirfd, lg->tmp,
		    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		snprintf(why, whylen, "state file %s: %s", lg->tmp,
			 strerror(errno));
		return VG_EIO;
	}
	if (io_write_all(fd, buf, sizeof(buf)) != 0 || io_fsync(fd) != 0) {
		snprintf(why, whylen, "state file %s: write: %s", lg->tmp,
			 strerror(errno));
		rc = VG_EIO;
	}
	if (close(fd) != 0 && rc == 0) {
		snprintf(why, whylen, "state file %s: close: %s", lg->tmp,
			 strerror(errno));
		rc = VG_EIO;
	}
	if (rc == 0 && renameat(w->dirfd, lg->tmp, w->dirfd, lg->file) != 0) {
		snprintf(why, whylen, "state file %s: rename: %s", lg->file,
			 strerror(errno));
		rc = VG_EIO;
	}
	if (rc != 0) {
		unlinkat(w->dirfd, lg->tmp, 0);
		return rc;
	}
	*renamed = true;
	if (io_fsync(w->dirfd) != 0) {
		snprintf(why, whylen,
			 "state file %s: directory fsync failed: which state "
			 "is durable is unknown until the witness restarts",
			 lg->file);
		return VG_EIO;
	}
	return 0;
}

/* --- opening ----------------------------------------------------------- */

/* Checks the keys witness_open() is given. */
static int
check_keys(const struct note_signer *cosigner, const struct note_verifier *logs,
	   size_t nlogs, char *err, size_t errlen)
{
	struct note_verifier ck;

	note_signer_verifier(cosigner, &ck);
	if (ck.type != NOTE_COSIGNATURE) {
		vg_seterr(err, errlen,
			  "the witness key %s is not a cosigner key (type "
			  "0x04)",
			  ck.name);
		return VG_EINVAL;
	}
	for (size_t i = 0; i < nlogs; i++) {
		if (logs[i].type != NOTE_ED25519) {
			vg_seterr(err, errlen,
				  "the key of log %s is not an Ed25519 "
				  "signed-note key (type 0x01)",
				  logs[i].name);
			return VG_EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(logs[i].name, logs[j].name) == 0) {
				vg_seterr(err, errlen, "log %s is given twice",
					  logs[i].name);
				return VG_EINVAL;
			}
	}
	return 0;
}

int
witness_open(const char *dir, const struct note_signer *cosigner,
	     const struct note_verifier *logs, size_t nlogs,
	     struct witness **out, char *err, size_t errlen)
{
	struct witness *w;
	int rc;

	*out = NULL;
	if (dir == NULL || *dir == '\0' || cosigner == NULL ||
	    (nlogs > 0 && logs == NULL)) {
		vg_seterr(err, errlen, "no directory or key");
		return VG_EINVAL;
	}
	if ((rc = check_keys(cosigner, logs, nlogs, err, errlen)) != 0)
		return rc;
	w = xcalloc(1, sizeof(*w));
	w->dirfd = -1;
	w->dir = xstrdup(dir);
	w->cosigner = cosigner;
	if ((rc = io_dir_open(w->dir,
			      "state directory in use by another witness",
			      &w->dirfd, err, errlen)) != 0) {
		witness_close(w);
		return rc;
	}
	w->logs = xcalloc(nlogs ? nlogs : 1, sizeof(*w->logs));
	for (size_t i = 0; i < nlogs; i++) {
		struct wlog *lg = &w->logs[i];

		lg->key = logs[i];
		if ((rc = state_name(lg->key.name, lg->file)) != 0) {
			vg_seterr(err, errlen, "hashing failed");
			witness_close(w);
			return rc;
		}
		snprintf(lg->tmp, sizeof(lg->tmp), ".%s.tmp", lg->file);
		pthread_mutex_init(&lg->mu, NULL);
		w->nlogs++;
		state_load(w, lg);
	}
	*out = w;
	return 0;
}

void
witness_close(struct witness *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->nlogs; i++)
		pthread_mutex_destroy(&w->logs[i].mu);
	if (w->dirfd >= 0)
		close(w->dirfd); /* and the flock with it */
	free(w->logs);
	free(w->dir);
	free(w);
}

static struct wlog *
find_log(struct witness *w, const char *origin)
{
	for (size_t i = 0; i < w->nlogs; i++)
		if (strcmp(w->logs[i].key.name, origin) == 0)
			return &w->logs[i];
	return NULL;
}

int
witness_latest(struct witness *w, const char *origin, uint64_t *size,
	       struct merkle_hash *root, char *err, size_t errlen)
{
	struct wlog *lg = find_log(w, origin);
	int rc;

	if (lg == NULL) {
		vg_seterr(err, errlen, "unknown log %s", origin);
		return VG_ENOENT;
	}
	pthread_mutex_lock(&lg->mu);
	if ((rc = lg->broken) != 0) {
		vg_seterr(err, errlen, "%s: %s", w->dir, lg->why);
	} else {
		if (size != NULL)
			*size = lg->size;
		if (root != NULL)
			*root = lg->root;
	}
	pthread_mutex_unlock(&lg->mu);
	return rc;
}

/* --- add-checkpoint ---------------------------------------------------- */

/* Answers status with a body of ctype: the formatted text. */
static void reply(const struct answer *a, int status, const char *ctype,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
reply(const struct answer *a, int status, const char *ctype, const char *fmt,
      ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("cannot format an answer");
	free(*a->body);
	*a->body = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(*a->body, (size_t)n + 1, fmt, ap);
	va_end(ap);
	*a->len = (size_t)n;
	*a->status = status;
	*a->ctype = ctype;
}

/*
 * With lg's mutex held and the request's signature checked: the checks
 * against the state, the cosignature and the new state. Returns as
 * witness_add_checkpoint().
 */
static int
add_locked(struct witness *w, struct wlog *lg,
	   const struct witness_request *req, const struct note *n,
	   const struct checkpoint *c, uint64_t now, const struct answer *a)
{
	struct merkle_hash empty;
	char line[NOTE_LINE_MAX], why[WHY_MAX] = "";
	size_t ll;
	bool renamed;
	int rc;

	if (lg->broken) {
		reply(a, 500, WITNESS_TEXT_TYPE,
		      "the witness cannot serve this log: %s\n", lg->why);
		return lg->broken;
	}
	if (req->old_size != lg->size) {
		reply(a, 409, WITNESS_SIZE_TYPE, "%" PRIu64 "\n", lg->size);
		return 0;
	}
	/* Here old size = the state's size <= the checkpoint's. */
	merkle_hash_empty(&empty);
	if (req->old_size == 0 || req->old_size == c->size) {
		if (req->proof_len != 0) {
			reply(a, 422, WITNESS_TEXT_TYPE,
			      "the consistency proof from size %" PRIu64
			      " to size %" PRIu64 " is empty (got %zu proof "
			      "lines)\n",
			      req->old_size, c->size, req->proof_len);
			return 0;
		}
		if (c->size == 0 && !merkle_hash_equal(&c->root, &empty)) {
			reply(a, 422, WITNESS_TEXT_TYPE,
			      "a checkpoint of size 0 has the root of the "
			      "empty tree\n");
			return 0;
		}
		if (c->size == lg->size &&
		    !merkle_hash_equal(&c->root, &lg->root)) {
			reply(a, 409, WITNESS_TEXT_TYPE,
			      "fork: the witness cosigned another root at "
			      "size %" PRIu64 "\n",
			      c->size);
			return 0;
		}
	} else {
		rc = merkle_verify_consistency(
			req->old_size, c->size, &lg->root, &c->root, req->proof,
			req->proof_len, why, sizeof(why));
		if (rc == VG_ELIB) {
			reply(a, 500, WITNESS_TEXT_TYPE,
			      "the witness failed: %s\n", why);
			return rc;
		}
		if (rc != 0) {
			reply(a, 422, WITNESS_TEXT_TYPE,
			      "the consistency proof from size %" PRIu64
			      " to size %" PRIu64 " does not verify: %s\n",
			      req->old_size, c->size, why);
			return 0;
		}
	}
	rc = note_sign_line(w->cosigner, n->text, n->text_len, now, line, &ll,
			    why, sizeof(why));
	if (rc != 0) {
		reply(a, 500, WITNESS_TEXT_TYPE, "the witness failed: %s\n",
		      why);
		return rc;
	}
	if (c->size != lg->size || !merkle_hash_equal(&c->root, &lg->root)) {
		rc = state_write(w, lg, c->size, &c->root, &renamed, why,
				 sizeof(why));
		if (rc != 0) {
			if (renamed) {
				lg->broken = rc;
				snprintf(lg->why, sizeof(lg->why), "%s", why);
			}
			reply(a, 500, WITNESS_TEXT_TYPE,
			      "the witness failed: %s\n", why);
			return rc;
		}
		/* Sizes only grow: old = the state's size <= c->size. */
		assert(c->size >= lg->size);
		lg->size = c->size;
		lg->root = c->root;
	}
	reply(a, 200, WITNESS_TEXT_TYPE, "%s", line);
	return 0;
}

int
witness_add_checkpoint(struct witness *w, const char *body, size_t len,
		       uint64_t now, int *status, char **resp_body,
		       size_t *resp_len, const char **resp_ctype)
{
	const struct answer a = {status, resp_body, resp_len, resp_ctype};
	struct witness_request req;
	struct checkpoint c;
	struct note *n = NULL;
	struct wlog *lg;
	size_t nverified;
	char why[WHY_MAX] = "";
	int rc = 0;

	*resp_body = NULL;
	memset(&c, 0, sizeof(c));
	if (body == NULL) {
		body = "";
		len = 0;
	}
	if (now > (uint64_t)INT64_MAX) {
		reply(&a, 500, WITNESS_TEXT_TYPE,
		      "the witness's clock is past 2^63-1\n");
		return VG_EINVAL;
	}
	if (witness_request_parse(body, len, &req, why, sizeof(why)) != 0) {
		reply(&a, 400, WITNESS_TEXT_TYPE, "malformed request: %s\n",
		      why);
		return 0;
	}
	if (note_parse(req.checkpoint, req.checkpoint_len, &n, why,
		       sizeof(why)) != 0 ||
	    checkpoint_parse(n->text, n->text_len, &c, why, sizeof(why)) != 0) {
		reply(&a, 400, WITNESS_TEXT_TYPE, "malformed checkpoint: %s\n",
		      why);
		goto out;
	}
	if ((lg = find_log(w, c.origin)) == NULL) {
		reply(&a, 404, WITNESS_TEXT_TYPE, "unknown log\n");
		goto out;
	}
	if (note_verify(n, &lg->key, 1, &nverified, why, sizeof(why)) != 0) {
		reply(&a, 403, WITNESS_TEXT_TYPE,
		      "no valid signature by the log's key\n");
		goto out;
	}
	if (req.old_size > c.size) {
		reply(&a, 400, WITNESS_TEXT_TYPE,
		      "old size %" PRIu64 " is above the checkpoint's size "
		      "%" PRIu64 "\n",
		      req.old_size, c.size);
		goto out;
	}
	pthread_mutex_lock(&lg->mu);
	rc = add_locked(w, lg, &req, n, &c, now, &a);
	pthread_mutex_unlock(&lg->mu);
out:
	checkpoint_clear(&c);
	note_free(n);
	return rc;
}
