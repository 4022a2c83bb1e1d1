/*
 * nodelog.c - the node's transparency log; see nodelog.h.
 */
#include "node/nodelog.h"

#include <errno.h>
#include <sodium.h>
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
#include "tlog/checkpoint.h"
#include "tlog/entry.h"
#include "tlog/handover.h"
#include "tlog/note.h"

#define TOKEN_PREFIX "vgop."
#define TOKEN_BYTES  32
#define PATH_MAX_LEN 1200

struct nodelog {
	struct tlog_log *log;
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

/* The sequencer's batch: one append, one checkpoint, for all of them. */
static void
append_batch(void *ctx, struct batch_item **items, size_t n)
{
	struct nodelog *nl = ctx;
	struct tile_entry *e = xcalloc(n, sizeof(*e));
	uint64_t first = 0;
	char err[160] = "";
	int rc;

	for (size_t i = 0; i < n; i++) {
		struct nodelog_item *it = (struct nodelog_item *)items[i];

		e[i].data = it->entry;
		e[i].len = it->len;
	}
	rc = tlog_log_append(nl->log, e, n, &first, err, sizeof(err));
	if (rc != 0)
		log_event(LOG_ERROR, "log_append_failed",
			  "entries=%zu err=\"%s\"", n, err);
	for (size_t i = 0; i < n; i++) {
		struct nodelog_item *it = (struct nodelog_item *)items[i];

		it->rc = rc;
		it->index = first + i;
		it->size = first + n;
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
	uint64_t first;
	size_t len;
	int rc;

	if ((rc = tlog_entry_encode(e, &text, &len, err, errlen)) != 0)
		return rc;
	te.data = (const uint8_t *)text;
	te.len = len;
	rc = tlog_log_append(nl->log, &te, 1, &first, err, errlen);
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

/* Reads <data>/log.settings into *st; no file leaves every member NULL. */
static int
read_settings(const char *path, struct settings *st, char *err, size_t errlen)
{
	size_t len;
	char *p;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = secret_file_read(path, 64 * 1024, &st->text, &len, err, errlen);
	if (rc == VG_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	st->raw = xstrdup(st->text);
	p = st->text;
	st->origin = take_line(&p, "origin: ");
	st->log_key = take_line(&p, "log-key: ");
	st->sample_key = take_line(&p, "sample-key: ");
	if ((st->loc = take_line(&p, "location: ")) != NULL)
		st->wit = p;
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
		/* Rewritten whole: unlink, then create (mode 0600). */
		unlink(path);
		rc = secret_file_create(path, now, strlen(now), err, errlen);
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
				       keyholder_log_key(kh), size, root,
				       &text, &len, err, errlen)) != 0)
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
	snprintf(nl->origin, sizeof(nl->origin), "%s", keyholder_origin(kh));
	nl->signer = keyholder_log_signer(kh);
	note_verifier_format(keyholder_log_key(kh), nl->verifier);
	snprintf(path, sizeof(path), "%s/operator.token", cfg->data_dir);
	if ((rc = load_token(path, nl->token_hash, err, errlen)) != 0)
		goto fail;
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
	if ((rc = batcher_start("vigild-log", append_batch, nl, &lim,
				notify_fds, nports, &nl->seq, err, errlen)) !=
	    0)
		goto fail;
	settings_clear(&old);
	*out = nl;
	return 0;
fail:
	settings_clear(&old);
	if (nl->log != NULL)
		tlog_log_close(nl->log);
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
	tlog_log_close(nl->log);
	free(nl->handover);
	free(nl);
}
