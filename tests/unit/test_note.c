/*
 * test_note.c - signed notes, keys and cosignatures (src/tlog/note.c).
 *
 * Known answers: the signed-note spec's examples carry no public key, so
 * the exact signature bytes are checked with the vectors of the format's
 * reference implementation, golang.org/x/mod/sumdb/note (PeterNeumann's
 * and EnochRoot's keys and signatures): parsing the keys, signing the
 * text again byte for byte (Ed25519 is deterministic), verifying. The
 * spec examples (signed-note, tlog-checkpoint, tlog-cosignature) are
 * parsed and their key IDs and cosignature timestamp checked. Key strings
 * of transparency-dev/formats check type 0x04 and a '+' inside base64.
 * Cosignatures are also checked against libsodium directly over the
 * spec's message bytes, so the message format is not only round-tripped.
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

#include "common/err.h"
#include "tlog/note.h"

#define PETER_VKEY                                                             \
	"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define PETER_SKEY                                                             \
	"PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+"          \
	"Y7hfZx09iU"                                                           \
	"vxdXHKDFz"
#define ENOCH_VKEY                                                             \
	"EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
#define TEXT                                                                   \
	"If you think cryptography is the answer to your problem,\n"           \
	"then you don't know what your problem is.\n"
#define PETER_SIG                                                              \
	"\xe2\x80\x94 PeterNeumann "                                           \
	"x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZI"                          \
	"nNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
#define ENOCH_SIG                                                              \
	"\xe2\x80\x94 EnochRoot "                                              \
	"rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n"                       \
	"2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

/* signed-note.md's example. */
#define QUASIMODO                                                              \
	"Ognuno sta solo sul cuor della terra\n"                               \
	"trafitto da un raggio di sole:\n"                                     \
	"\n"                                                                   \
	"ed \xc3\xa8 subito sera.\n"                                           \
	"\n"                                                                   \
	"\xe2\x80\x94 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDk" \
	"O/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
/* tlog-cosignature.md's example: a checkpoint with a log signature and a
 * witness cosignature. */
#define CHECKPOINT_TEXT                                                        \
	"example.com/behind-the-sofa\n"                                        \
	"20852163\n"                                                           \
	"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
#define COSIGNED                                                               \
	CHECKPOINT_TEXT                                                        \
	"\n"                                                                   \
	"\xe2\x80\x94 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/" \
	"5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"  \
	"\xe2\x80\x94 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9" \
	"DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+"  \
	"qnA==\n"

static struct note *
parse_ok(const char *msg)
{
	struct note *n = NULL;
	char err[256];

	if (note_parse(msg, strlen(msg), &n, err, sizeof(err)) != 0)
		fail_msg("note_parse: %s", err);
	return n;
}

static struct note_verifier
vkey(const char *s)
{
	struct note_verifier v;
	char err[256];

	if (note_verifier_parse(s, strlen(s), &v, err, sizeof(err)) != 0)
		fail_msg("note_verifier_parse(%s): %s", s, err);
	return v;
}

static void
assert_same_key(const struct note_verifier *a, const struct note_verifier *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->key_id, b->key_id);
	assert_int_equal(a->type, b->type);
	assert_memory_equal(a->pub, b->pub, sizeof(a->pub));
}

/* --- keys ----------------------------------------------------------------- */

static void
test_go_keys_parse_and_format_back(void **state)
{
	struct note_verifier peter = vkey(PETER_VKEY), enoch = vkey(ENOCH_VKEY),
			     from_signer;
	struct note_signer *s;
	char buf[NOTE_KEY_MAX], err[256];

	(void)state;
	assert_string_equal(peter.name, "PeterNeumann");
	assert_int_equal(peter.key_id, 0xc74f20a3);
	assert_int_equal(peter.type, NOTE_ED25519);
	assert_int_equal(enoch.key_id, 0xaf0cfe78);
	note_verifier_format(&peter, buf);
	assert_string_equal(buf, PETER_VKEY);

	assert_int_equal(note_signer_parse(PETER_SKEY, strlen(PETER_SKEY), &s,
					   err, sizeof(err)),
			 0);
	note_signer_format(s, buf);
	assert_string_equal(buf, PETER_SKEY);
	note_signer_verifier(s, &from_signer);
	assert_same_key(&from_signer, &peter);
	note_signer_free(s);
	note_signer_free(NULL);
}

static void
test_other_implementations_keys_parse(void **state)
{
	/* transparency-dev/formats: a cosigner key (type 0x04), and a key
	 * whose base64 holds a '+'. */
	struct note_verifier remora, plus;
	uint32_t id;

	(void)state;
	remora = vkey("remora.n621.de+da77ade7+"
		      "BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2");
	plus = vkey(
		"TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6");
	assert_int_equal(remora.type, NOTE_COSIGNATURE);
	assert_int_equal(remora.key_id, 0xda77ade7);
	assert_int_equal(plus.type, NOTE_ED25519);
	assert_int_equal(plus.key_id, 0x7997405c);
	/* The same key under the other type has another ID. */
	assert_int_equal(note_key_id("remora.n621.de", NOTE_ED25519, remora.pub,
				     32, &id),
			 0);
	assert_true(id != remora.key_id);
}

