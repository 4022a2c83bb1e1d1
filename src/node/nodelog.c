/*
 * nodelog.c - the node's transparency log; see nodelog.h.
 *
 * On PostgreSQL ([store] backend = postgres) the log is the region's
 * (store/tlog_pg.h): this node appends itself while it holds the
 * sequencer lease, and otherwise hands its batches to the node that
 * does, through log_pending, and waits for where they went. A thread of
 * its own (lease_main) competes for the lease, keeps it, drains
 * log_pending while it holds it, and otherwise publishes the head the
 * sequencer committed (tlog_log_refresh()) every FOLLOW_MS.
 */
#include "node/nodelog.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/secretfile.h"
#include "common/xmalloc.h"
#include "store/pg.h"
#include "store/tlog_pg.h"
#include "tlog/checkpoint.h"
#include "tlog/entry.h"
#include "tlog/handover.h"
#include "tlog/note.h"

#define TOKEN_PREFIX "vgop."
#define TOKEN_BYTES  32
#define PATH_MAX_LEN 1200

/* PostgreSQL: how often the sequencer looks at log_pending and its
 * session, how often a follower publishes the committed head, how often
 * a follower looks for its handed-over rows, and how long it waits for
 * them before the items fail (no sequencer). */
#define SEQUENCE_MS    50
#define FOLLOW_MS      200
#define HANDOFF_MS     50
#define HANDOFF_MAX_MS 10000
/* How long a start waits for the region's log to exist. */
#define START_WAIT_MS 15000
/* Pending rows a batch takes at most. */
#define PENDING_ROWS 64

/* The key files a node of a region needs (docs/OPERATING.md). */
#define REGION_FILES                                                           \
	"log.key, sample.key, release-online.key, release-online.pub and "     \
	"operator.token"

struct nodelog {
	struct tlog_log *log;
	/* PostgreSQL: the region's log and its lease; NULL on files. */
	struct tlog_pg *tp;
	pthread_mutex_t seqlock; /* the lease connection, and appends */
	bool need_reload;        /* an append failed: load the head again */
	pthread_t lease_thread;
	bool lease_running;
	atomic_bool stop;
	char site[CONFIG_NAME_MAX + 1];
	const struct note_signer *signer; /* the key holder's */
	char *handover; /* the latest handover note, or NULL */
	size_t handover_len;
	struct batcher *seq;
	char origin[NOTE_ORIGIN_MAX + 1];
	char verifier[NOTE_KEY_MAX];
	uint8_t token_hash[32]; /* SHA-256 of the operator token */
};

