/*
 * test_keyholder.c - the key holder (src/node/keyholder.c, keyclient.c,
 * keyproto.c) as a real forked process on a real socketpair: it creates
 * the keys on a fresh data directory, signs with the log key, the old log
 * key (one handover, then never again) and the release key, gives sample
 * records their state; and every malformed message (short, too long,
 * unknown type, wrong size for its type, a code set) gets an error reply
 * and ends the holder with status 1, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "node/config.h"
#include "node/keyholder.h"
#include "node/keyproto.h"
#include "store/samples.h"
#include "tlog/handover.h"
#include "tlog/keyfile.h"
#include "tlog/note.h"

struct fx {
	char dir[64];
	struct node_config cfg;
	struct keyholder *kh;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];

	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-kh.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	config_default(&f->cfg);
	snprintf(f->cfg.data_dir, sizeof(f->cfg.data_dir), "%s", f->dir);
	if (keyholder_start(&f->cfg, "", NULL, &f->kh, err, sizeof(err)) != 0) {
		fprintf(stderr, "keyholder_start: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	keyholder_stop(f->kh);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Reads the holder's reply to a malformed message, then its end: an
 * error reply, the connection closed, and an exit (not a signal). */
static void
assert_dropped(struct fx *f)
{
	uint8_t buf[KH_MSG_MAX + 1];
	struct kh_hdr h;
	size_t n;
	int st = 0;

	assert_int_equal(kh_recv(keyholder_fd(f->kh), buf, sizeof(buf), &h, &n),
			 0);
	assert_int_equal(h.type, KH_ERROR);
	assert_int_equal(h.code, VG_EFORMAT);
	assert_int_equal(n, 0);
	assert_int_equal(kh_recv(keyholder_fd(f->kh), buf, sizeof(buf), &h, &n),
			 VG_ENOENT);
	assert_int_equal(waitpid(keyholder_pid(f->kh), &st, 0),
			 keyholder_pid(f->kh));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
}

/* One raw request; the reply's header, body in out (up to cap). */
static size_t
ask(struct fx *f, uint32_t type, const void *body, size_t len, struct kh_hdr *h,
    uint8_t *out, size_t cap)
{
	uint8_t buf[KH_MSG_MAX + 1];
	size_t n;

	assert_int_equal(kh_send(keyholder_fd(f->kh), type, 0, body, len), 0);
	assert_int_equal(kh_recv(keyholder_fd(f->kh), buf, sizeof(buf), h, &n),
			 0);
	assert_true(n <= cap);
	memcpy(out, buf + sizeof(*h), n);
	return n;
}

static void
test_fresh_directory_gets_keys_and_an_origin(void **state)
{
	struct fx *f = *state;
	const struct note_verifier *k = keyholder_log_key(f->kh);
	char path[200], want[NOTE_NAME_MAX + 1];
	const char *files[] = {"log.key", "release-online.key", "sample.key"};
	struct stat st;

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	assert_string_equal(
		keyholder_origin(f->kh),
		config_log_origin(&f->cfg, k->pub, want, sizeof(want)));
	assert_string_equal(k->name, keyholder_origin(f->kh));
	assert_null(keyholder_log_old_key(f->kh));
	assert_int_equal(strlen(keyholder_sample_key_id(f->kh)), 16);
}