static void
test_bad_key_strings_are_refused(void **state)
{
	static const struct {
		const char *key;
		int code;
		const char *why;
	} bad[] = {
		{"", VG_EFORMAT, "no '+'"},
		{"PeterNeumann", VG_EFORMAT, "no '+'"},
		{"PeterNeumann+c74f20a3", VG_EFORMAT, "8 lowercase hex"},
		{"PeterNeumann+c74f20a3+", VG_EFORMAT, "not valid base64"},
		{"PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		 "LDE4izWy"
		 "10TW",
		 VG_EFORMAT, "8 lowercase hex"},
		{"PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		 "LDE4izWy1"
		 "0TW",
		 VG_EFORMAT, "8 lowercase hex"},
		{"PeterNeumann+0xc74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		 "LDE4izWy"
		 "10TW",
		 VG_EFORMAT, "8 lowercase hex"},
		{"PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		 "LDE4izWy"
		 "10TW",
		 VG_EFORMAT, "does not match the key"},
		{"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		 "LDE4izWy"
		 "10T",
		 VG_EFORMAT, "not valid base64"},
		{"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		 "LDE4izWy"
		 "10TW ",
		 VG_EFORMAT, "not valid base64"},
		{"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		 "LDE4izWy"
		 "10TW\n",
		 VG_EFORMAT, "not valid base64"},
		/* golang.org/x/mod: wrong length and unknown algorithm, each
		 * with a key ID adjusted to the bytes. */
		{"PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		 "LDE4izWy"
		 "10TWBADKEY==",
		 VG_EFORMAT, "not 32 bytes"},
		{"PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		 "LDE4izWy"
		 "10TW",
		 VG_EINVAL, "unsupported key type 0x65"},
		/* A byte above 0x7f (libsodium 1.0.18 decodes it as '/'). */
		{"PeterNeumann+c74f20a3+"
		 "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq\xfdLDE4i"
		 "zWy10TW",
		 VG_EFORMAT, "not valid base64"},
		{"a+00000000+AQ==", VG_EFORMAT, "not 32 bytes"},
		{"a+00000000+/w==", VG_EINVAL, "unsupported key type 0xff"},
		{"+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		 VG_EFORMAT, "invalid key name"},
		{"Peter "
		 "Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izW"
		 "y10TW",
		 VG_EFORMAT, "invalid key name"},
		{"Peter\xc2\xa0Neumann+c74f20a3+"
		 "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		 "LDE4izWy10TW",
		 VG_EFORMAT, "invalid key name"},
		{"Peter\xffNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		 "LDE4"
		 "izWy10TW",
		 VG_EFORMAT, "invalid key name"},
	};
	struct note_verifier v;
	struct note_signer *s;
	char err[256], key[NOTE_KEY_MAX + 16], name[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(note_verifier_parse(bad[i].key,
						     strlen(bad[i].key), &v,
						     err, sizeof(err)),
				 bad[i].code);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"",
				 bad[i].key, err, bad[i].why);
		/* The same body as a signer key is refused the same way. */
		snprintf(key, sizeof(key), "PRIVATE+KEY+%s", bad[i].key);
		assert_int_equal(note_signer_parse(key, strlen(key), &s, err,
						   sizeof(err)),
				 bad[i].code);
	}
	/* A name above NOTE_NAME_MAX bytes, a string above NOTE_KEY_MAX. */
	memset(name, 'n', 256);
	snprintf(key, sizeof(key), "%.256s+00000000+AQ==", name);
	assert_int_equal(note_verifier_parse(key, strlen(key), &v, err, 256),
			 VG_ELIMIT);
	memset(key, 'k', sizeof(key));
	assert_int_equal(note_verifier_parse(key, NOTE_KEY_MAX, &v, err, 256),
			 VG_ELIMIT);
	/* A signer key needs its prefix and a matching key ID. */
	assert_int_equal(note_signer_parse(&PETER_SKEY[12],
					   strlen(PETER_SKEY) - 12, &s, err,
					   256),
			 VG_EFORMAT);
	assert_int_equal(note_signer_parse("PRIVATE+KEY+PeterNeumann+c74f20a4+"
					   "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09"
					   "iUvxdXHKDFz",
					   78, &s, err, 256),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "does not match"));
}

