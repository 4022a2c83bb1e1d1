/*
 * test_logclient.c - the verifying log client (src/cli/logclient.c),
 * against real logs (src/tlog/log.c) served through a fake fetcher that
 * can lie: a log that grows is followed and its checkpoints stored; a
 * fork (at a larger or the same size), a tampered tile (rightmost or
 * full), a tampered entry bundle and a proof that does not verify are
 * SECURITY failures with their evidence; a step back is refused; bad
 * signatures and too few witnesses each have their own status; entries
 * are found and proven; tlog-proof files verify offline and refuse any
 * change; partial tiles a log deleted are read from the full tile. Keys:
 * the state is kept per origin and key; another key for a known origin
 * is a key change (not a fork) until accepted; a key handover signed by
 * both keys whose tree fits what was seen is followed, and any other is
 * not; a state from before keys were recorded is moved to its key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/logclient.h"
#include "common/err.h"
#include "tlog/checkpoint.h"
#include "tlog/handover.h"
#include "tlog/log.h"
#include "tlog/merkle.h"
#include "tlog/note.h"
#include "tlog/proof.h"
#include "tlog/tile.h"

#define ORIGIN "vigil.example/test"

static struct note_signer *signer, *other, *cosigner;
static struct note_verifier key, other_key, witness;

/* A log served through logclient_get_fn, with ways to lie. */
struct fake {
	struct tlog_log *log;
	char *checkpoint;     /* served instead of the log's, if set */
	const char *tamper;   /* flip a bit of this resource */
	size_t tamper_off;    /* at this offset (modulo its length) */
	bool no_old_partials; /* 404 for a partial tile whose full exists */
	bool down;            /* no answer at all */
	struct tlog_log *alt; /* serves the paths that contain alt_match */
	const char *alt_match;
	char *handover; /* served as "handover" (404 if NULL) */
	char *key_text; /* served as "key" (404 if NULL) */
};

struct fx {
	char tmp[64];
	char dir_a[96], dir_b[96], state[96];
	struct fake a, b;
};

static int
fake_get(void *ud, const char *relpath, size_t max, uint8_t **data, size_t *len,
	 char *err, size_t errlen)
{
	struct fake *f = ud;
	const char *p;
	int rc;

	if (f->down) {
		snprintf(err, errlen, "%s: connection refused", relpath);
		return VG_EIO;
	}
	if (strcmp(relpath, "handover") == 0 || strcmp(relpath, "key") == 0) {
		const char *t = relpath[0] == 'h' ? f->handover : f->key_text;

		if (t == NULL) {
			snprintf(err, errlen, "%s: not found (404)", relpath);
			return VG_ENOENT;
		}
		*len = strlen(t);
		*data = (uint8_t *)strdup(t);
		assert_non_null(*data);
		return 0;
	}
	if (strcmp(relpath, "checkpoint") == 0 && f->checkpoint != NULL) {
		*len = strlen(f->checkpoint);
		*data = (uint8_t *)strdup(f->checkpoint);
		assert_non_null(*data);
		return 0;
	}
	if (f->no_old_partials && (p = strstr(relpath, ".p/")) != NULL) {
		char full[TILE_PATH_MAX];
		uint8_t *d;
		size_t n;

		snprintf(full, sizeof(full), "%.*s", (int)(p - relpath),
			 relpath);
		if (tlog_log_read(f->log, full, &d, &n) == 0) {
			free(d);
			snprintf(err, errlen, "%s: not found", relpath);
			return VG_ENOENT;
		}
	}
	if (f->alt != NULL && strstr(relpath, f->alt_match) != NULL)
		rc = tlog_log_read(f->alt, relpath, data, len);
	else
		rc = tlog_log_read(f->log, relpath, data, len);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", relpath, vg_strerror(rc));
		return rc == VG_ENOENT ? VG_ENOENT : VG_EIO;
	}
	if (*len > max) {
		free(*data);
		snprintf(err, errlen, "%s: too large", relpath);
		return VG_ELIMIT;
	}
	if (f->tamper != NULL && strcmp(relpath, f->tamper) == 0 && *len > 0)
		(*data)[f->tamper_off % *len] ^= 0x01;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static struct tlog_log *