static void
test_signs_and_seals_through_the_holder(void **state)
{
	struct fx *f = *state;
	const struct note_signer *s = keyholder_log_signer(f->kh);
	static const char text[] = "vigil.local/eu\n1\nAAAA\n";
	static const char data[] = "a sample";
	char err[256], *note = NULL, sha[65], dir[200], path[200];
	struct samples_keysrc src;
	struct sample_loc loc;
	struct samples *store;
	struct note *n = NULL;
	uint8_t sig[64], h[32], *got = NULL;
	size_t len, nv;

	assert_int_equal(note_sign(text, strlen(text), &s, 1, 0, &note, &len,
				   err, sizeof(err)),
			 0);
	assert_int_equal(note_parse(note, len, &n, err, sizeof(err)), 0);
	assert_int_equal(note_verify(n, keyholder_log_key(f->kh), 1, &nv, err,
				     sizeof(err)),
			 0);
	note_free(n);
	free(note);
	assert_int_equal(keyholder_release_sign(f->kh, (const uint8_t *)text,
						strlen(text), sig),
			 0);
	assert_int_equal(crypto_sign_verify_detached(
				 sig, (const uint8_t *)text, strlen(text),
				 keyholder_release_pub(f->kh)),
			 0);
	/* A sample store whose records get their state from the holder. */
	keyholder_samples_keysrc(f->kh, &src);
	snprintf(dir, sizeof(dir), "%s/samples", f->dir);
	assert_int_equal(
		samples_open_keysrc(dir, &src, &store, err, sizeof(err)), 0);
	crypto_hash_sha256(h, (const uint8_t *)data, strlen(data));
	sodium_bin2hex(sha, sizeof(sha), h, 32);
	assert_int_equal(samples_append(store, sha, data, strlen(data), &loc),
			 0);
	assert_int_equal(samples_sync(store), 0);
	assert_int_equal(samples_read(store, &loc, sha, &got, &len), 0);
	assert_memory_equal(got, data, strlen(data));
	free(got);
	samples_close(store);
	/* The same key file opened in this process reads the record too:
	 * the key file and the record format are the ones they always
	 * were. */
	snprintf(path, sizeof(path), "%s/sample.key", f->dir);
	assert_int_equal(samples_open(dir, path, &store, err, sizeof(err)), 0);
	assert_int_equal(samples_read(store, &loc, sha, &got, &len), 0);
	assert_memory_equal(got, data, strlen(data));
	free(got);
	samples_close(store);
}

static void
test_refusals_keep_the_connection(void **state)
{
	struct fx *f = *state;
	static const char text[] = TLOG_HANDOVER_HEADER "\norigin x\n";
	uint8_t out[KH_MSG_MAX];
	struct kh_hdr h;

	/* No old key: refused, and the holder goes on. */
	assert_int_equal(ask(f, KH_LOG_SIGN_OLD, text, strlen(text), &h, out,
			     sizeof(out)),
			 0);
	assert_int_equal(h.type, KH_LOG_SIGN_OLD | KH_REPLY);
	assert_int_equal(h.code, VG_EINVAL);
	assert_int_equal(
		ask(f, KH_LOG_SIGN, text, strlen(text), &h, out, sizeof(out)),
		64);
	assert_int_equal(h.code, 0);
	/* Any header opens (the tag check comes with the chunks). */
	memset(out, 7, KH_SS_HEADER);
	assert_int_equal(
		ask(f, KH_OPEN_INIT, out, KH_SS_HEADER, &h, out, sizeof(out)),
		KH_SS_STATE);
	out[0] = 1;
	assert_int_equal(ask(f, KH_SEAL_INIT, out, 1, &h, out, sizeof(out)),
			 KH_SS_HEADER + KH_SS_STATE);
	out[0] = KH_SEAL_BATCH;
	assert_int_equal(ask(f, KH_SEAL_INIT, out, 1, &h, out, sizeof(out)),
			 KH_SEAL_BATCH * (KH_SS_HEADER + KH_SS_STATE));
}

static void
test_old_key_signs_one_handover_then_is_gone(void **state)
{
	struct fx *f = *state;
	struct note_signer *old;
	struct note_verifier vold;
	char err[512], path[200], *text = NULL;
	uint8_t out[KH_MSG_MAX], root[32] = {0};
	struct kh_hdr h;
	size_t len;

	/* Restart the holder with a log.key.old beside log.key. */
	keyholder_stop(f->kh);
	f->kh = NULL;
	assert_int_equal(note_signer_generate("vigil.local/eu", NOTE_ED25519,
					      &old, err, sizeof(err)),
			 0);
	snprintf(path, sizeof(path), "%s/log.key.old", f->dir);
	assert_int_equal(note_signer_file_write(path, old, err, sizeof(err)),
			 0);
	note_signer_verifier(old, &vold);
	note_signer_free(old);
	assert_int_equal(keyholder_start(&f->cfg, "vigil.local/eu", NULL,
					 &f->kh, err, sizeof(err)),
			 0);
	assert_non_null(keyholder_log_old_key(f->kh));
	assert_memory_equal(keyholder_log_old_key(f->kh)->pub, vold.pub, 32);
	/* Nothing but a handover text. */
	assert_int_equal(ask(f, KH_LOG_SIGN_OLD, "vigil.local/eu\n1\n", 17, &h,
			     out, sizeof(out)),
			 0);
	assert_int_equal(h.code, VG_EINVAL);
	assert_int_equal(tlog_handover_format("vigil.local/eu", &vold,
					      keyholder_log_key(f->kh), 1, root,
					      &text, &len, err, sizeof(err)),
			 0);
	assert_int_equal(
		ask(f, KH_LOG_SIGN_OLD, text, len, &h, out, sizeof(out)), 64);
	assert_int_equal(h.code, 0);
	assert_int_equal(crypto_sign_verify_detached(out, (const uint8_t *)text,
						     len, vold.pub),
			 0);
	/* Once. */
	assert_int_equal(
		ask(f, KH_LOG_SIGN_OLD, text, len, &h, out, sizeof(out)), 0);
	assert_int_equal(h.code, VG_EINVAL);
	free(text);
}