static void
test_every_mangling_of_a_key_is_refused(void **state)
{
	/* golang.org/x/mod's check: every proper substring, and every
	 * string with one byte incremented, of a valid key is refused. */
	const char *keys[] = {PETER_VKEY, PETER_SKEY};
	char buf[NOTE_KEY_MAX];

	(void)state;
	for (int k = 0; k < 2; k++) {
		size_t len = strlen(keys[k]);

		for (size_t i = 0; i <= len; i++)
			for (size_t j = i + 1; j <= len; j++) {
				struct note_verifier v;
				struct note_signer *s;

				if (i == 0 && j == len)
					continue;
				if (k == 0)
					assert_int_not_equal(
						note_verifier_parse(keys[k] + i,
								    j - i, &v,
								    NULL, 0),
						0);
				else
					assert_int_not_equal(
						note_signer_parse(keys[k] + i,
								  j - i, &s,
								  NULL, 0),
						0);
			}
		memcpy(buf, keys[k], len);
		for (size_t i = 0; i < len; i++) {
			struct note_verifier v;
			struct note_signer *s;

			buf[i]++;
			if (k == 0)
				assert_int_not_equal(
					note_verifier_parse(buf, len, &v, NULL,
							    0),
					0);
			else
				assert_int_not_equal(note_signer_parse(buf, len,
								       &s, NULL,
								       0),
						     0);
			buf[i]--;
		}
	}
}

static void
test_invalid_points_and_names_are_refused(void **state)
{
	uint8_t zero[32] = {0}, raw[33] = {NOTE_ED25519};
	struct note_verifier v;
	struct note_signer *s;
	char b64[64], key[NOTE_KEY_MAX], err[256];
	uint32_t id;

	(void)state;
	/* The all-zero key is a point of small order: refused, with a
	 * correct key ID so that only the point is wrong. */
	assert_int_equal(note_key_id("a", NOTE_ED25519, zero, 32, &id), 0);
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw),
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(key, sizeof(key), "a+%08x+%s", id, b64);
	assert_int_equal(note_verifier_parse(key, strlen(key), &v, err, 256),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "not a valid Ed25519 public key"));
	assert_int_equal(
		note_verifier_new("a", NOTE_ED25519, zero, &v, err, 256),
		VG_EINVAL);
	/* Names. */
	assert_true(note_name_valid("example.com/log", 15));
	assert_true(note_name_valid("\xc3\xa8", 2));
	assert_false(note_name_valid("", 0));
	assert_false(note_name_valid("a+b", 3));
	assert_false(note_name_valid("a b", 3));
	assert_false(note_name_valid("a\tb", 3));
	assert_false(note_name_valid("a\x01", 2));
	assert_false(note_name_valid("a\xe3\x80\x80", 4)); /* U+3000 */
	assert_false(note_name_valid("a\xe2\x80\xa8", 4)); /* U+2028 */
	assert_false(note_name_valid("a\xc2\x85", 3));     /* U+0085 */
	assert_false(note_name_valid("a\xc0\xa0", 3));     /* overlong */
	assert_int_equal(
		note_signer_generate("bad name", NOTE_ED25519, &s, err, 256),
		VG_EINVAL);
	assert_int_equal(note_signer_generate("ok", 0x02, &s, err, 256),
			 VG_EINVAL);
}

/* --- signing and verifying ------------------------------------------------ */

static void
test_signing_reproduces_the_go_note_byte_for_byte(void **state)
{
	struct note_signer *s;
	const struct note_signer *list[1];
	char err[256], *out, line[NOTE_LINE_MAX];
	size_t len;

	(void)state;
	assert_int_equal(
		note_signer_parse(PETER_SKEY, strlen(PETER_SKEY), &s, err, 256),
		0);
	list[0] = s;
	assert_int_equal(
		note_sign(TEXT, strlen(TEXT), list, 1, 0, &out, &len, err, 256),
		0);
	assert_string_equal(out, TEXT "\n" PETER_SIG);
	assert_int_equal(len, strlen(TEXT "\n" PETER_SIG));
	free(out);
	assert_int_equal(
		note_sign_line(s, TEXT, strlen(TEXT), 0, line, &len, err, 256),
		0);
	assert_string_equal(line, PETER_SIG);
	/* Text that is not note text. */
	assert_int_equal(note_sign_line(s, "abc", 3, 0, line, &len, err, 256),
			 VG_EFORMAT);
	assert_int_equal(note_sign_line(s, "", 0, 0, line, &len, err, 256),
			 VG_EFORMAT);
	assert_int_equal(
		note_sign_line(s, "a\rb\n", 4, 0, line, &len, err, 256),
		VG_EFORMAT);
	assert_int_equal(
		note_sign(TEXT, strlen(TEXT), list, 0, 0, &out, &len, err, 256),
		VG_EINVAL);
	note_signer_free(s);
}

