/*
 * test_logclient.c - the verifying log client (src/cli/logclient.c),
 * against real logs (src/tlog/log.c) served through a fake fetcher that
 * can lie: a log that grows is followed and its checkpoints stored; a
 * fork (at a larger or the same size), a tampered tile (rightmost or
 * full), a tampered entry bundle and a proof that does not verify are
 * SECURITY failures with their evidence; a step back is refused; bad
 * signatures and too few witnesses each have their own status; entries
 * are found and proven; tlog-proof files verify offline and refuse any
 * change; partial tiles a log deleted are read from the full tile.
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
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