open_log(const char *dir, struct note_signer *s)
{
	struct tlog_log *l = NULL;
	char err[512] = "";
	int rc = tlog_log_open(dir, ORIGIN, s, &l, err, sizeof(err));

	if (rc != 0)
		fail_msg("open %s: %s: %s", dir, vg_strerror(rc), err);
	return l;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->tmp, sizeof(f->tmp), "%s/vigil-lc-XXXXXX",
		 t && *t && strlen(t) < 32 ? t : "/tmp");
	if (mkdtemp(f->tmp) == NULL)
		return -1;
	snprintf(f->dir_a, sizeof(f->dir_a), "%s/a", f->tmp);
	snprintf(f->dir_b, sizeof(f->dir_b), "%s/b", f->tmp);
	snprintf(f->state, sizeof(f->state), "%s/home/logs", f->tmp);
	f->a.log = open_log(f->dir_a, signer);
	f->b.log = open_log(f->dir_b, signer);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tlog_log_close(f->a.log);
	tlog_log_close(f->b.log);
	free(f->a.checkpoint);
	free(f->b.checkpoint);
	free(f->a.handover);
	free(f->b.handover);
	free(f->a.key_text);
	free(f->b.key_text);
	nftw(f->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int
setup_keys(void **state)
{
	(void)state;
	if (note_signer_generate(ORIGIN, NOTE_ED25519, &signer, NULL, 0) ||
	    note_signer_generate(ORIGIN, NOTE_ED25519, &other, NULL, 0) ||
	    note_signer_generate("witness.example", NOTE_COSIGNATURE, &cosigner,
				 NULL, 0))
		return -1;
	note_signer_verifier(signer, &key);
	note_signer_verifier(other, &other_key);
	note_signer_verifier(cosigner, &witness);
	return 0;
}

static int
teardown_keys(void **state)
{
	(void)state;
	note_signer_free(signer);
	note_signer_free(other);
	note_signer_free(cosigner);
	return 0;
}

/* Appends n entries "<tag> <i>" to l. */
static void
append(struct tlog_log *l, const char *tag, unsigned n)
{
	struct tile_entry *e = calloc(n, sizeof(*e));
	char(*buf)[64] = calloc(n, sizeof(*buf));
	char err[256];
	uint64_t first;

	assert_non_null(e);
	assert_non_null(buf);
	for (unsigned i = 0; i < n; i++) {
		int len = snprintf(buf[i], sizeof(buf[i]), "%s %" PRIu64, tag,
				   tlog_log_size(l) + i);

		e[i].data = (const uint8_t *)buf[i];
		e[i].len = (size_t)len;
	}
	if (tlog_log_append(l, e, n, &first, err, sizeof(err)) != 0)
		fail_msg("append: %s", err);
	free(e);
	free(buf);
}

static char *
log_checkpoint(struct tlog_log *l)
{
	size_t len;
	char *t;

	assert_int_equal(tlog_log_checkpoint(l, &t, &len, NULL), 0);
	return t;
}

/* A client of fake f, with or without state. */
static struct logclient *
client(struct fx *f, struct fake *fake, bool state,
       const struct note_verifier *k, size_t nwitnesses, size_t quorum)
{
	struct logclient_config cfg = {
		.source = "https://log.example/test",
		.get = fake_get,
		.get_ud = fake,
		.origin = ORIGIN,
		.log_key = k,
		.witnesses = nwitnesses ? &witness : NULL,
		.nwitnesses = nwitnesses,
		.quorum = quorum,
		.state_root = state ? f->state : NULL,
	};
	struct logclient_result r = {0};
	struct logclient *lc = NULL;

	if (logclient_new(&cfg, &lc, &r) != 0)
		fail_msg("logclient_new: %s", r.msg);
	return lc;
}

/* Updates lc, expecting status s (and msg in the message, if given). */
static void
update_expect(struct logclient *lc, enum logclient_status s, const char *msg,
	      struct logclient_result *r)
{
	int rc;

	logclient_result_clear(r);
	rc = logclient_update(lc, r);
	if (r->status != s)
		fail_msg("update: status %d, want %d: %s", r->status, s,
			 r->msg);
	assert_true((rc == 0) == (s == LOGCLIENT_OK));
	if (msg != NULL && strstr(r->msg, msg) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", r->msg, msg);
}

/* The path of the state file name of key k (NULL: of the origin). */
static void
state_path(struct fx *f, const struct note_verifier *k, const char *name,
	   char *path, size_t len)
{
	char kname[LOGCLIENT_KEY_NAME_LEN + 1];

	if (k == NULL) {
		snprintf(path, len, "%s/vigil.example%%2Ftest/%s", f->state,
			 name);
		return;
	}
	assert_int_equal(logclient_key_name(k, kname), 0);
	snprintf(path, len, "%s/vigil.example%%2Ftest/%s/%s", f->state, kname,
		 name);
}

/* The content of a state file, or NULL. */
static char *
state_file(struct fx *f, const struct note_verifier *k, const char *name)
{
	char path[512], *buf;
	FILE *fp;
	long n;

	state_path(f, k, name, path, sizeof(path));
	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

/* The checkpoint stored for key, or NULL. */
static char *
stored(struct fx *f)
{
	return state_file(f, &key, "checkpoint");
}

static void
expect_stored(struct fx *f, struct tlog_log *l)
{
	char *want = log_checkpoint(l), *got = stored(f);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

/* Changes a base64 digit inside a group: still base64, other bytes. */
static void
change_b64(char *p)
{
	*p = *p == 'A' ? 'B' : 'A';
}

/* --- tests ---------------------------------------------------------------- */

static void
test_state_names_are_safe_and_distinct(void **state)
{
	char a[LOGCLIENT_STATE_NAME_MAX + 1], b[LOGCLIENT_STATE_NAME_MAX + 1];
	char long1[400], long2[400];

	(void)state;
	assert_int_equal(logclient_state_name("vigil.example/eu", a, sizeof(a)),
			 0);
	assert_string_equal(a, "vigil.example%2Feu");
	assert_int_equal(
		logclient_state_name("vigil.example%2Feu", b, sizeof(b)), 0);
	assert_string_equal(b, "vigil.example%252Feu");
	assert_int_equal(logclient_state_name(".", a, sizeof(a)), 0);
	assert_string_equal(a, "%2E");
	assert_int_equal(logclient_state_name("..", a, sizeof(a)), 0);
	assert_string_equal(a, "%2E.");
	assert_int_equal(logclient_state_name("a b+c~", a, sizeof(a)), 0);
	assert_string_equal(a, "a%20b%2Bc%7E");
	memset(long1, 'x', sizeof(long1) - 1);
	long1[sizeof(long1) - 1] = '\0';
	memcpy(long2, long1, sizeof(long2));
	long2[300] = 'y';
	assert_int_equal(logclient_state_name(long1, a, sizeof(a)), 0);
	assert_int_equal(logclient_state_name(long2, b, sizeof(b)), 0);
	assert_true(strlen(a) <= LOGCLIENT_STATE_NAME_MAX);
	assert_non_null(strchr(a, '~'));
	assert_string_not_equal(a, b);
	assert_int_equal(logclient_state_name("", a, sizeof(a)), VG_EINVAL);
}

static void
test_a_growing_log_is_followed_and_stored(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct logclient *lc;
	const struct checkpoint *c;

	append(f->a.log, "common", 5);
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	c = logclient_current(lc, NULL, NULL);
	assert_int_equal(c->size, 5);
	expect_stored(f, f->a.log);

	/* Across tile boundaries at both levels. */
	append(f->a.log, "more", 300);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	assert_int_equal(logclient_current(lc, NULL, NULL)->size, 305);
	expect_stored(f, f->a.log);
	update_expect(lc, LOGCLIENT_OK, NULL, &r); /* the same again */
	logclient_free(lc);

	/* A new client starts from the stored checkpoint. */
	append(f->a.log, "later", 70000 - 305);
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	assert_int_equal(logclient_current(lc, NULL, NULL)->size, 70000);
	expect_stored(f, f->a.log);
	logclient_free(lc);
	logclient_result_clear(&r);
}

static void
test_a_fork_to_a_larger_tree_is_security_with_evidence(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct logclient *lc;
	char *cp_a, *cp_b, *out = NULL;
	size_t outlen = 0;
	FILE *mem;

	append(f->a.log, "common", 3);
	append(f->b.log, "common", 3);
	append(f->a.log, "only-a", 1);
	append(f->b.log, "only-b", 2);
	cp_a = log_checkpoint(f->a.log);
	cp_b = log_checkpoint(f->b.log);

	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	logclient_free(lc);
	lc = client(f, &f->b, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_SECURITY, "forked", &r);
	assert_int_equal(logclient_exit_status(r.status), 3);
	assert_string_equal(r.old_checkpoint, cp_a);
	assert_string_equal(r.new_checkpoint, cp_b);
	assert_non_null(r.proof_kind);
	assert_string_equal(r.proof_kind, "consistency");
	assert_int_equal(r.proof_a, 4);
	assert_int_equal(r.proof_b, 5);
	assert_true(r.proof_len > 0);
	expect_stored(f, f->a.log); /* the old one is kept */
	assert_null(logclient_current(lc, NULL, NULL));

	/* What is printed holds it all. */
	mem = open_memstream(&out, &outlen);
	assert_non_null(mem);
	logclient_result_print(&r, mem);
	fclose(mem);
	assert_non_null(strstr(out, "vigil: SECURITY: "));
	assert_non_null(strstr(out, cp_a));
	assert_non_null(strstr(out, cp_b));
	assert_non_null(strstr(out, "--- consistency proof from size 4 to "
				    "size 5"));
	free(out);
	logclient_free(lc);
	logclient_result_clear(&r);
	free(cp_a);
	free(cp_b);
}

static void
test_two_trees_of_the_same_size_are_security(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct fake sw = {.log = f->a.log};
	struct logclient *lc;

	append(f->a.log, "a", 2);
	append(f->b.log, "b", 2);
	lc = client(f, &sw, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	/* The same client, now fed the other tree. */
	sw.log = f->b.log;
	update_expect(lc, LOGCLIENT_SECURITY, "two different trees of size 2",
		      &r);
	assert_non_null(r.old_checkpoint);
	assert_non_null(r.new_checkpoint);
	assert_string_not_equal(r.old_checkpoint, r.new_checkpoint);
	logclient_free(lc);
	logclient_result_clear(&r);
}

static void
test_without_state_the_previous_checkpoint_is_checked(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct fake sw = {.log = f->a.log};
	struct logclient *lc;

	append(f->a.log, "common", 3);
	append(f->b.log, "common", 3);
	append(f->a.log, "only-a", 1);
	append(f->b.log, "only-b", 300);
	lc = client(f, &sw, false, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	sw.log = f->b.log; /* what tail would see next */
	update_expect(lc, LOGCLIENT_SECURITY, "has forked", &r);
	assert_non_null(strstr(r.old_source, "seen before by this client"));
	assert_int_equal(logclient_current(lc, NULL, NULL)->size, 4);
	assert_null(stored(f));
	logclient_free(lc);
	logclient_result_clear(&r);
}

static void
test_a_smaller_checkpoint_is_refused_and_not_stored(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct logclient *lc;
	char *old;

	append(f->a.log, "a", 3);
	old = log_checkpoint(f->a.log);
	append(f->a.log, "a", 4);
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	f->a.checkpoint = old; /* a stale copy serves size 3 */
	update_expect(lc, LOGCLIENT_ERROR, "smaller than the one of size 7",
		      &r);
	assert_int_equal(logclient_exit_status(r.status), 2);
	assert_int_equal(logclient_current(lc, NULL, NULL)->size, 7);
	free(f->a.checkpoint);
	f->a.checkpoint = NULL;
	expect_stored(f, f->a.log);
	logclient_free(lc);
	logclient_result_clear(&r);
}

static void
test_a_smaller_tree_that_is_no_prefix_is_security(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct logclient *lc;

	append(f->a.log, "common", 3);
	append(f->b.log, "common", 3);
	append(f->a.log, "only-a", 2);
	append(f->b.log, "only-b", 1);
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	/* B's checkpoint of size 4 and its tiles, and A's tiles of size 5
	 * still served: the smaller tree is shown not to be a prefix. */
	f->a.checkpoint = log_checkpoint(f->b.log);
	f->a.alt = f->b.log;
	f->a.alt_match = ".p/4";
	update_expect(lc, LOGCLIENT_SECURITY,
		      "its tree of size 5 does not "
		      "contain its tree of size 4",
		      &r);
	assert_non_null(r.old_checkpoint);
	assert_non_null(r.new_checkpoint);
	assert_int_equal(r.proof_a, 4);
	assert_int_equal(r.proof_b, 5);
	expect_stored(f, f->a.log);
	logclient_free(lc);
	logclient_result_clear(&r);
}

static void
test_a_tampered_rightmost_tile_is_security(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct logclient *lc;

	append(f->a.log, "a", 5);
	f->a.tamper = "tile/0/000.p/5";
	f->a.tamper_off = 40;
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_SECURITY, "not to the root", &r);
	assert_non_null(r.new_checkpoint);
	assert_null(stored(f)); /* nothing stored on first contact */
	logclient_free(lc);
	logclient_result_clear(&r);
}

static void
test_a_tampered_full_tile_is_security(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	struct logclient *lc;
	uint8_t *data;
	size_t len, n;

	append(f->a.log, "a", 280);
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	append(f->a.log, "b", 320);
	/* The consistency proof from 280 reads tile 0/001, full at 600. */
	f->a.tamper = "tile/0/001";
	f->a.tamper_off = 100;
	update_expect(lc, LOGCLIENT_SECURITY, "tile tile/0/001", &r);
	assert_non_null(r.old_checkpoint);
	assert_non_null(r.new_checkpoint);
	/* An entry whose bundle is checked against tile 0/000. */
	f->a.tamper = "tile/0/000";
	f->a.tamper_off = 0;
	logclient_free(lc);
	lc = client(f, &f->a, false, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	assert_int_equal(logclient_entry(lc, 5, &data, &len, proof, &n, &r),
			 VG_EVERIFY);
	assert_int_equal(r.status, LOGCLIENT_SECURITY);
	assert_non_null(strstr(r.msg, "tile tile/0/000"));
	logclient_free(lc);
	logclient_result_clear(&r);
}

static void
test_a_tampered_entry_bundle_is_security(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	struct logclient *lc;
	uint8_t *data;
	size_t len, n;

	append(f->a.log, "a", 5);
	f->a.tamper = "tile/entries/000.p/5";
	f->a.tamper_off = 3; /* in entry 0's bytes, not a length */
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	assert_int_equal(logclient_entry(lc, 2, &data, &len, proof, &n, &r),
			 VG_EVERIFY);
	assert_int_equal(r.status, LOGCLIENT_SECURITY);
	assert_non_null(strstr(r.msg, "entry bundle tile/entries/000.p/5"));
	assert_non_null(r.new_checkpoint);
	logclient_free(lc);
	logclient_result_clear(&r);
}

static void
test_signatures_and_witnesses_are_checked(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct logclient *lc;
	struct note *n = NULL;
	char line[NOTE_LINE_MAX], err[256], *cp, *cosigned;
	size_t line_len;

	append(f->a.log, "a", 2);
	/* Another key of the same name. */
	lc = client(f, &f->a, true, &other_key, 0, 0);
	update_expect(lc, LOGCLIENT_BAD_SIGNATURE,
		      "not signed by the log's key", &r);
	assert_int_equal(logclient_exit_status(r.status), 2);
	logclient_free(lc);
	assert_null(stored(f));

	/* A witness that did not cosign. */
	lc = client(f, &f->a, true, &key, 1, 1);
	update_expect(lc, LOGCLIENT_TOO_FEW_WITNESSES, "0 of the 1", &r);
	logclient_free(lc);

	/* It cosigns: the quorum is met. */
	cp = log_checkpoint(f->a.log);
	assert_int_equal(note_parse(cp, strlen(cp), &n, err, sizeof(err)), 0);
	assert_int_equal(note_sign_line(cosigner, n->text, n->text_len,
					1700000000, line, &line_len, err,
					sizeof(err)),
			 0);
	cosigned = malloc(strlen(cp) + line_len + 1);
	assert_non_null(cosigned);
	strcpy(cosigned, cp);
	strcat(cosigned, line);
	f->a.checkpoint = cosigned;
	lc = client(f, &f->a, true, &key, 1, 1);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	logclient_free(lc);

	/* A cosignature that does not verify. */
	change_b64(strrchr(cosigned, ' ') + 1 + 40);
	lc = client(f, &f->a, true, &key, 1, 1);
	update_expect(lc, LOGCLIENT_BAD_SIGNATURE, "witness", &r);
	logclient_free(lc);

	/* The log's own signature broken. */
	strcpy(cosigned, cp);
	change_b64(strrchr(cosigned, ' ') + 1 + 40);
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_BAD_SIGNATURE, "bad signature", &r);
	logclient_free(lc);

	/* Not a checkpoint at all; no answer at all. */
	strcpy(cosigned, "<html>\n");
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_ERROR, "not a signed checkpoint", &r);
	f->a.down = true;
	update_expect(lc, LOGCLIENT_ERROR, "connection refused", &r);
	logclient_free(lc);

	note_free(n);
	free(cp);
	logclient_result_clear(&r);
}

static void
test_entries_are_proven_and_found(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct merkle_hash proof[MERKLE_PROOF_MAX], leaf;
	const struct checkpoint *c;
	struct logclient *lc;
	char want[64], err[256];
	uint8_t *data;
	size_t len, n;
	uint64_t idx;

	append(f->a.log, "e", 600);
	lc = client(f, &f->a, false, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	c = logclient_current(lc, NULL, NULL);
	for (uint64_t i = 0; i < 600; i += 37) {
		if (logclient_entry(lc, i, &data, &len, proof, &n, &r) != 0)
			fail_msg("entry %" PRIu64 ": %s", i, r.msg);
		snprintf(want, sizeof(want), "e %" PRIu64, i);
		assert_int_equal(len, strlen(want));
		assert_memory_equal(data, want, len);
		assert_int_equal(merkle_hash_leaf(data, len, &leaf), 0);
		assert_int_equal(merkle_verify_inclusion(i, 600, &leaf, proof,
							 n, &c->root, err,
							 sizeof(err)),
				 0);
		assert_int_equal(logclient_find(lc, &leaf, &idx, &r), 0);
		assert_int_equal(idx, i);
		free(data);
	}
	assert_int_equal(logclient_entry(lc, 600, &data, &len, proof, &n, &r),
			 VG_ENOENT);
	assert_int_equal(r.status, LOGCLIENT_NOT_PROVEN);
	assert_int_equal(merkle_hash_leaf("nope", 4, &leaf), 0);
	assert_int_equal(logclient_find(lc, &leaf, &idx, &r), VG_ENOENT);
	assert_int_equal(r.status, LOGCLIENT_NOT_PROVEN);
	assert_int_equal(logclient_exit_status(r.status), 1);
	logclient_free(lc);
	logclient_result_clear(&r);
}

static void
test_proof_files_verify_offline_and_refuse_changes(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	struct logclient_config cfg = {
		.source = "entry.tlog-proof",
		.origin = ORIGIN,
		.log_key = &key,
	};
	struct logclient *lc;
	uint8_t *data;
	size_t len, n, plen;
	uint64_t idx, size;
	char *text, *hash;

	append(f->a.log, "p", 20);
	lc = client(f, &f->a, false, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	assert_int_equal(logclient_entry(lc, 13, &data, &len, proof, &n, &r),
			 0);
	assert_int_equal(
		logclient_proof_format(lc, 13, proof, n, &text, &plen, &r), 0);
	assert_true(strncmp(text, "c2sp.org/tlog-proof@v1\nindex 13\n", 32) ==
		    0);
	assert_int_equal(logclient_verify_proof(&cfg, text, plen, data, len,
						&idx, &size, &r),
			 0);
	assert_int_equal(idx, 13);
	assert_int_equal(size, 20);

	/* Another entry. */
	data[0] ^= 0x01;
	assert_int_not_equal(logclient_verify_proof(&cfg, text, plen, data, len,
						    &idx, &size, &r),
			     0);
	assert_int_equal(r.status, LOGCLIENT_NOT_PROVEN);
	assert_non_null(strstr(r.msg, "does not prove"));
	data[0] ^= 0x01;

	/* A hash changed, still valid base64. */
	hash = text + 32;
	hash[0] = hash[0] == 'A' ? 'B' : 'A';
	assert_int_not_equal(logclient_verify_proof(&cfg, text, plen, data, len,
						    &idx, &size, &r),
			     0);
	assert_int_equal(r.status, LOGCLIENT_NOT_PROVEN);
	hash[0] = hash[0] == 'A' ? 'B' : 'A';

	/* Truncated. */
	assert_int_not_equal(logclient_verify_proof(&cfg, text, plen - 30, data,
						    len, &idx, &size, &r),
			     0);
	assert_int_equal(r.status, LOGCLIENT_ERROR);
	assert_non_null(strstr(r.msg, "not a valid"));

	/* Another key. */
	cfg.log_key = &other_key;
	assert_int_not_equal(logclient_verify_proof(&cfg, text, plen, data, len,
						    &idx, &size, &r),
			     0);
	assert_int_equal(r.status, LOGCLIENT_BAD_SIGNATURE);

	free(text);
	free(data);
	logclient_free(lc);
	logclient_result_clear(&r);
}

static void
test_deleted_partial_tiles_are_read_from_full_ones(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	struct logclient *lc;
	uint8_t *data;
	size_t len, n;

	append(f->a.log, "x", 280);
	f->a.checkpoint = log_checkpoint(f->a.log);
	append(f->a.log, "y", 320);
	f->a.no_old_partials = true; /* tile/0/001.p/24 is gone */
	lc = client(f, &f->a, false, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	assert_int_equal(logclient_current(lc, NULL, NULL)->size, 280);
	if (logclient_entry(lc, 270, &data, &len, proof, &n, &r) != 0)
		fail_msg("entry 270: %s", r.msg);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "x 270", 5);
	free(data);
	logclient_free(lc);
	logclient_result_clear(&r);
}

static void
test_a_damaged_state_file_is_an_error(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct logclient *lc;
	char path[512];
	FILE *fp;

	append(f->a.log, "a", 2);
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	state_path(f, &key, "checkpoint", path, sizeof(path));
	assert_non_null(fp = fopen(path, "w"));
	fputs("garbage\n", fp);
	fclose(fp);
	update_expect(lc, LOGCLIENT_ERROR, "damaged", &r);
	logclient_free(lc);
	logclient_result_clear(&r);
}

/* --- keys ------------------------------------------------------------------
 */

/* Replaces log b with a log of the same origin under the key other: a
 * second node, with its own key, configured with the same origin. */
static void
b_with_other_key(struct fx *f)
{
	char dir[128];

	tlog_log_close(f->b.log);
	snprintf(dir, sizeof(dir), "%s/c", f->tmp);
	f->b.log = open_log(dir, other);
}

static void
expect_key_file(struct fx *f, const struct note_verifier *k)
{
	char want[NOTE_KEY_MAX + 1], *got = state_file(f, NULL, "key");

	note_verifier_format(k, want);
	strcat(want, "\n");
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_another_key_for_a_known_origin_is_a_key_change_not_a_fork(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct logclient_config cfg;
	struct logclient *lc;
	char k1[NOTE_KEY_MAX], k2[NOTE_KEY_MAX], *before, *got;

	note_verifier_format(&key, k1);
	note_verifier_format(&other_key, k2);
	b_with_other_key(f);
	append(f->a.log, "a", 3);
	append(f->b.log, "b", 3); /* same size, another tree, another key */
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	assert_string_equal(r.notice, "");
	logclient_free(lc);
	expect_key_file(f, &key);
	before = stored(f);

	/* The second node, given with its own key: not a fork. */
	lc = client(f, &f->b, true, &other_key, 0, 0);
	update_expect(lc, LOGCLIENT_KEY_CHANGED, "This is not a fork", &r);
	assert_int_equal(logclient_exit_status(r.status), 4);
	assert_string_equal(r.recorded_key, k1);
	assert_string_equal(r.presented_key, k2);
	assert_non_null(strstr(r.msg, k1));
	assert_non_null(strstr(r.msg, k2));
	assert_non_null(strstr(r.msg, "--accept-key"));
	assert_non_null(strstr(r.msg, "serves no key handover"));
	logclient_free(lc);
	got = stored(f);
	assert_string_equal(got, before); /* nothing stored */
	free(got);
	assert_null(state_file(f, &other_key, "checkpoint"));
	expect_key_file(f, &key);

	/* Given the old key, the second node's checkpoint is another key's:
	 * the log's `key` names it. */
	f->b.key_text = strdup(k2);
	lc = client(f, &f->b, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_KEY_CHANGED, k2, &r);
	assert_string_equal(r.presented_key, k2);
	logclient_free(lc);

	/* Accepting the new key: it is the origin's from now on, with its
	 * own state; the old key's state stays. */
	cfg = (struct logclient_config){
		.source = "https://log.example/b",
		.get = fake_get,
		.get_ud = &f->b,
		.origin = ORIGIN,
		.log_key = &other_key,
		.state_root = f->state,
		.accept_key = &other_key,
	};
	assert_int_equal(logclient_new(&cfg, &lc, &r), 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	assert_non_null(strstr(r.notice, "in place of"));
	logclient_free(lc);
	expect_key_file(f, &other_key);
	got = state_file(f, &other_key, "checkpoint");
	assert_non_null(got);
	free(got);
	got = stored(f);
	assert_string_equal(got, before);
	free(got);
	lc = client(f, &f->b, true, &other_key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	assert_string_equal(r.notice, "");
	logclient_free(lc);

	/* And back: the first node is now the other key. */
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_KEY_CHANGED, k1, &r);
	assert_string_equal(r.recorded_key, k2);
	logclient_free(lc);
	free(before);
	logclient_result_clear(&r);
}

static void
test_a_fork_under_one_key_is_still_security(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct logclient *lc;

	/* a and b are two logs of the same origin and the same key. */
	append(f->a.log, "a", 3);
	append(f->b.log, "b", 3);
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	logclient_free(lc);
	lc = client(f, &f->b, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_SECURITY, "has forked", &r);
	assert_int_equal(logclient_exit_status(r.status), 3);
	logclient_free(lc);
	logclient_result_clear(&r);
}

/* Rekeys log a from signer to other, as a node whose key is replaced
 * does, and returns the handover signed by the signers given (NULL: both
 * keys), naming the tree the old key signed last (or size, root if
 * size is not UINT64_MAX). */
static char *
rekey_a(struct fx *f, const struct note_signer *const *signers, size_t n,
	uint64_t size, const struct merkle_hash *root)
{
	const struct note_signer *both[] = {signer, other};
	struct checkpoint c = {0};
	struct note *nt = NULL;
	char *cp = log_checkpoint(f->a.log), *text, *out, err[256];
	size_t len;

	assert_int_equal(note_parse(cp, strlen(cp), &nt, err, sizeof(err)), 0);
	assert_int_equal(
		checkpoint_parse(nt->text, nt->text_len, &c, err, sizeof(err)),
		0);
	if (size != UINT64_MAX) {
		c.size = size;
		c.root = *root;
	}
	assert_int_equal(tlog_handover_format(ORIGIN, &key, &other_key, c.size,
					      c.root.b, &text, &len, err,
					      sizeof(err)),
			 0);
	if (signers == NULL) {
		signers = both;
		n = 2;
	}
	assert_int_equal(note_sign(text, len, signers, n, 0, &out, &len, err,
				   sizeof(err)),
			 0);
	tlog_log_close(f->a.log);
	assert_int_equal(tlog_log_open_rekey(f->dir_a, ORIGIN, other, &key,
					     &f->a.log, err, sizeof(err)),
			 0);
	checkpoint_clear(&c);
	note_free(nt);
	free(cp);
	free(text);
	return out;
}

static void
test_a_handover_signed_by_both_keys_is_followed(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct logclient *lc, *mem;
	char k1[NOTE_KEY_MAX], k2[NOTE_KEY_MAX], *h;

	note_verifier_format(&key, k1);
	note_verifier_format(&other_key, k2);
	append(f->a.log, "a", 3);
	lc = client(f, &f->a, true, &key, 0, 0);
	mem = client(f, &f->a, false, &key, 0, 0); /* a tail, no state */
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	update_expect(mem, LOGCLIENT_OK, NULL, &r);
	append(f->a.log, "a", 300); /* the old key signs more */
	f->a.handover = rekey_a(f, NULL, 0, UINT64_MAX, NULL);
	append(f->a.log, "a", 4); /* the new key goes on */
	h = strdup(f->a.handover);

	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	assert_non_null(strstr(r.notice, "changed its key"));
	assert_non_null(strstr(r.notice, k1));
	assert_non_null(strstr(r.notice, k2));
	expect_key_file(f, &other_key);
	{
		char *cp = state_file(f, &other_key, "checkpoint"),
		     *ho = state_file(f, &other_key, "handover"),
		     *want = log_checkpoint(f->a.log);

		assert_non_null(cp);
		assert_string_equal(cp, want);
		assert_non_null(ho);
		assert_string_equal(ho, h);
		free(cp);
		free(ho);
		free(want);
	}
	update_expect(mem, LOGCLIENT_OK, NULL, &r);
	assert_non_null(strstr(r.notice, "changed its key"));
	/* It stays followed, without the handover; given the old key, the
	 * client says which key it checks with. */
	append(f->a.log, "a", 1);
	update_expect(mem, LOGCLIENT_OK, NULL, &r);
	assert_string_equal(r.notice, "");
	logclient_free(lc);
	free(f->a.handover);
	f->a.handover = NULL;
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	assert_non_null(strstr(r.notice, "recorded"));
	logclient_free(lc);
	lc = client(f, &f->a, true, &other_key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	assert_string_equal(r.notice, "");
	logclient_free(lc);
	logclient_free(mem);
	free(h);
	logclient_result_clear(&r);
}

/* Rekeys log a with the handover made by make, and expects a client that
 * saw the log before to refuse it as a key change saying why. */
static void
expect_not_followed(struct fx *f, char *handover, const char *why)
{
	struct logclient_result r = {0};
	struct logclient *lc;
	char *before = stored(f), *after;

	f->a.handover = handover;
	append(f->a.log, "a", 2);
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_KEY_CHANGED, why, &r);
	assert_int_equal(logclient_exit_status(r.status), 4);
	logclient_free(lc);
	after = stored(f);
	assert_string_equal(before, after);
	assert_null(state_file(f, &other_key, "checkpoint"));
	expect_key_file(f, &key);
	free(before);
	free(after);
	logclient_result_clear(&r);
}

/* Log a of 5 entries, seen by a client with state. */
static void
seen_five(struct fx *f)
{
	struct logclient_result r = {0};
	struct logclient *lc;

	append(f->a.log, "a", 5);
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	logclient_free(lc);
	logclient_result_clear(&r);
}

static void
test_a_handover_by_one_key_is_not_followed(void **state)
{
	struct fx *f = *state;
	const struct note_signer *o[] = {signer};

	seen_five(f);
	expect_not_followed(f, rekey_a(f, o, 1, UINT64_MAX, NULL),
			    "does not verify");
}

static void
test_a_handover_by_the_new_key_only_is_not_followed(void **state)
{
	struct fx *f = *state;
	const struct note_signer *n[] = {other};

	seen_five(f);
	expect_not_followed(f, rekey_a(f, n, 1, UINT64_MAX, NULL),
			    "does not verify");
}

static void
test_a_handover_behind_what_was_seen_is_not_followed(void **state)
{
	struct fx *f = *state;
	struct merkle_hash root;
	char *cp, err[256];
	struct note *n = NULL;
	struct checkpoint c = {0};

	/* The tree of size 3, as the log signed it, then 2 more seen. */
	append(f->a.log, "a", 3);
	cp = log_checkpoint(f->a.log);
	assert_int_equal(note_parse(cp, strlen(cp), &n, err, sizeof(err)), 0);
	assert_int_equal(
		checkpoint_parse(n->text, n->text_len, &c, err, sizeof(err)),
		0);
	root = c.root;
	checkpoint_clear(&c);
	note_free(n);
	free(cp);
	append(f->a.log, "a", 2);
	{
		struct logclient_result r = {0};
		struct logclient *lc = client(f, &f->a, true, &key, 0, 0);

		update_expect(lc, LOGCLIENT_OK, NULL, &r);
		logclient_free(lc);
	}
	expect_not_followed(f, rekey_a(f, NULL, 0, 3, &root),
			    "larger than the tree of size 3");
}

static void
test_a_handover_of_another_tree_is_not_followed(void **state)
{
	struct fx *f = *state;
	struct merkle_hash root;

	seen_five(f);
	memset(&root, 0x5a, sizeof(root)); /* a tree of size 5, not a's */
	expect_not_followed(f, rekey_a(f, NULL, 0, 5, &root),
			    "does not extend");
}

static void
test_no_handover_is_a_key_change(void **state)
{
	struct fx *f = *state;

	seen_five(f);
	free(rekey_a(f, NULL, 0, UINT64_MAX, NULL));
	expect_not_followed(f, NULL, "serves no key handover");
}

static void
test_a_state_from_before_keys_is_moved_to_its_key(void **state)
{
	struct fx *f = *state;
	struct logclient_result r = {0};
	struct logclient_config cfg;
	struct logclient *lc;
	char path[512], *cp, *got;
	FILE *fp;

	append(f->a.log, "a", 3);
	cp = log_checkpoint(f->a.log);
	/* STATE/<origin>/checkpoint, as the client kept it before. */
	snprintf(path, sizeof(path), "%s/home", f->tmp);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(mkdir(f->state, 0700), 0);
	snprintf(path, sizeof(path), "%s/vigil.example%%2Ftest", f->state);
	assert_int_equal(mkdir(path, 0700), 0);
	state_path(f, NULL, "checkpoint", path, sizeof(path));
	assert_non_null(fp = fopen(path, "w"));
	fputs(cp, fp);
	fclose(fp);
	append(f->a.log, "a", 2);

	/* Another key given: the old state is not its own. */
	b_with_other_key(f);
	append(f->b.log, "b", 3);
	lc = client(f, &f->b, true, &other_key, 0, 0);
	update_expect(lc, LOGCLIENT_KEY_CHANGED, "before it recorded keys", &r);
	assert_int_equal(logclient_exit_status(r.status), 4);
	logclient_free(lc);
	assert_null(state_file(f, NULL, "key"));

	/* The key that signed it: moved, then checked against. */
	lc = client(f, &f->a, true, &key, 0, 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	logclient_free(lc);
	assert_null(state_file(f, NULL, "checkpoint"));
	expect_key_file(f, &key);
	expect_stored(f, f->a.log);

	/* A second old state, this time accepted away. */
	state_path(f, NULL, "key", path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	state_path(f, NULL, "checkpoint", path, sizeof(path));
	assert_non_null(fp = fopen(path, "w"));
	fputs(cp, fp);
	fclose(fp);
	cfg = (struct logclient_config){
		.source = "https://log.example/b",
		.get = fake_get,
		.get_ud = &f->b,
		.origin = ORIGIN,
		.log_key = &other_key,
		.state_root = f->state,
		.accept_key = &other_key,
	};
	assert_int_equal(logclient_new(&cfg, &lc, &r), 0);
	update_expect(lc, LOGCLIENT_OK, NULL, &r);
	logclient_free(lc);
	expect_key_file(f, &other_key);
	got = state_file(f, NULL, "checkpoint.before-keys");
	assert_non_null(got);
	assert_string_equal(got, cp);
	free(got);
	free(cp);
	logclient_result_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names_are_safe_and_distinct),
		cmocka_unit_test_setup_teardown(
			test_a_growing_log_is_followed_and_stored, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_fork_to_a_larger_tree_is_security_with_evidence,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_two_trees_of_the_same_size_are_security, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_without_state_the_previous_checkpoint_is_checked,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_smaller_checkpoint_is_refused_and_not_stored,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_smaller_tree_that_is_no_prefix_is_security,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_tampered_rightmost_tile_is_security, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_tampered_full_tile_is_security, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_tampered_entry_bundle_is_security, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_signatures_and_witnesses_are_checked, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_entries_are_proven_and_found, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_proof_files_verify_offline_and_refuse_changes,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_deleted_partial_tiles_are_read_from_full_ones,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_damaged_state_file_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_another_key_for_a_known_origin_is_a_key_change_not_a_fork,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_fork_under_one_key_is_still_security, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_handover_signed_by_both_keys_is_followed, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_handover_by_one_key_is_not_followed, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_handover_by_the_new_key_only_is_not_followed,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_handover_behind_what_was_seen_is_not_followed,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_handover_of_another_tree_is_not_followed, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_no_handover_is_a_key_change, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_state_from_before_keys_is_moved_to_its_key,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