static void
test_verify_checks_known_keys_and_ignores_unknown(void **state)
{
	struct note_verifier peter = vkey(PETER_VKEY), enoch = vkey(ENOCH_VKEY);
	struct note_verifier both[2] = {peter, enoch},
			     dup[3] = {enoch, peter, enoch};
	struct note_verifier other_id = peter, other_name = peter;
	struct note *n;
	char err[256];
	size_t k;

	(void)state;
	/* golang.org/x/mod's TestOpen. */
	n = parse_ok(TEXT "\n" PETER_SIG ENOCH_SIG);
	assert_string_equal(n->text, TEXT);
	assert_int_equal(n->nsigs, 2);
	assert_string_equal(n->sigs[1].name, "EnochRoot");
	assert_int_equal(n->sigs[1].key_id, 0xaf0cfe78);
	assert_int_equal(note_verify(n, &peter, 1, &k, err, 256), 0);
	assert_int_equal(k, 1);
	assert_true(n->sigs[0].key == &peter && n->sigs[1].key == NULL);
	assert_true(note_verified_by(n, &peter));
	assert_false(note_verified_by(n, &enoch));
	assert_int_equal(note_verify(n, both, 2, &k, err, 256), 0);
	assert_int_equal(k, 2);
	assert_int_equal(note_verify(n, NULL, 0, &k, err, 256), VG_EVERIFY);
	assert_non_null(strstr(err, "no signature by a known key"));
	/* A key known twice is a configuration error, when it is used. */
	assert_int_equal(note_verify(n, dup, 3, &k, err, 256), VG_EINVAL);
	assert_non_null(strstr(err, "EnochRoot+af0cfe78 is known twice"));
	note_free(n);
	n = parse_ok(TEXT "\n" PETER_SIG);
	assert_int_equal(note_verify(n, dup, 3, &k, err, 256), 0);
	/* Same name, other ID; same ID, other name: unknown, ignored. */
	other_id.key_id ^= 1;
	snprintf(other_name.name, sizeof(other_name.name), "PeterNeumanN");
	assert_int_equal(note_verify(n, &other_id, 1, &k, err, 256),
			 VG_EVERIFY);
	assert_int_equal(note_verify(n, &other_name, 1, &k, err, 256),
			 VG_EVERIFY);
	assert_non_null(strstr(err, "no signature by a known key"));
	note_free(n);

	/* A known key's bad signature rejects the note, whatever else
	 * verifies. */
	n = parse_ok(TEXT
		     "\n" ENOCH_SIG
		     "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVB"
		     "tiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6"
		     "KE6RyyBwJnAA=\n");
	assert_int_equal(note_verify(n, both, 2, &k, err, 256), VG_EVERIFY);
	assert_non_null(strstr(err, "invalid signature by known key "
				    "PeterNeumann+c74f20a3"));
	note_free(n);
	/* golang.org/x/mod: "ABCD" inserted into the signature. */
	n = parse_ok(TEXT
		     "\n"
		     "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVB"
		     "ABCDtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotp"
		     "RZb6KE6RyyBwJnAM=\n");
	assert_int_equal(note_verify(n, &peter, 1, &k, err, 256), VG_EVERIFY);
	note_free(n);
	/* The text is part of what is signed. */
	n = parse_ok(
		"If you think cryptographY is the answer to your problem,\n"
		"then you don't know what your problem is.\n\n" PETER_SIG);
	assert_int_equal(note_verify(n, &peter, 1, &k, err, 256), VG_EVERIFY);
	note_free(n);
	/* A duplicated signature counts once. */
	n = parse_ok(TEXT "\n" PETER_SIG PETER_SIG);
	assert_int_equal(note_verify(n, &peter, 1, &k, err, 256), 0);
	assert_int_equal(k, 1);
	note_free(n);
}

static void
test_signature_count_limit(void **state)
{
	struct note_verifier peter = vkey(PETER_VKEY);
	size_t one = strlen(PETER_SIG), k;
	char *msg = malloc(strlen(TEXT) + 1 + 101 * one + 1), err[256];
	struct note *n;

	(void)state;
	assert_non_null(msg);
	strcpy(msg, TEXT "\n");
	for (int i = 0; i < 100; i++)
		strcat(msg, PETER_SIG);
	n = parse_ok(msg);
	assert_int_equal(n->nsigs, NOTE_MAX_SIGS);
	assert_int_equal(note_verify(n, &peter, 1, &k, err, 256), 0);
	note_free(n);
	strcat(msg, PETER_SIG);
	assert_int_equal(note_parse(msg, strlen(msg), &n, err, 256), VG_ELIMIT);
	assert_non_null(strstr(err, "more than 100 signatures"));
	free(msg);
}