static void
test_missing_log_key_without_the_old_one_is_refused(void **state)
{
	struct fx *f = *state;
	struct keyholder *kh = NULL;
	char err[1024], path[200];

	snprintf(path, sizeof(path), "%s/log.key", f->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(keyholder_start(&f->cfg, "vigil.local/eu",
					 "vigil.local/eu+01234567+AAAA", &kh,
					 err, sizeof(err)),
			 VG_EINVAL);
	assert_null(kh);
	assert_non_null(strstr(err, "log.key.old"));
	assert_int_equal(access(path, F_OK), -1);
}

/* Each malformed message, on a holder of its own. */
static void
test_malformed_messages_are_refused_and_drop_the_connection(void **state)
{
	struct fx *f = *state;
	static uint8_t big[KH_MSG_MAX + 64];
	uint8_t hdr[8];
	struct {
		uint32_t type;
		int32_t code;
		size_t len;
		const char *what;
	} bad[] = {
		{99, 0, 0, "an unknown type"},
		{0, 0, 0, "type 0"},
		{KH_HELLO, 0, 0, "a hello from the parent"},
		{KH_HELLO | KH_REPLY, 0, 0, "a reply as a request"},
		{KH_ERROR, 0, 0, "an error as a request"},
		{KH_LOG_SIGN, 0, 0, "an empty message to sign"},
		{KH_RELEASE_SIGN, 0, 0, "an empty release message"},
		{KH_LOG_SIGN_OLD, 0, 0, "an empty handover"},
		{KH_SEAL_INIT, 0, 0, "a seal of no count"},
		{KH_SEAL_INIT, 0, 1, "a seal of 120 records, over the batch"},
		{KH_SEAL_INIT, 0, 2, "a seal count of two bytes"},
		{KH_OPEN_INIT, 0, KH_SS_HEADER - 1, "a short header"},
		{KH_OPEN_INIT, 0, KH_SS_HEADER + 1, "a long header"},
		{KH_OPEN_INIT, 0, 0, "no header"},
		{KH_LOG_SIGN, 1, 5, "a code set"},
		{KH_LOG_SIGN, -3, 5, "a negative code"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[512];

		print_message("  %s\n", bad[i].what);
		memset(big, 'x', sizeof(big));
		assert_int_equal(kh_send(keyholder_fd(f->kh), bad[i].type,
					 bad[i].code, big, bad[i].len),
				 0);
		assert_dropped(f);
		keyholder_stop(f->kh);
		assert_int_equal(keyholder_start(&f->cfg, "", NULL, &f->kh, err,
						 sizeof(err)),
				 0);
	}
	/* Shorter than a header, and longer than any message. (An empty
	 * packet reads as the end of the connection: the holder exits.) */
	memset(hdr, 0, sizeof(hdr));
	hdr[0] = KH_LOG_SIGN;
	assert_int_equal(send(keyholder_fd(f->kh), hdr, 4, 0), 4);
	assert_dropped(f);
	keyholder_stop(f->kh);
	assert_int_equal(keyholder_start(&f->cfg, "", NULL, &f->kh, NULL, 0),
			 0);
	memcpy(big, hdr, sizeof(hdr));
	assert_int_equal(send(keyholder_fd(f->kh), big, sizeof(big), 0),
			 (ssize_t)sizeof(big));
	assert_dropped(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_fresh_directory_gets_keys_and_an_origin, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_signs_and_seals_through_the_holder, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_refusals_keep_the_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_old_key_signs_one_handover_then_is_gone, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_missing_log_key_without_the_old_one_is_refused,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_malformed_messages_are_refused_and_drop_the_connection,
			setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