/* Loads the operator token's hash from path, creating it on first use. */
static int
load_token(const char *path, uint8_t hash[32], char *err, size_t errlen)
{
	uint8_t rnd[TOKEN_BYTES];
	char tok[sizeof(TOKEN_PREFIX) + 2 * TOKEN_BYTES + 2], *text = NULL;
	size_t len;
	int rc;

	rc = secret_file_read(path, sizeof(tok), &text, &len, err, errlen);
	if (rc == VG_ENOENT) {
		randombytes_buf(rnd, sizeof(rnd));
		memcpy(tok, TOKEN_PREFIX, strlen(TOKEN_PREFIX));
		sodium_bin2hex(tok + strlen(TOKEN_PREFIX),
			       sizeof(tok) - strlen(TOKEN_PREFIX), rnd,
			       sizeof(rnd));
		sodium_memzero(rnd, sizeof(rnd));
		len = strlen(tok);
		crypto_hash_sha256(hash, (const uint8_t *)tok, len);
		tok[len++] = '\n';
		rc = secret_file_create(path, tok, len, err, errlen);
		sodium_memzero(tok, sizeof(tok));
		return rc;
	}
	if (rc != 0)
		return rc;
	while (len > 0 && text[len - 1] == '\n')
		len--;
	if (len <= strlen(TOKEN_PREFIX) ||
	    memcmp(text, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0 ||
	    memchr(text, '\n', len) != NULL) {
		snprintf(err, errlen, "%s: not an operator token", path);
		rc = VG_EFORMAT;
	} else {
		crypto_hash_sha256(hash, (const uint8_t *)text, len);
	}
	sodium_memzero(text, len);
	free(text);
	return rc;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * The sequencer's batch on PostgreSQL, under seqlock while this node
 * holds the lease: the rows other nodes handed over (up to PENDING_ROWS),
 * then this node's n entries, as one append. *first and *size: where the
 * first of the n went and the tree that covers them; *taken: how many
 * handed-over entries went with them.
 */
static int
seq_append(struct nodelog *nl, const struct tile_entry *e, size_t n,
	   uint64_t *first, uint64_t *size, size_t *taken, char *err,
	   size_t errlen)
{
	const struct tile_entry *pe;
	struct tile_entry *all;
	size_t np;
	uint64_t f = 0;
	int rc;

	*taken = 0;
	rc = tlog_pg_pending_take(nl->tp, PENDING_ROWS, &pe, &np, err, errlen);
	if (rc != 0) {
		nl->need_reload = true;
		return rc;
	}
	if (np + n == 0) {
		tlog_pg_batch_abort(nl->tp);
		*first = *size = tlog_log_size(nl->log);
		return 0;
	}
	all = xreallocarray(NULL, np + n, sizeof(*all));
	if (np > 0)
		memcpy(all, pe, np * sizeof(*all));
	if (n > 0)
		memcpy(all + np, e, n * sizeof(*all));
	rc = tlog_log_append(nl->log, all, np + n, &f, err, errlen);
	/* Ends a batch the append never opened (an entry refused before
	 * it began); nothing after a commit. */
	tlog_pg_batch_abort(nl->tp);
	free(all);
	if (rc != 0) {
		nl->need_reload = true;
		return rc;
	}
	*first = f + np;
	*size = f + np + n;
	*taken = np;
	return 0;
}

/*
 * A follower's batch: one log_pending row for the sequencer, then the
 * wait for where it went (every HANDOFF_MS, at most HANDOFF_MAX_MS; then
 * the row is withdrawn if no sequencer took it, and the batch fails).
 * Once it is appended, the node publishes the head that covers it, so
 * that what it answers it also serves.
 */
static int
handoff(struct nodelog *nl, const struct tile_entry *e, size_t n,
	uint64_t *first, uint64_t *size, char *err, size_t errlen)
{
	unsigned waited = 0;
	bool appended;
	int64_t id;
	int rc;

	if ((rc = tlog_pg_pending_add(nl->tp, e, n, &id, err, errlen)) != 0)
		return rc;
	for (;;) {
		rc = tlog_pg_pending_result(nl->tp, id, first, size, err,
					    errlen);
		if (rc == 0 || rc == VG_EINVAL || rc == VG_ECORRUPT)
			break;
		/* VG_ENOENT (it waits) or VG_EIO (asked again later). */
		if (waited >= HANDOFF_MAX_MS) {
			rc = tlog_pg_pending_cancel(nl->tp, id, &appended,
						    first, size, err, errlen);
			if (rc == 0 && !appended)
				rc = vg_fail(err, errlen, VG_EIO,
					     "no sequencer appended the "
					     "entries within %d ms: withdrawn",
					     HANDOFF_MAX_MS);
			else if (rc != 0 && rc != VG_EINVAL)
				rc = VG_EIO; /* may still be appended */
			break;
		}
		sleep_ms(HANDOFF_MS);
		waited += HANDOFF_MS;
	}
	if (rc == 0 && tlog_log_size(nl->log) < *size) {
		char why[256];

		if (tlog_log_refresh(nl->log, why, sizeof(why)) != 0)
			log_event(LOG_ERROR, "log_refresh_failed", "err=\"%s\"",
				  why);
	}
	return rc;
}

/* Appends the n entries as one batch: to the files, or, on PostgreSQL,
 * as the sequencer or through it. */
static int
log_append(struct nodelog *nl, const struct tile_entry *e, size_t n,
	   uint64_t *first, uint64_t *size, char *err, size_t errlen)
{
	size_t taken;
	bool leased;
	int rc;

	if (nl->tp == NULL) {
		rc = tlog_log_append(nl->log, e, n, first, err, errlen);
		*size = *first + n;
		return rc;
	}
	pthread_mutex_lock(&nl->seqlock);
	leased = tlog_pg_leased(nl->tp) && !nl->need_reload;
	rc = leased ? seq_append(nl, e, n, first, size, &taken, err, errlen)
		    : 0;
	pthread_mutex_unlock(&nl->seqlock);
	return leased ? rc : handoff(nl, e, n, first, size, err, errlen);
}

/* The sequencer's batch: one append, one checkpoint, for all of them. */
static void
append_batch(void *ctx, struct batch_item **items, size_t n)
{
	struct nodelog *nl = ctx;
	struct tile_entry *e = xcalloc(n, sizeof(*e));
	uint64_t first = 0, size = 0;
	char err[160] = "";
	int rc;

	for (size_t i = 0; i < n; i++) {
		struct nodelog_item *it = (struct nodelog_item *)items[i];

		e[i].data = it->entry;
		e[i].len = it->len;
	}
	rc = log_append(nl, e, n, &first, &size, err, sizeof(err));
	if (rc != 0)
		log_event(LOG_ERROR, "log_append_failed",
			  "entries=%zu err=\"%s\"", n, err);
	for (size_t i = 0; i < n; i++) {
		struct nodelog_item *it = (struct nodelog_item *)items[i];

		it->rc = rc;
		it->index = first + i;
		it->size = size;
		snprintf(it->err, sizeof(it->err), "%s", err);
	}
	free(e);
}

/* Encodes e and appends it on its own (at start, before the sequencer
 * runs). */
static int
append_entry(struct nodelog *nl, const struct tlog_entry *e, char *err,
	     size_t errlen)
{
	struct tile_entry te;
	char *text = NULL;
	uint64_t first, size;
	size_t len;
	int rc;

	if ((rc = tlog_entry_encode(e, &text, &len, err, errlen)) != 0)
		return rc;
	te.data = (const uint8_t *)text;
	te.len = len;
	rc = log_append(nl, &te, 1, &first, &size, err, errlen);
	free(text);
	if (rc == 0)
		log_event(LOG_INFO, "log_appended", "index=%llu type=%s",
			  (unsigned long long)first,
			  tlog_entry_type_name(e->type));
	return rc;
}

/* The log's first entry: what this node is, and its keys (the sample
 * key by its ID only). */
static int
append_node_entry(struct nodelog *nl, const struct node_config *cfg,
		  const char *kid, char *err, size_t errlen)
{
	struct tlog_entry e;

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_NODE;
	e.time = (int64_t)time(NULL);
	e.node.region = cfg->region;
	e.node.site = cfg->site;
	e.node.log_key = nl->verifier;
	e.node.sample_key = kid;
	e.node.version = VIGIL_VERSION;
	return append_entry(nl, &e, err, errlen);
}

/* Appends one administrative entry of type t with text body, now. */
static int
append_admin(struct nodelog *nl, enum tlog_entry_type t, const char *body,
	     char *err, size_t errlen)
{
	struct tlog_entry e;
	int rc;

	if ((rc = tlog_entry_admin(t, (int64_t)time(NULL), body, strlen(body),
				   &e, err, errlen)) != 0)
		return rc;
	rc = append_entry(nl, &e, err, errlen);
	tlog_entry_clear(&e);
	return rc;
}

/*
 * What the log says about this node: where it processes data, which
 * witnesses it asks, and its keys. <data>/log.settings remembers what was
 * last recorded:
 *
 *   origin: <the log's origin>
 *   log-key: <the log's verifier key>
 *   sample-key: <the sample key's ID>
 *   location: region <region>, site <site>
 *   <name> <key> <url>                  one line per witness
 *
 * (Files written before the keys were recorded start at "location: ",
 * and those written before the origin was recorded at "log-key: ".)
 * A start with another region or site appends a location-change, one
 * with another set of witnesses a witness-set-change, one with another
 * sample key a key-change, a new log key the handover's key-change
 * (nodelog_open), and only then is the file
 * updated. (A crash between the two records the change twice, never not
 * at all.)
 */
struct settings {
	char *raw;  /* the file as read */
	char *text; /* a copy the members point into */
	const char *origin, *log_key, *sample_key, *loc, *wit;
};

/* Splits off the line at *p that starts with prefix, if it does. */
static const char *
take_line(char **p, const char *prefix)
{
	size_t n = strlen(prefix);
	char *nl1, *v;

	if (strncmp(*p, prefix, n) != 0 || (nl1 = strchr(*p, '\n')) == NULL)
		return NULL;
	*nl1 = '\0';
	v = *p + n;
	*p = nl1 + 1;
	return v;
}

/* Parses text (taken; malloc'd) into *st. */
static void
parse_settings(char *text, struct settings *st)
{
	char *p;

	memset(st, 0, sizeof(*st));
	st->text = text;
	st->raw = xstrdup(st->text);
	p = st->text;
	st->origin = take_line(&p, "origin: ");
	st->log_key = take_line(&p, "log-key: ");
	st->sample_key = take_line(&p, "sample-key: ");
	if ((st->loc = take_line(&p, "location: ")) != NULL)
		st->wit = p;
}

/* Reads <data>/log.settings into *st; no file leaves every member NULL. */
static int
read_settings(const char *path, struct settings *st, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = secret_file_read(path, 64 * 1024, &text, &len, err, errlen);
	if (rc == VG_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	parse_settings(text, st);
	return 0;
}

/* On PostgreSQL, what this node's site recorded last (tlog_site), in
 * log.settings' format. */
static int
read_site_settings(struct nodelog *nl, struct settings *st, char *err,
		   size_t errlen)
{
	char *text = NULL;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = tlog_pg_site_get(nl->tp, nl->site, &text, err, errlen)) != 0)
		return rc;
	if (text != NULL)
		parse_settings(text, st);
	return 0;
}

static void
settings_clear(struct settings *st)
{
	free(st->raw);
	if (st->text != NULL) {
		explicit_bzero(st->text, strlen(st->text));
		free(st->text);
	}
	memset(st, 0, sizeof(*st));
}

/* Appends a key-change for the key what, now new, recorded as old. */
static int
key_changed(struct nodelog *nl, const char *what, const char *old,
	    const char *new, char *err, size_t errlen)
{
	char *body = xasprintf("The %s is replaced.\nold %s\nnew %s\n", what,
			       old, new);
	int rc = append_admin(nl, TLOG_ENTRY_KEY_CHANGE, body, err, errlen);

	free(body);
	return rc;
}

static int
record_settings(struct nodelog *nl, const struct node_config *cfg,
		const char *kid, const struct settings *old, bool fresh,
		char *err, size_t errlen)
{
	char path[PATH_MAX_LEN];
	char *now, *loc, *wit, *body;
	size_t wlen = 0;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/log.settings", cfg->data_dir);
	wit = xstrdup("");
	for (size_t i = 0; i < cfg->n_witnesses; i++) {
		char *n = xasprintf("%s%s %s %s\n", wit, cfg->witnesses[i].name,
				    cfg->witnesses[i].vkey,
				    cfg->witnesses[i].url);
		free(wit);
		wit = n;
	}
	wlen = strlen(wit);
	loc = xasprintf("region %s, site %s", cfg->region, cfg->site);
	now = xasprintf("origin: %s\nlog-key: %s\nsample-key: %s\n"
			"location: %s\n%s",
			nl->origin, nl->verifier, kid, loc, wit);
	/* The first entry of a new log already says where it is and what
	 * its keys are; a file from before keys were recorded records them
	 * now, with no change to report. */
	if (!fresh && (old->loc == NULL || strcmp(old->loc, loc) != 0)) {
		body = xasprintf("The node now processes data in %s%s%s.\n",
				 loc, old->loc ? "; before, in " : "",
				 old->loc ? old->loc : "");
		rc = append_admin(nl, TLOG_ENTRY_LOCATION_CHANGE, body, err,
				  errlen);
		free(body);
	}
	if (rc == 0 && ((old->wit == NULL && wlen > 0) ||
			(old->wit != NULL && strcmp(old->wit, wit) != 0))) {
		body = xasprintf("The node asks these witnesses to cosign its "
				 "checkpoints (name, key, URL):\n%s",
				 wlen ? wit : "none\n");
		rc = append_admin(nl, TLOG_ENTRY_WITNESS_SET_CHANGE, body, err,
				  errlen);
		free(body);
	}
	if (rc == 0 && !fresh && old->sample_key != NULL &&
	    strcmp(old->sample_key, kid) != 0)
		rc = key_changed(nl, "sample key (its ID)", old->sample_key,
				 kid, err, errlen);
	if (rc == 0 && (old->raw == NULL || strcmp(old->raw, now) != 0)) {
		if (nl->tp != NULL) {
			/* The region's record of this site. */
			rc = tlog_pg_site_put(nl->tp, cfg->site, now, err,
					      errlen);
		} else {
			/* Rewritten whole: unlink, then create (0600). */
			unlink(path);
			rc = secret_file_create(path, now, strlen(now), err,
						errlen);
		}
	}
	free(now);
	free(loc);
	free(wit);
	return rc;
}

/* True if s[0..len) may be an origin line: printable, no newline. */
static bool
origin_ok(const char *s, size_t len)
{
	if (len == 0 || len > NOTE_ORIGIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* True if <data>/name exists. */
static bool
data_file(const struct node_config *cfg, const char *name)
{
	char path[PATH_MAX_LEN];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, name);
	return lstat(path, &st) == 0;
}

/*
 * nodelog_recorded() on PostgreSQL: the region's record decides. A data
 * directory without log.key is refused when the
 * cluster holds a region's log already, before the key holder would
 * create a key of its own: a node of a region signs with the region's
 * keys, copied from another node.
 */
static int
recorded_pg(const struct node_config *cfg, struct nodelog_recorded *r,
	    char *err, size_t errlen)
{
	struct tlog_pg_region reg;
	struct tlog_pg *tp = NULL;
	char pub[256];
	int rc;

	pg_dsn_public(cfg->store_dsn, pub, sizeof(pub));
	if ((rc = tlog_pg_open(cfg->store_dsn, "vigild-start", &tp, err,
			       errlen)) != 0)
		return rc;
	rc = tlog_pg_region_get(tp, &reg, err, errlen);
	tlog_pg_close(tp);
	if (rc == VG_ENOENT) { /* the first node of the region */
		snprintf(r->origin, sizeof(r->origin), "%s", cfg->log_origin);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (strcmp(reg.region, cfg->region) != 0)
		return vg_fail(err, errlen, VG_EINVAL,
			       "the PostgreSQL cluster (%s) holds the log of "
			       "region %s; this node is configured for region "
			       "%s: a cluster serves one region",
			       pub, reg.region, cfg->region);
	if (cfg->log_origin[0] != '\0' &&
	    strcmp(cfg->log_origin, reg.origin) != 0)
		return vg_fail(err, errlen, VG_EINVAL,
			       "the configured log origin (%s) is not the "
			       "region's (%s, in the PostgreSQL cluster %s)",
			       cfg->log_origin, reg.origin, pub);
	/* (Not even with log.key.old: the region's log is not handed over
	 * on PostgreSQL, and the key holder would make a new key.) */
	if (!data_file(cfg, "log.key"))
		return vg_fail(err, errlen, VG_EINVAL,
			       "%s has no log.key, and the PostgreSQL cluster "
			       "(%s) already holds the log of region %s "
			       "(origin %s, key %s): a node of a region signs "
			       "with the region's keys. Copy %s from a node of "
			       "the region into %s (docs/OPERATING.md), then "
			       "start again",
			       cfg->data_dir, pub, reg.region, reg.origin,
			       reg.log_key, REGION_FILES, cfg->data_dir);
	if (strlen(reg.origin) >= sizeof(r->origin))
		return vg_fail(err, errlen, VG_ECORRUPT,
			       "the region's recorded origin is too long");
	memcpy(r->origin, reg.origin, strlen(reg.origin) + 1);
	memcpy(r->log_key, reg.log_key, sizeof(r->log_key));
	return 0;
}

int
nodelog_recorded(const struct node_config *cfg, struct nodelog_recorded *r,
		 char *err, size_t errlen)
{
	struct settings st;
	char path[PATH_MAX_LEN];
	uint8_t *cp = NULL;
	size_t n;
	int rc;

	memset(r, 0, sizeof(*r));
	if (cfg->store_backend == STORE_POSTGRES)
		return recorded_pg(cfg, r, err, errlen);
	snprintf(path, sizeof(path), "%s/log.settings", cfg->data_dir);
	if ((rc = read_settings(path, &st, err, errlen)) != 0)
		return rc;
	if (st.log_key != NULL)
		snprintf(r->log_key, sizeof(r->log_key), "%s", st.log_key);
	/* The configured origin wins; then the one the log was created
	 * with, recorded since origins were, or else (a log from before)
	 * the first line of its checkpoint. */
	if (cfg->log_origin[0] != '\0') {
		snprintf(r->origin, sizeof(r->origin), "%s", cfg->log_origin);
	} else if (st.origin != NULL) {
		if (!origin_ok(st.origin, strlen(st.origin))) {
			settings_clear(&st);
			return vg_fail(err, errlen, VG_ECORRUPT,
				       "%s: the recorded origin is invalid",
				       path);
		}
		snprintf(r->origin, sizeof(r->origin), "%s", st.origin);
	} else {
		const char *nl1;

		snprintf(path, sizeof(path), "%s/log/checkpoint",
			 cfg->data_dir);
		rc = io_read_file(path, CHECKPOINT_MAX_TEXT, &cp, &n);
		if (rc == 0 && (nl1 = memchr(cp, '\n', n)) != NULL &&
		    origin_ok((const char *)cp, (size_t)(nl1 - (char *)cp)))
			snprintf(r->origin, sizeof(r->origin), "%.*s",
				 (int)(nl1 - (char *)cp), (const char *)cp);
		free(cp);
	}
	settings_clear(&st);
	return 0;
}

/* Reads the tree that the log's published checkpoint signs, with either
 * the old key or (after a handover that a crash kept from being
 * recorded) the new one. */
static int
signed_tree(const char *dir, const char *origin,
	    const struct note_verifier *old, const struct note_verifier *new,
	    uint64_t *size, uint8_t root[32], char *err, size_t errlen)
{
	struct checkpoint c;
	char path[PATH_MAX_LEN + 16], why[256];
	uint8_t *text = NULL;
	size_t n;
	int rc;

	snprintf(path, sizeof(path), "%s/checkpoint", dir);
	if ((rc = io_read_file(path, NOTE_MAX_SIZE, &text, &n)) != 0)
		return vg_fail(err, errlen, rc, "%s: cannot read it", path);
	memset(&c, 0, sizeof(c));
	rc = checkpoint_open((const char *)text, n, origin, old, NULL, 0, 0, &c,
			     why, sizeof(why));
	if (rc != 0)
		rc = checkpoint_open((const char *)text, n, origin, new, NULL,
				     0, 0, &c, why, sizeof(why));
	free(text);
	if (rc != 0)
		return vg_fail(err, errlen, rc, "%s: %s", path, why);
	*size = c.size;
	memcpy(root, c.root.b, 32);
	checkpoint_clear(&c);
	return 0;
}

/*
 * The log goes on under a new key: the handover note, signed by the old
 * key and the new one (the key holder signs it with each), goes into the
 * log as a key-change entry and into <data>/log.handover, which GET
 * /log/handover serves.
 */
static int
hand_over(struct nodelog *nl, const struct node_config *cfg,
	  struct keyholder *kh, uint64_t size, const uint8_t root[32],
	  char *err, size_t errlen)
{
	const struct note_signer *signers[2] = {keyholder_log_old_signer(kh),
						keyholder_log_signer(kh)};
	char path[PATH_MAX_LEN], *text = NULL, *note = NULL;
	size_t len, nlen;
	int rc;

	if ((rc = tlog_handover_format(nl->origin, keyholder_log_old_key(kh),
				       keyholder_log_key(kh), size, root, &text,
				       &len, err, errlen)) != 0)
		return rc;
	rc = note_sign(text, len, signers, 2, 0, &note, &nlen, err, errlen);
	free(text);
	if (rc != 0)
		return rc;
	if ((rc = append_admin(nl, TLOG_ENTRY_KEY_CHANGE, note, err, errlen)) !=
	    0)
		goto out;
	snprintf(path, sizeof(path), "%s/log.handover", cfg->data_dir);
	if (io_write_file(path, note, nlen, 0644) != 0) {
		rc = vg_fail(err, errlen, VG_EIO, "%s: %s", path,
			     strerror(errno));
		goto out;
	}
	free(nl->handover);
	nl->handover = note;
	nl->handover_len = nlen;
	note = NULL;
	note_verifier_format(keyholder_log_old_key(kh), path);
	log_event(LOG_WARN, "log_key_handed_over",
		  "tree=%llu old=%s new=%s next=\"%s/log.key.old may be "
		  "removed\"",
		  (unsigned long long)size, path, nl->verifier, cfg->data_dir);
out:
	free(note);
	return rc;
}

/* Refuses a node whose keys or region are not the region's record's. */
static int
check_region(struct nodelog *nl, const struct node_config *cfg, const char *kid,
	     const struct tlog_pg_region *reg, char *err, size_t errlen)
{
	if (strcmp(reg->region, cfg->region) != 0)
		return vg_fail(err, errlen, VG_EINVAL,
			       "the PostgreSQL cluster holds the log of region "
			       "%s; this node is configured for region %s",
			       reg->region, cfg->region);
	if (strcmp(reg->log_key, nl->verifier) != 0)
		return vg_fail(err, errlen, VG_EINVAL,
			       "%s/log.key (%s) is not the log key of region "
			       "%s (%s): copy %s from a node of the region "
			       "into %s (docs/OPERATING.md); a region's log on "
			       "PostgreSQL is not handed over to a new key",
			       cfg->data_dir, nl->verifier, reg->region,
			       reg->log_key, REGION_FILES, cfg->data_dir);
	if (strcmp(reg->sample_key, kid) != 0)
		return vg_fail(err, errlen, VG_EINVAL,
			       "%s/sample.key (ID %s) is not the sample key of "
			       "region %s (ID %s): copy %s from a node of the "
			       "region into %s (docs/OPERATING.md)",
			       cfg->data_dir, kid, reg->region, reg->sample_key,
			       REGION_FILES, cfg->data_dir);
	if (strcmp(reg->origin, nl->origin) != 0)
		return vg_fail(err, errlen, VG_EINVAL,
			       "the log's origin here (%s) is not region %s's "
			       "(%s)",
			       nl->origin, reg->region, reg->origin);
	return 0;
}

/*
 * nodelog_open() on PostgreSQL: joins the region's log (waiting, at most
 * START_WAIT_MS, for the node that creates it), or creates it if this
 * node is the region's first (it gets the lease on an empty cluster):
 * its first entry, then the region's record. Then this site's settings,
 * as log.settings does on files.
 */
static int
open_pg(struct nodelog *nl, const struct node_config *cfg, struct keyholder *kh,
	char *err, size_t errlen)
{
	const char *kid = keyholder_sample_key_id(kh);
	struct tlog_pg_region reg;
	struct settings old = {0};
	bool held = false, have = false, created, fresh = false;
	char why[256] = "";
	unsigned waited = 0;
	int rc;

	if (keyholder_log_old_key(kh) != NULL)
		log_event(LOG_WARN, "log_key_old_unused",
			  "path=%s/log.key.old why=\"a region's log on "
			  "PostgreSQL is not handed over to a new key\"",
			  cfg->data_dir);
	if ((rc = tlog_pg_open(cfg->store_dsn, "vigild-log", &nl->tp, err,
			       errlen)) != 0)
		return rc;
	for (;;) {
		rc = tlog_pg_region_get(nl->tp, &reg, err, errlen);
		if (rc != 0 && rc != VG_ENOENT)
			return rc;
		have = rc == 0;
		if (have &&
		    (rc = check_region(nl, cfg, kid, &reg, err, errlen)) != 0)
			return rc;
		pthread_mutex_lock(&nl->seqlock);
		rc = tlog_pg_lease(nl->tp, &held, err, errlen);
		pthread_mutex_unlock(&nl->seqlock);
		if (rc != 0)
			return rc;
		if (held || have) {
			rc = tlog_log_open_backend(tlog_pg_backend(nl->tp),
						   nl->origin, nl->signer, NULL,
						   &nl->log, why, sizeof(why));
			/* A follower may find the head before its first
			 * checkpoint: it waits. */
			if (rc == 0 || held)
				break;
		}
		if (waited >= START_WAIT_MS)
			return vg_fail(err, errlen, VG_EIO,
				       "the region's log is not there yet, and "
				       "another node holds its sequencer lease "
				       "(waited %d ms)%s%s",
				       START_WAIT_MS, why[0] ? ": " : "", why);
		sleep_ms(FOLLOW_MS);
		waited += FOLLOW_MS;
	}
	if (rc != 0)
		return vg_fail(err, errlen, rc, "%s", why);
	if (held)
		log_event(LOG_INFO, "log_sequencer", "epoch=%lld size=%llu",
			  (long long)tlog_pg_epoch(nl->tp),
			  (unsigned long long)tlog_log_size(nl->log));
	if (held && !have) {
		/* The region's first node. (A crash between the entry and
		 * the record leaves a log of one entry to record.) */
		if (tlog_log_size(nl->log) == 0) {
			if ((rc = append_node_entry(nl, cfg, kid, err,
						    errlen)) != 0)
				return rc;
			fresh = true;
		}
		memset(&reg, 0, sizeof(reg));
		snprintf(reg.origin, sizeof(reg.origin), "%s", nl->origin);
		snprintf(reg.log_key, sizeof(reg.log_key), "%s", nl->verifier);
		snprintf(reg.sample_key, sizeof(reg.sample_key), "%s", kid);
		snprintf(reg.region, sizeof(reg.region), "%s", cfg->region);
		if ((rc = tlog_pg_region_put(nl->tp, &reg, &created, err,
					     errlen)) != 0)
			return rc;
		if (!created &&
		    ((rc = tlog_pg_region_get(nl->tp, &reg, err, errlen)) !=
			     0 ||
		     (rc = check_region(nl, cfg, kid, &reg, err, errlen)) != 0))
			return rc;
		if (created)
			log_event(LOG_INFO, "log_region_created",
				  "region=%s origin=\"%s\" key=%s", cfg->region,
				  nl->origin, nl->verifier);
	}
	if ((rc = read_site_settings(nl, &old, err, errlen)) != 0)
		return rc;
	rc = record_settings(nl, cfg, kid, &old, fresh, err, errlen);
	settings_clear(&old);
	return rc;
}

/*
 * The lease thread (PostgreSQL): every SEQUENCE_MS while this node holds
 * the lease, checks its session and appends what log_pending holds (at
 * once again while there is more); otherwise tries to take the lease
 * and, every FOLLOW_MS, publishes the head the sequencer committed. A
 * lease newly taken, or an append that failed, loads the head again
 * before the next append (tlog_log_reload(), which checks it extends
 * what this node published).
 */
static void *
lease_main(void *arg)
{
	struct nodelog *nl = arg;
	char err[256], last[256] = "";

	while (!atomic_load(&nl->stop)) {
		bool held = false, was;
		size_t taken = 0;
		uint64_t first, size;

		pthread_mutex_lock(&nl->seqlock);
		was = tlog_pg_leased(nl->tp);
		if (tlog_pg_lease(nl->tp, &held, err, sizeof(err)) != 0 &&
		    strcmp(err, last) != 0) {
			log_event(LOG_WARN, "log_lease_failed", "err=\"%s\"",
				  err);
			snprintf(last, sizeof(last), "%s", err);
		}
		if (was && !held)
			log_event(LOG_WARN, "log_lease_lost", "why=\"%s\"",
				  "its session ended or another node took it");
		if (held && (!was || nl->need_reload)) {
			if (tlog_log_reload(nl->log, err, sizeof(err)) != 0) {
				/* Once per reason: it is tried again at
				 * every tick, and refused again. */
				if (strcmp(err, last) != 0)
					log_event(LOG_ERROR,
						  "log_reload_failed",
						  "err=\"%s\"", err);
				snprintf(last, sizeof(last), "%s", err);
				tlog_pg_unlease(nl->tp);
				held = false;
			} else {
				nl->need_reload = false;
				if (!was)
					log_event(
						LOG_INFO, "log_sequencer",
						"epoch=%lld size=%llu",
						(long long)tlog_pg_epoch(
							nl->tp),
						(unsigned long long)
							tlog_log_size(nl->log));
			}
		}
		if (held && seq_append(nl, NULL, 0, &first, &size, &taken, err,
				       sizeof(err)) != 0)
			log_event(LOG_ERROR, "log_append_failed",
				  "handed_over=1 err=\"%s\"", err);
		pthread_mutex_unlock(&nl->seqlock);
		if (!held && tlog_log_refresh(nl->log, err, sizeof(err)) != 0 &&
		    strcmp(err, last) != 0) {
			log_event(LOG_ERROR, "log_refresh_failed", "err=\"%s\"",
				  err);
			snprintf(last, sizeof(last), "%s", err);
		}
		if (taken == 0)
			sleep_ms(held ? SEQUENCE_MS : FOLLOW_MS);
	}
	return NULL;
}

int
nodelog_open(const struct node_config *cfg, struct keyholder *kh,
	     const int *notify_fds, unsigned nports, struct nodelog **out,
	     char *err, size_t errlen)
{
	static const struct batch_limits lim = {
		.max_items = NODELOG_BATCH_MAX,
		.max_bytes = NODELOG_MAX_QUEUED,
		.max_queued = NODELOG_MAX_QUEUED,
	};
	struct nodelog *nl = xcalloc(1, sizeof(*nl));
	const struct note_verifier *oldk = keyholder_log_old_key(kh);
	struct note_verifier prev;
	struct settings old = {0};
	char path[PATH_MAX_LEN], ov[NOTE_KEY_MAX];
	uint8_t root[32];
	uint64_t size = 0;
	bool fresh, rekey = false;
	uint8_t *h = NULL;
	int rc;

	*out = NULL;
	pthread_mutex_init(&nl->seqlock, NULL);
	atomic_init(&nl->stop, false);
	snprintf(nl->site, sizeof(nl->site), "%s", cfg->site);
	snprintf(nl->origin, sizeof(nl->origin), "%s", keyholder_origin(kh));
	nl->signer = keyholder_log_signer(kh);
	note_verifier_format(keyholder_log_key(kh), nl->verifier);
	snprintf(path, sizeof(path), "%s/operator.token", cfg->data_dir);
	if ((rc = load_token(path, nl->token_hash, err, errlen)) != 0)
		goto fail;
	if (cfg->store_backend == STORE_POSTGRES) {
		if ((rc = open_pg(nl, cfg, kh, err, errlen)) != 0)
			goto fail;
		goto start;
	}
	snprintf(path, sizeof(path), "%s/log.settings", cfg->data_dir);
	if ((rc = read_settings(path, &old, err, errlen)) != 0)
		goto fail;
	if (oldk != NULL)
		note_verifier_format(oldk, ov);
	/* log.key is not the recorded key: a handover, which takes the old
	 * key too (docs/LOG.md, "Key handover"). */
	if (old.log_key != NULL && strcmp(old.log_key, nl->verifier) != 0) {
		if (oldk == NULL) {
			rc = vg_fail(
				err, errlen, VG_EINVAL,
				"%s/log.key (%s) is not the key the log is "
				"signed with (%s), and there is no "
				"%s/log.key.old: to hand the log over to a new "
				"key, move the old key to log.key.old and "
				"start "
				"again; a handover signed by one key alone is "
				"refused",
				cfg->data_dir, nl->verifier, old.log_key,
				cfg->data_dir);
			goto fail;
		}
		if (strcmp(ov, old.log_key) != 0) {
			rc = vg_fail(err, errlen, VG_EINVAL,
				     "%s/log.key.old (%s) is not the key the "
				     "log is signed with (%s): put that key "
				     "there to hand the log over",
				     cfg->data_dir, ov, old.log_key);
			goto fail;
		}
		prev = *oldk;
		rekey = true;
	} else if (oldk != NULL) {
		log_event(LOG_WARN, "log_key_old_unused",
			  "path=%s/log.key.old why=\"not the recorded key, or "
			  "the handover is done: it may be removed\"",
			  cfg->data_dir);
	}
	snprintf(path, sizeof(path), "%s/log", cfg->data_dir);
	if (rekey &&
	    (rc = signed_tree(path, nl->origin, &prev, keyholder_log_key(kh),
			      &size, root, err, errlen)) != 0)
		goto fail;
	if ((rc = tlog_log_open_rekey(path, nl->origin, nl->signer,
				      rekey ? &prev : NULL, &nl->log, err,
				      errlen)) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/log.handover", cfg->data_dir);
	rc = io_read_file(path, NOTE_MAX_SIZE, &h, &nl->handover_len);
	if (rc == 0)
		nl->handover = (char *)h;
	else if (rc != VG_ENOENT) {
		vg_seterr(err, errlen, "%s: cannot read it", path);
		goto fail;
	}
	if (rekey &&
	    (rc = hand_over(nl, cfg, kh, size, root, err, errlen)) != 0)
		goto fail;
	fresh = tlog_log_size(nl->log) == 0;
	if (fresh &&
	    (rc = append_node_entry(nl, cfg, keyholder_sample_key_id(kh), err,
				    errlen)) != 0)
		goto fail;
	if ((rc = record_settings(nl, cfg, keyholder_sample_key_id(kh), &old,
				  fresh, err, errlen)) != 0)
		goto fail;
start:
	if ((rc = batcher_start("vigild-log", append_batch, (void *const[]){nl}, 1, &lim,
				notify_fds, nports, &nl->seq, err, errlen)) !=
	    0)
		goto fail;
	if (nl->tp != NULL) {
		if ((rc = pthread_create(&nl->lease_thread, NULL, lease_main,
					 nl)) != 0) {
			batcher_stop(nl->seq, NULL);
			rc = vg_fail(err, errlen, VG_ELIB, "pthread_create: %s",
				     strerror(rc));
			goto fail;
		}
		nl->lease_running = true;
	}
	settings_clear(&old);
	*out = nl;
	return 0;
fail:
	settings_clear(&old);
	if (nl->log != NULL)
		tlog_log_close(nl->log);
	tlog_pg_close(nl->tp);
	pthread_mutex_destroy(&nl->seqlock);
	free(nl->handover);
	free(nl);
	return rc;
}

const char *
nodelog_handover(const struct nodelog *nl, size_t *len)
{
	*len = nl->handover_len;
	return nl->handover;
}

const char *
nodelog_origin(const struct nodelog *nl)
{
	return nl->origin;
}

const char *
nodelog_verifier(const struct nodelog *nl)
{
	return nl->verifier;
}

struct tlog_log *
nodelog_log(struct nodelog *nl)
{
	return nl->log;
}

bool
nodelog_operator_ok(const struct nodelog *nl, const char *token, size_t len)
{
	uint8_t h[32];

	crypto_hash_sha256(h, (const uint8_t *)token, len);
	return sodium_memcmp(h, nl->token_hash, sizeof(h)) == 0;
}

int
nodelog_submit(struct nodelog *nl, struct nodelog_item *it)
{
	it->hdr.bytes = it->len;
	return batcher_submit(nl->seq, &it->hdr);
}

struct nodelog_item *
nodelog_take_done(struct nodelog *nl, unsigned port)
{
	struct batch_item *l = batcher_take_done(nl->seq, port);

	for (struct batch_item *bi = l; bi != NULL; bi = bi->next)
		((struct nodelog_item *)bi)->next =
			(struct nodelog_item *)bi->next;
	return (struct nodelog_item *)l;
}

void
nodelog_item_free(struct nodelog_item *it)
{
	if (it == NULL)
		return;
	free(it->entry);
	free(it);
}

static void
free_done(struct batch_item *bi)
{
	nodelog_item_free((struct nodelog_item *)bi);
}

void
nodelog_close(struct nodelog *nl)
{
	if (nl == NULL)
		return;
	batcher_stop(nl->seq, free_done);
	if (nl->lease_running) {
		atomic_store(&nl->stop, true);
		pthread_join(nl->lease_thread, NULL);
	}
	if (nl->tp != NULL)
		tlog_pg_unlease(nl->tp);
	tlog_log_close(nl->log);
	tlog_pg_close(nl->tp);
	pthread_mutex_destroy(&nl->seqlock);
	free(nl->handover);
	free(nl);
}