static void
test_bad_notes_are_refused(void **state)
{
	static const struct {
		const char *msg;
		int code;
		const char *why;
	} bad[] = {
		/* golang.org/x/mod's bad messages. */
		{TEXT, VG_EFORMAT, "no blank line"},
		{TEXT "\n", VG_EFORMAT, "no signature lines"},
		{TEXT "\n"
		      "\xe2\x80\x94 PeterNeumann x08go",
		 VG_EFORMAT, "does not end in a newline"},
		{"\x01" TEXT "\n" PETER_SIG, VG_EFORMAT, "byte 0"},
		{"\xff" TEXT "\n" PETER_SIG, VG_EFORMAT, "byte 0"},
		{TEXT "\n"
		      "\xe2\x80\x94 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiF"
		      "upLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
		      "BwJnAM=\n",
		 VG_EFORMAT, "signature line 1: signature is not valid base64"},
		{TEXT "\n" PETER_SIG "Unexpected line.\n", VG_EFORMAT,
		 "signature line 2: does not start with an em dash"},
		/* More. */
		{"", VG_EFORMAT, "does not end in a newline"},
		{"\n", VG_EFORMAT, "no blank line"},
		{"\n\n", VG_EFORMAT, "no signature lines"},
		{TEXT "\n\n" PETER_SIG "\n", VG_EFORMAT, "no signature lines"},
		{TEXT "\n"
		      "-- PeterNeumann x08go=\n",
		 VG_EFORMAT, "does not start with an em dash"},
		{TEXT "\n"
		      "\xe2\x80\x94PeterNeumann AAAAAAAA\n",
		 VG_EFORMAT, "does not start with an em dash and a space"},
		{TEXT "\n"
		      "\xe2\x80\x93 PeterNeumann AAAAAAAA\n",
		 VG_EFORMAT, "does not start with an em dash"}, /* en dash */
		{TEXT "\n"
		      "\xe2\x80\x94 PeterNeumann\n",
		 VG_EFORMAT, "no space after the key name"},
		{TEXT "\n"
		      "\xe2\x80\x94  AAAAAAAA\n",
		 VG_EFORMAT, "invalid key name"},
		{TEXT "\n"
		      "\xe2\x80\x94 Peter+Neumann AAAAAAAA\n",
		 VG_EFORMAT, "invalid key name"},
		{TEXT "\n"
		      "\xe2\x80\x94 Peter\xc2\xa0Neumann AAAAAAAA\n",
		 VG_EFORMAT, "invalid key name"},
		{TEXT "\n"
		      "\xe2\x80\x94 Peter\xe3\x80\x80Neumann AAAAAAAA\n",
		 VG_EFORMAT, "invalid key name"},
		{TEXT "\n"
		      "\xe2\x80\x94 PeterNeumann AAAAAA==\n",
		 VG_EFORMAT, "no bytes after its key ID"},
		{TEXT "\n"
		      "\xe2\x80\x94 PeterNeumann \n",
		 VG_EFORMAT, "no bytes after its key ID"},
		{TEXT "\n"
		      "\xe2\x80\x94 PeterNeumann AAAAAAAA \n",
		 VG_EFORMAT, "not valid base64"},
		{TEXT "\n"
		      "\xe2\x80\x94 PeterNeumann AAAAAAA\n",
		 VG_EFORMAT, "not valid base64"},
		{TEXT "\n"
		      "\xe2\x80\x94 PeterNeumann AAAAAAB=\n",
		 VG_EFORMAT, "not valid base64"}, /* spare bits set */
		{TEXT "\n"
		      "\xe2\x80\x94 PeterNeumann AAAAAA===\n",
		 VG_EFORMAT, "not valid base64"},
		{TEXT "\n"
		      "\xe2\x80\x94 PeterNeumann AAAA_AAA\n",
		 VG_EFORMAT, "not valid base64"}, /* base64url */
		{TEXT "\n"
		      "\xe2\x80\x94 PeterNeumann AAAAA\xc3\xa9"
		      "A\n",
		 VG_EFORMAT, "not valid base64"}, /* UTF-8 is not base64 */
		{"a\r\n\n" PETER_SIG, VG_EFORMAT, "byte 1"},
		{"a\tb\n\n" PETER_SIG, VG_EFORMAT, "byte 1"},
		{"a\xc0\xaf\n\n" PETER_SIG, VG_EFORMAT,
		 "byte 1"}, /* overlong */
		{"a\xed\xa0\x80\n\n" PETER_SIG, VG_EFORMAT, "byte 1"},
		{"a\xe2\x80\n\n" PETER_SIG, VG_EFORMAT, "byte 1"}, /* cut */
	};
	char err[256];
	struct note *n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (note_parse(bad[i].msg, strlen(bad[i].msg), &n, err,
			       sizeof(err)) != bad[i].code)
			fail_msg("bad note %zu: not refused with %d (%s)", i,
				 bad[i].code, err);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("bad note %zu: message \"%s\" lacks \"%s\"", i,
				 err, bad[i].why);
	}
	/* An embedded NUL is a control character, not an end. */
	assert_int_equal(note_parse("a\0b\n\n" PETER_SIG, 5 + strlen(PETER_SIG),
				    &n, err, 256),
			 VG_EFORMAT);
	/* Too long. */
	{
		size_t len = NOTE_MAX_SIZE + 1;
		char *big = malloc(len);

		assert_non_null(big);
		memset(big, 'a', len);
		assert_int_equal(note_parse(big, len, &n, err, 256), VG_ELIMIT);
		free(big);
	}
}

static void
test_text_ends_at_the_last_blank_line(void **state)
{
	struct note_verifier peter = vkey(PETER_VKEY);
	struct note *n;
	size_t k;
	char err[256];

	(void)state;
	/* The signed-note spec's example: text with a blank line. */
	n = parse_ok(QUASIMODO);
	assert_string_equal(n->text, "Ognuno sta solo sul cuor della terra\n"
				     "trafitto da un raggio di sole:\n"
				     "\n"
				     "ed \xc3\xa8 subito sera.\n");
	assert_int_equal(n->nsigs, 1);
	assert_string_equal(n->sigs[0].name, "quasimodo.example/salvatore");
	assert_int_equal(n->sigs[0].key_id, 0x367ba04b);
	assert_int_equal(n->sigs[0].sig_len, 64);
	/* No key is published for it: it verifies against nothing. */
	assert_int_equal(note_verify(n, &peter, 1, &k, err, 256), VG_EVERIFY);
	note_free(n);
	/* A blank line among signature lines makes those before it text. */
	n = parse_ok(TEXT "\n" PETER_SIG "\n" ENOCH_SIG);
	assert_string_equal(n->text, TEXT "\n" PETER_SIG);
	assert_int_equal(n->nsigs, 1);
	assert_int_equal(note_verify(n, &peter, 1, &k, err, 256), VG_EVERIFY);
	note_free(n);
	/* The smallest text, and a text that ends in a blank line. */
	n = parse_ok("\n\n" PETER_SIG);
	assert_string_equal(n->text, "\n");
	note_free(n);
	n = parse_ok("a\n\n\n" PETER_SIG);
	assert_string_equal(n->text, "a\n\n");
	note_free(n);
}

/* --- cosignatures ----------------------------------------------------------
 */

static void
test_spec_examples_parse_with_their_ids_and_time(void **state)
{
	struct note *n = parse_ok(COSIGNED);
	uint64_t t;

	(void)state;
	assert_string_equal(n->text, CHECKPOINT_TEXT);
	assert_int_equal(n->nsigs, 2);
	/* tlog-checkpoint's example log signature. */
	assert_string_equal(n->sigs[0].name, "example.com/behind-the-sofa");
	assert_int_equal(n->sigs[0].key_id, 0x033de0ae);
	assert_int_equal(n->sigs[0].sig_len, 64);
	assert_int_equal(note_cosignature_time(&n->sigs[0], &t), VG_EFORMAT);
	/* tlog-cosignature's example: the time of its signed message,
	 * "time 1679315147", in the first 8 bytes. */
	assert_string_equal(n->sigs[1].name, "witness.example.com/w1");
	assert_int_equal(n->sigs[1].key_id, 0x8d66cf3f);
	assert_int_equal(n->sigs[1].sig_len, 72);
	assert_int_equal(note_cosignature_time(&n->sigs[1], &t), 0);
	assert_int_equal(t, 1679315147);
	note_free(n);
	/* transparency-dev/formats' CosignatureTimestamp vector. */
	n = parse_ok(CHECKPOINT_TEXT
		     "\n"
		     "\xe2\x80\x94 w ZGhGuQAAAABm/qTPeyKXD+R2rzyQsx"
		     "PiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8q"
		     "T7S5gxEHWWOworDcFiEBYJXORmnFBOBA==\n");
	assert_int_equal(note_cosignature_time(&n->sigs[0], &t), 0);
	assert_int_equal(t, 1727964367);
	note_free(n);
}

/* Builds the signature line of a cosignature by the raw key sk, over the
 * spec's message bytes, computed here independently of note.c. */
static void
raw_cosign(const uint8_t sk[64], const char *name, uint32_t id, uint64_t t,
	   const char *text, char *line, size_t cap)
{
	uint8_t sig[4 + 8 + 64];
	char msg[1024], b64[128];
	int mlen = snprintf(msg, sizeof(msg), "cosignature/v1\ntime %llu\n%s",
			    (unsigned long long)t, text);

	for (int i = 0; i < 4; i++)
		sig[i] = (uint8_t)(id >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		sig[4 + i] = (uint8_t)(t >> (56 - 8 * i));
	crypto_sign_detached(sig + 12, NULL, (const uint8_t *)msg,
			     (unsigned long long)mlen, sk);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(line, cap, "\xe2\x80\x94 %s %s\n", name, b64);
}

static void
test_cosignatures_sign_and_verify_the_spec_message(void **state)
{
	const char *text = CHECKPOINT_TEXT "ext line\n";
	uint8_t pk[32], sk[64];
	struct note_verifier w, as_ed25519;
	struct note_signer *s;
	char line[NOTE_LINE_MAX], msg[2048], err[256], mine[NOTE_LINE_MAX];
	struct note *n;
	size_t k, len;

	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	crypto_sign_keypair(pk, sk);
	assert_int_equal(note_verifier_new("witness.example/w1",
					   NOTE_COSIGNATURE, pk, &w, err, 256),
			 0);
	/* A cosignature made by hand over the spec's bytes verifies. */
	raw_cosign(sk, w.name, w.key_id, 1679315147, text, line, sizeof(line));
	snprintf(msg, sizeof(msg), "%s\n%s", text, line);
	n = parse_ok(msg);
	assert_int_equal(note_verify(n, &w, 1, &k, err, 256), 0);
	assert_int_equal(n->sigs[0].timestamp, 1679315147);
	note_free(n);
	/* The largest time allowed, and one above it. */
	raw_cosign(sk, w.name, w.key_id, INT64_MAX, text, line, sizeof(line));
	snprintf(msg, sizeof(msg), "%s\n%s", text, line);
	n = parse_ok(msg);
	assert_int_equal(note_verify(n, &w, 1, &k, err, 256), 0);
	note_free(n);
	raw_cosign(sk, w.name, w.key_id, (uint64_t)INT64_MAX + 1, text, line,
		   sizeof(line));
	snprintf(msg, sizeof(msg), "%s\n%s", text, line);
	n = parse_ok(msg);
	assert_int_equal(note_verify(n, &w, 1, &k, err, 256), VG_EVERIFY);
	note_free(n);
	/* The same key as a plain Ed25519 key has another ID: ignored. */
	assert_int_equal(note_verifier_new("witness.example/w1", NOTE_ED25519,
					   pk, &as_ed25519, err, 256),
			 0);
	assert_true(as_ed25519.key_id != w.key_id);

	/* note.c's own cosigner signs the same bytes: same line. */
	{
		uint8_t raw[33] = {NOTE_COSIGNATURE};
		char b64[64], skey[NOTE_KEY_MAX];

		crypto_sign_ed25519_sk_to_seed(raw + 1, sk);
		sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw),
				  sodium_base64_VARIANT_ORIGINAL);
		snprintf(skey, sizeof(skey), "PRIVATE+KEY+%s+%08x+%s", w.name,
			 w.key_id, b64);
		assert_int_equal(
			note_signer_parse(skey, strlen(skey), &s, err, 256), 0);
	}
	assert_int_equal(note_sign_line(s, text, strlen(text), 1700000000, mine,
					&len, err, 256),
			 0);
	raw_cosign(sk, w.name, w.key_id, 1700000000, text, line, sizeof(line));
	assert_string_equal(mine, line);
	assert_int_equal(note_sign_line(s, text, strlen(text),
					(uint64_t)INT64_MAX + 1, mine, &len,
					err, 256),
			 VG_EINVAL);
	/* Extension lines are signed too. */
	snprintf(msg, sizeof(msg), "%s\n%s", text, line);
	msg[strlen(CHECKPOINT_TEXT)] = 'E';
	n = parse_ok(msg);
	assert_int_equal(note_verify(n, &w, 1, &k, err, 256), VG_EVERIFY);
	note_free(n);
	/* A cosignature of the wrong length by a known key is invalid. */
	snprintf(msg, sizeof(msg), "%s\n" PETER_SIG, text);
	n = parse_ok(msg);
	{
		struct note_verifier fake = w;

		snprintf(fake.name, sizeof(fake.name), "PeterNeumann");
		fake.key_id = 0xc74f20a3;
		assert_int_equal(note_verify(n, &fake, 1, &k, err, 256),
				 VG_EVERIFY);
	}
	note_free(n);
	note_signer_free(s);
}

static void
test_log_and_witness_sign_one_checkpoint(void **state)
{
	struct note_signer *log, *wit;
	const struct note_signer *both[2];
	struct note_verifier keys[2];
	char err[256], *out, skey[NOTE_KEY_MAX];
	struct note *n;
	size_t len, k;

	(void)state;
	assert_int_equal(note_signer_generate("example.com/log", NOTE_ED25519,
					      &log, err, 256),
			 0);
	assert_int_equal(note_signer_generate("witness.example/w",
					      NOTE_COSIGNATURE, &wit, err, 256),
			 0);
	note_signer_verifier(log, &keys[0]);
	note_signer_verifier(wit, &keys[1]);
	both[0] = log;
	both[1] = wit;
	assert_int_equal(note_sign(CHECKPOINT_TEXT, strlen(CHECKPOINT_TEXT),
				   both, 2, 1700000001, &out, &len, err, 256),
			 0);
	n = parse_ok(out);
	assert_int_equal(note_verify(n, keys, 2, &k, err, 256), 0);
	assert_int_equal(k, 2);
	assert_int_equal(n->sigs[1].timestamp, 1700000001);
	assert_int_equal(n->sigs[0].timestamp, 0);
	note_free(n);
	free(out);
	/* A generated key survives formatting and parsing. */
	note_signer_format(wit, skey);
	note_signer_free(wit);
	assert_int_equal(note_signer_parse(skey, strlen(skey), &wit, err, 256),
			 0);
	sodium_memzero(skey, sizeof(skey));
	note_signer_verifier(wit, &keys[0]);
	assert_same_key(&keys[0], &keys[1]);
	note_signer_free(wit);
	note_signer_free(log);
}

/* A key "elsewhere": the local signer the callback signs with. */
struct elsewhere {
	const struct note_signer *local;
	int calls;
};

static int
sign_with(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64], char *err,
	  size_t errlen)
{
	struct elsewhere *e = ctx;

	e->calls++;
	return note_sign_bytes(e->local, msg, len, sig, err, errlen);
}

static int
refuse(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64], char *err,
       size_t errlen)
{
	(void)ctx, (void)msg, (void)len, (void)sig;
	return vg_fail(err, errlen, VG_EIO, "the key is elsewhere and gone");
}

static void
test_remote_signer_signs_through_its_callback(void **state)
{
	struct elsewhere ctx = {NULL, 0};
	struct note_signer *local, *remote, *renamed, *dead;
	struct note_verifier v, rv;
	char err[256], skey[NOTE_KEY_MAX], *a = NULL, *b = NULL;
	const struct note_signer *one[1];
	size_t alen, blen;

	(void)state;
	assert_int_equal(note_signer_generate("example.com/log", NOTE_ED25519,
					      &local, err, sizeof(err)),
			 0);
	note_signer_verifier(local, &v);
	ctx.local = local;
	assert_int_equal(note_signer_remote(&v, sign_with, &ctx, &remote, err,
					    sizeof(err)),
			 0);
	note_signer_verifier(remote, &rv);
	assert_memory_equal(&rv, &v, sizeof(v));
	/* Ed25519 is deterministic: the same note, byte for byte. */
	one[0] = local;
	assert_int_equal(note_sign(TEXT, strlen(TEXT), one, 1, 0, &a, &alen,
				   err, sizeof(err)),
			 0);
	one[0] = remote;
	assert_int_equal(note_sign(TEXT, strlen(TEXT), one, 1, 0, &b, &blen,
				   err, sizeof(err)),
			 0);
	assert_int_equal(ctx.calls, 1);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);
	/* A remote key has no key string and cannot be renamed. */
	note_signer_format(remote, skey);
	assert_string_equal(skey, "");
	assert_int_equal(
		note_signer_rename(remote, "x", &renamed, err, sizeof(err)),
		VG_EINVAL);
	/* The callback's failure is the signing's. */
	assert_int_equal(
		note_signer_remote(&v, refuse, NULL, &dead, err, sizeof(err)),
		0);
	one[0] = dead;
	assert_int_equal(note_sign(TEXT, strlen(TEXT), one, 1, 0, &a, &alen,
				   err, sizeof(err)),
			 VG_EIO);
	assert_non_null(strstr(err, "elsewhere"));
	/* A local key renamed: the same key pair under another name. */
	assert_int_equal(note_signer_rename(local, "example.com/other",
					    &renamed, err, sizeof(err)),
			 0);
	note_signer_verifier(renamed, &rv);
	assert_string_equal(rv.name, "example.com/other");
	assert_memory_equal(rv.pub, v.pub, 32);
	assert_int_not_equal(rv.key_id, v.key_id);
	note_signer_free(renamed);
	note_signer_free(dead);
	note_signer_free(remote);
	note_signer_free(local);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_go_keys_parse_and_format_back),
		cmocka_unit_test(test_other_implementations_keys_parse),
		cmocka_unit_test(test_bad_key_strings_are_refused),
		cmocka_unit_test(test_every_mangling_of_a_key_is_refused),
		cmocka_unit_test(test_invalid_points_and_names_are_refused),
		cmocka_unit_test(
			test_signing_reproduces_the_go_note_byte_for_byte),
		cmocka_unit_test(
			test_verify_checks_known_keys_and_ignores_unknown),
		cmocka_unit_test(test_signature_count_limit),
		cmocka_unit_test(test_bad_notes_are_refused),
		cmocka_unit_test(test_text_ends_at_the_last_blank_line),
		cmocka_unit_test(
			test_spec_examples_parse_with_their_ids_and_time),
		cmocka_unit_test(
			test_cosignatures_sign_and_verify_the_spec_message),
		cmocka_unit_test(test_log_and_witness_sign_one_checkpoint),
		cmocka_unit_test(test_remote_signer_signs_through_its_callback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
