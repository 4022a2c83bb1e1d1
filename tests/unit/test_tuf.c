/*
 * test_tuf.c - TUF manifests (src/release/tuf.c, docs/RELEASES.md).
 *
 * Known answers were computed apart from this code, with Python's json
 * (sort_keys, compact separators, ensure_ascii off: the same bytes as
 * TUF's canonical JSON for strings without control characters), hashlib
 * and the cryptography package's Ed25519 over those bytes: the canonical
 * encoding of a nested document, a key ID, and the signature of a
 * targets manifest by a key of seed 07...07.
 *
 * The rest builds real roots and manifests with keys of fixed seeds and
 * checks each refusal the specification asks for, with its class and the
 * words of its message.
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
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/hex.h"
#include "release/tuf.h"

/* A time in 2027 that every test manifest expires at. */
#define EXPIRES INT64_C(1803686400) /* 2027-02-27T00:00:00Z */
#define NOW     (EXPIRES - 86400)

struct key {
	uint8_t pk[32], sk[64];
	char id[TUF_KEYID_LEN];
};

static void
key_make(struct key *k, uint8_t seedbyte)
{
	uint8_t seed[32];

	memset(seed, seedbyte, sizeof(seed));
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	tuf_key_id(k->pk, k->id);
}

/* The canonical JSON of v, as a string the caller frees. */
static char *
cj(const json_t *v)
{
	char *out;
	size_t len;

	assert_int_equal(tuf_cjson(v, &out, &len), 0);
	assert_int_equal(strlen(out), len);
	return out;
}

static void
assert_cjson(const char *json, const char *want)
{
	json_error_t jerr;
	json_t *v = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	char *out;

	if (v == NULL)
		fail_msg("json_loads: %s", jerr.text);
	out = cj(v);
	assert_string_equal(out, want);
	free(out);
	json_decref(v);
}

static void
assert_cjson_refused(json_t *v)
{
	char *out = (char *)"untouched";
	size_t len = 1;

	assert_int_equal(tuf_cjson(v, &out, &len), VG_EFORMAT);
	assert_null(out);
	json_decref(v);
}

static void
add_keys(json_t *keys, json_t *ids, struct key *const *ks, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_object_set_new(keys, ks[i]->id, tuf_key_json(ks[i]->pk));
		json_array_append_new(ids, json_string(ks[i]->id));
	}
}

static json_t *
role_json(json_t *keys, struct key *const *ks, size_t n, int threshold)
{
	json_t *ids = json_array();

	add_keys(keys, ids, ks, n);
	return json_pack("{s:o, s:i}", "keyids", ids, "threshold", threshold);
}

static json_t *
common_signed(const char *type, uint64_t version)
{
	char exp[21];

	tuf_time_format(EXPIRES, exp);
	return json_pack("{s:s, s:s, s:s, s:I}", "_type", type, "expires", exp,
			 "spec_version", TUF_SPEC_VERSION, "version",
			 (json_int_t)version);
}

/* A root's "signed": root keys rk (threshold rt), targets keys tk
 * (threshold tt), and the online key for snapshot and timestamp. */
static json_t *
root_signed(uint64_t version, struct key *const *rk, size_t nr, int rt,
	    struct key *const *tk, size_t nt, int tt, struct key *online)
{
	json_t *s = common_signed("root", version), *keys = json_object();
	json_t *roles = json_object();

	json_object_set_new(roles, "root", role_json(keys, rk, nr, rt));
	json_object_set_new(roles, "targets", role_json(keys, tk, nt, tt));
	json_object_set_new(roles, "snapshot", role_json(keys, &online, 1, 1));
	json_object_set_new(roles, "timestamp", role_json(keys, &online, 1, 1));
	json_object_set_new(s, "keys", keys);
	json_object_set_new(s, "roles", roles);
	json_object_set_new(s, "consistent_snapshot", json_false());
	return s;
}

static const char hello_sha256[] =
	"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

static json_t *
targets_signed(uint64_t version)
{
	json_t *s = common_signed("targets", version), *t = json_object();

	json_object_set_new(
		t, "rules/vigil-rules-7.json",
		tuf_target_json("hello", 5,
				json_pack("{s:s, s:s}", "kind", "rules",
					  "version", "7")));
	json_object_set_new(t, "a.txt", tuf_target_json("hello", 5, NULL));
	json_object_set_new(s, "targets", t);
	return s;
}

static void
meta_new_ok(json_t *s, enum tuf_role role, struct tuf_meta *m)
{
	struct tuf_result r;

	if (tuf_meta_new(s, role, m, &r) != 0)
		fail_msg("tuf_meta_new: %s", r.msg);
}

static void
sign_all(struct tuf_meta *m, struct key *const *ks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tuf_meta_sign(m, ks[i]->sk), 0);
}

/* Encodes m and parses it back into out, as a client reads the file. */
static void
round_trip(const struct tuf_meta *m, struct tuf_meta *out)
{
	struct tuf_result r;
	char *buf, *again;
	size_t len, len2;

	assert_int_equal(tuf_meta_encode(m, &buf, &len), 0);
	if (tuf_meta_parse(buf, len, m->role, out, &r) != 0)
		fail_msg("tuf_meta_parse: %s", r.msg);
	assert_int_equal(tuf_meta_encode(out, &again, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, again, len);
	free(buf);
	free(again);
}

/* Dumps doc (taken) as plain JSON and parses it as a manifest of role. */
static int
reparse(json_t *doc, enum tuf_role role, struct tuf_result *r)
{
	char *text = json_dumps(doc, JSON_INDENT(1));
	struct tuf_meta m;
	int rc;

	assert_non_null(text);
	rc = tuf_meta_parse(text, strlen(text), role, &m, r);
	tuf_meta_clear(&m);
	free(text);
	json_decref(doc);
	return rc;
}

static void
assert_msg_has(const struct tuf_result *r, const char *words)
{
	if (strstr(r->msg, words) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", r->msg, words);
}

/* Three root keys, two targets keys, the online key, an outsider. */
static struct key ka, kb, kc, kt1, kt2, kon, kx;

static int
setup_keys(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	key_make(&ka, 1);
	key_make(&kb, 2);
	key_make(&kc, 3);
	key_make(&kt1, 4);
	key_make(&kt2, 5);
	key_make(&kon, 6);
	key_make(&kx, 9);
	return 0;
}

/* Root version 1: root keys a, b, c (2 needed), targets t1, t2 (2
 * needed), signed by a and b. */
static void
root_v1(struct tuf_meta *m)
{
	struct key *rk[] = {&ka, &kb, &kc}, *tk[] = {&kt1, &kt2};
	struct key *signers[] = {&ka, &kb};

	meta_new_ok(root_signed(1, rk, 3, 2, tk, 2, 2, &kon), TUF_ROOT, m);
	sign_all(m, signers, 2);
}

/* ---- canonical JSON ---- */

static void
test_cjson_sorts_members_by_bytes(void **state)
{
	(void)state;
	assert_cjson("{\"b\":1,\"ab\":2,\"a\":3,\"B\":4,\"aa\":5,\"\":6}",
		     "{\"\":6,\"B\":4,\"a\":3,\"aa\":5,\"ab\":2,\"b\":1}");
}

static void
test_cjson_nested_known_answer(void **state)
{
	(void)state;
	/* Python: json.dumps(o, sort_keys=True, separators=(',', ':'),
	 * ensure_ascii=False).encode() */
	assert_cjson("{ \"b\": 1, \"aa\": [ {\"z\": null, \"y\": false} ],\n"
		     "  \"a\": {\"d\": [true, false, null],"
		     " \"c\": \"x\\\"y\\\\z\\/\"},\n"
		     "  \"\\u00e9\": \"\\u00fc\\u20ac\\ud83d\\ude00\\u007f\","
		     "  \"B\": 0, \"ab\": 9007199254740991 }",
		     "{\"B\":0,\"a\":{\"c\":\"x\\\"y\\\\z/\",\"d\":[true,"
		     "false,null]},\"aa\":[{\"y\":false,\"z\":null}],"
		     "\"ab\":9007199254740991,\"b\":1,\"\xc3\xa9\":"
		     "\"\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"}");
}

static void
test_cjson_escapes_only_quote_and_backslash(void **state)
{
	(void)state;
	assert_cjson("[\"\\\"\\\\/'<>&\"]", "[\"\\\"\\\\/'<>&\"]");
}

static void
test_cjson_keeps_raw_utf8(void **state)
{
	json_t *v =
		json_string("gr\xc3\xbc\xc3\x9f \xe2\x80\x94 \xf0\x9f\x94\x91");
	char *out = cj(v);

	(void)state;
	assert_string_equal(out, "\"gr\xc3\xbc\xc3\x9f \xe2\x80\x94 "
				 "\xf0\x9f\x94\x91\"");
	free(out);
	json_decref(v);
}

static void
test_cjson_empty_containers(void **state)
{
	(void)state;
	assert_cjson("{\"a\":{},\"b\":[],\"c\":\"\"}",
		     "{\"a\":{},\"b\":[],\"c\":\"\"}");
}

static void
test_cjson_refuses_real(void **state)
{
	(void)state;
	assert_cjson_refused(json_pack("{s:f}", "a", 1.0));
	assert_cjson_refused(json_pack("[f]", 0.5));
}

static void
test_cjson_refuses_negative(void **state)
{
	(void)state;
	assert_cjson_refused(json_pack("{s:I}", "a", (json_int_t)-1));
}

static void
test_cjson_integer_limit_is_2_53_minus_1(void **state)
{
	json_t *ok = json_integer((json_int_t)TUF_INT_MAX);
	char *out = cj(ok);

	(void)state;
	assert_string_equal(out, "9007199254740991");
	free(out);
	json_decref(ok);
	assert_cjson_refused(json_integer((json_int_t)TUF_INT_MAX + 1));
}

static void
test_cjson_refuses_nul(void **state)
{
	(void)state;
	assert_cjson_refused(json_stringn("a\0b", 3));
}

static void
test_cjson_refuses_invalid_utf8(void **state)
{
	(void)state;
	/* A lone continuation, an overlong '/', a surrogate, past U+10FFFF,
	 * a truncated sequence, and bad bytes in a member name. */
	assert_cjson_refused(json_stringn_nocheck("\x80", 1));
	assert_cjson_refused(json_stringn_nocheck("\xc0\xaf", 2));
	assert_cjson_refused(json_stringn_nocheck("\xed\xa0\x80", 3));
	assert_cjson_refused(json_stringn_nocheck("\xf4\x90\x80\x80", 4));
	assert_cjson_refused(json_stringn_nocheck("\xe2\x82", 2));
	json_t *o = json_object();
	json_object_set_new_nocheck(o, "\xff", json_true());
	assert_cjson_refused(o);
}

static void
test_cjson_refuses_control_character(void **state)
{
	(void)state;
	assert_cjson_refused(json_string("line\nbreak"));
}

static void
test_meta_parse_refuses_duplicate_member(void **state)
{
	static const char text[] =
		"{\"signatures\":[],\"signed\":{\"_type\":\"timestamp\","
		"\"version\":1,\"version\":2}}";
	struct tuf_result r;
	struct tuf_meta m;

	(void)state;
	assert_int_equal(
		tuf_meta_parse(text, sizeof(text) - 1, TUF_TIMESTAMP, &m, &r),
		VG_EFORMAT);
	assert_int_equal(r.fail, TUF_FAIL_FORMAT);
	assert_msg_has(&r, "duplicate");
	assert_null(m.doc);
}

/* Values a manifest's JSON may hold but its canonical form may not. */
static void
test_meta_parse_refuses_non_canonical_values(void **state)
{
	static const char *const custom[] = {
		"{\"n\":1.5}",
		"{\"n\":-3}",
		"{\"n\":9007199254740992}",
		"{\"s\":\"a\\u0000b\"}",
		"{\"s\":\"tab\\there\"}",
	};
	struct tuf_meta m;
	struct tuf_result r;

	(void)state;
	for (size_t i = 0; i < sizeof(custom) / sizeof(custom[0]); i++) {
		json_t *doc, *c = json_loads(custom[i], JSON_ALLOW_NUL, NULL);

		assert_non_null(c);
		meta_new_ok(targets_signed(1), TUF_TARGETS, &m);
		doc = json_deep_copy(m.doc);
		tuf_meta_clear(&m);
		json_object_set_new(
			json_object_get(
				json_object_get(json_object_get(doc, "signed"),
						"targets"),
				"a.txt"),
			"custom", c);
		assert_int_equal(reparse(doc, TUF_TARGETS, &r), VG_EFORMAT);
		assert_int_equal(r.fail, TUF_FAIL_FORMAT);
	}
}

static void
test_meta_parse_refuses_invalid_utf8(void **state)
{
	static const char text[] =
		"{\"signatures\":[],\"signed\":{\"_type\":\"ro\xc3\"}}";
	struct tuf_result r;
	struct tuf_meta m;

	(void)state;
	assert_int_equal(
		tuf_meta_parse(text, sizeof(text) - 1, TUF_ROOT, &m, &r),
		VG_EFORMAT);
	assert_msg_has(&r, "root.json: not JSON");
}

/* ---- keys ---- */

static void
test_key_id_known_answer(void **state)
{
	char id[TUF_KEYID_LEN], pubhex[65];
	json_t *key;
	char *out;

	(void)state;
	struct key k;
	key_make(&k, 7);
	hex_encode(k.pk, 32, pubhex);
	assert_string_equal(pubhex, "ea4a6c63e29c520abef5507b132ec5f9954776ae"
				    "bebe7b92421eea691446d22c");
	tuf_key_id(k.pk, id);
	/* hashlib.sha256(canonical key object).hexdigest() */
	assert_string_equal(id, "bfe1a83869e5bf574e3ff3acbb83f840de84a990d100"
				"59f3096f0bf4f2b90c10");
	key = tuf_key_json(k.pk);
	out = cj(key);
	assert_string_equal(out, "{\"keytype\":\"ed25519\",\"keyval\":{"
				 "\"public\":\"ea4a6c63e29c520abef5507b132ec5"
				 "f9954776aebebe7b92421eea691446d22c\"},"
				 "\"scheme\":\"ed25519\"}");
	free(out);
	json_decref(key);
}

static void
test_key_parse_strict(void **state)
{
	struct tuf_result r;
	uint8_t pub[32];
	json_t *k;

	(void)state;
	k = tuf_key_json(ka.pk);
	assert_int_equal(tuf_key_parse(k, pub, &r), 0);
	assert_memory_equal(pub, ka.pk, 32);
	json_object_set_new(k, "keyid_hash_algorithms", json_array());
	assert_int_equal(tuf_key_parse(k, pub, &r), VG_EFORMAT);
	assert_msg_has(&r, "unknown member \"keyid_hash_algorithms\"");
	json_decref(k);

	k = tuf_key_json(ka.pk);
	json_object_set_new(k, "scheme", json_string("rsassa-pss-sha256"));
	assert_int_equal(tuf_key_parse(k, pub, &r), VG_EFORMAT);
	json_decref(k);

	k = tuf_key_json(ka.pk);
	json_object_set_new(json_object_get(k, "keyval"), "public",
			    json_string("EA4A6C63E29C520ABEF5507B132EC5F99547"
					"76AEBEBE7B92421EEA691446D22C"));
	assert_int_equal(tuf_key_parse(k, pub, &r), VG_EFORMAT);
	assert_msg_has(&r, "lowercase hex");
	json_decref(k);
}

/* ---- signing and verifying ---- */

static void
test_sign_known_answer(void **state)
{
	struct key k;
	struct tuf_meta m;
	json_t *s, *t = json_object();
	const json_t *sig;

	(void)state;
	key_make(&k, 7);
	s = json_pack("{s:s, s:s, s:s, s:I}", "_type", "targets", "expires",
		      "2030-01-01T00:00:00Z", "spec_version", "1.0.31",
		      "version", (json_int_t)1);
	json_object_set_new(t, "a.txt", tuf_target_json("hello", 5, NULL));
	json_object_set_new(s, "targets", t);
	meta_new_ok(s, TUF_TARGETS, &m);
	assert_int_equal(tuf_meta_sign(&m, k.sk), 0);
	sig = json_array_get(json_object_get(m.doc, "signatures"), 0);
	assert_string_equal(json_string_value(json_object_get(sig, "keyid")),
			    "bfe1a83869e5bf574e3ff3acbb83f840de84a990d10059f3"
			    "096f0bf4f2b90c10");
	/* cryptography's Ed25519PrivateKey(07..07).sign(canonical signed) */
	assert_string_equal(json_string_value(json_object_get(sig, "sig")),
			    "00fca460f2bdbc652e5386336443bcb9cb26729137f830e9"
			    "45dfd0983b6bb7b645abf7bdf913a73676f0bbaabb672532"
			    "28732e4dd4731dc92047bf495faa420b");
	tuf_meta_clear(&m);
}

static void
test_sign_verify_round_trip(void **state)
{
	struct key *tk[] = {&kt1, &kt2};
	struct tuf_meta root, m, back;
	struct tuf_result r;

	(void)state;
	root_v1(&root);
	meta_new_ok(targets_signed(3), TUF_TARGETS, &m);
	sign_all(&m, tk, 2);
	round_trip(&m, &back);
	assert_int_equal(back.version, 3);
	assert_int_equal(back.expires, EXPIRES);
	assert_int_equal(tuf_verify_role(&root, &back, &r), 0);
	assert_int_equal(r.fail, TUF_OK);
	tuf_meta_clear(&back);
	tuf_meta_clear(&m);
	tuf_meta_clear(&root);
}

static void
test_sign_replaces_own_signature(void **state)
{
	struct tuf_meta m;

	(void)state;
	meta_new_ok(targets_signed(1), TUF_TARGETS, &m);
	assert_int_equal(tuf_meta_sign(&m, kt1.sk), 0);
	assert_int_equal(tuf_meta_sign(&m, kt1.sk), 0);
	assert_int_equal(json_array_size(json_object_get(m.doc, "signatures")),
			 1);
	tuf_meta_clear(&m);
}

static void
test_unknown_key_signature_does_not_count(void **state)
{
	struct tuf_meta root, m;
	struct tuf_result r;
	char want[128];

	(void)state;
	root_v1(&root);
	meta_new_ok(targets_signed(1), TUF_TARGETS, &m);
	assert_int_equal(tuf_meta_sign(&m, kt1.sk), 0);
	assert_int_equal(tuf_meta_sign(&m, kx.sk), 0);
	assert_int_equal(tuf_verify_role(&root, &m, &r), VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_SIGNATURE);
	assert_msg_has(&r, "targets.json: 1 good signature of the 2 needed "
			   "(threshold of role targets)");
	snprintf(want, sizeof(want),
		 "key %.8s\xe2\x80\xa6 signed but is not a key of role targets",
		 kx.id);
	assert_msg_has(&r, want);
	tuf_meta_clear(&m);
	tuf_meta_clear(&root);
}

/* The online key is in the root, but not a key of role targets. */
static void
test_key_of_another_role_does_not_count(void **state)
{
	struct tuf_meta root, m;
	struct tuf_result r;

	(void)state;
	root_v1(&root);
	meta_new_ok(targets_signed(1), TUF_TARGETS, &m);
	assert_int_equal(tuf_meta_sign(&m, kt1.sk), 0);
	assert_int_equal(tuf_meta_sign(&m, kon.sk), 0);
	assert_int_equal(tuf_verify_role(&root, &m, &r), VG_EVERIFY);
	assert_msg_has(&r, "is not a key of role targets");
	tuf_meta_clear(&m);
	tuf_meta_clear(&root);
}

static void
test_bad_signature_does_not_count(void **state)
{
	struct key *tk[] = {&kt1, &kt2};
	struct tuf_meta root, m;
	struct tuf_result r;
	json_t *sig;
	char *hex, want[64];

	(void)state;
	root_v1(&root);
	meta_new_ok(targets_signed(1), TUF_TARGETS, &m);
	sign_all(&m, tk, 2);
	sig = json_array_get(json_object_get(m.doc, "signatures"), 1);
	hex = strdup(json_string_value(json_object_get(sig, "sig")));
	hex[10] = hex[10] == '0' ? '1' : '0';
	json_object_set_new(sig, "sig", json_string(hex));
	free(hex);
	assert_int_equal(tuf_verify_role(&root, &m, &r), VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_SIGNATURE);
	snprintf(want, sizeof(want), "key %.8s\xe2\x80\xa6: bad signature",
		 kt2.id);
	assert_msg_has(&r, want);
	tuf_meta_clear(&m);
	tuf_meta_clear(&root);
}

/* A signature over other bytes (a later version) does not verify. */
static void
test_signature_over_other_content_is_bad(void **state)
{
	struct key *tk[] = {&kt1, &kt2};
	struct tuf_meta root, m;
	struct tuf_result r;

	(void)state;
	root_v1(&root);
	meta_new_ok(targets_signed(1), TUF_TARGETS, &m);
	sign_all(&m, tk, 2);
	json_object_set_new(m.signed_, "version", json_integer(2));
	assert_int_equal(tuf_verify_role(&root, &m, &r), VG_EVERIFY);
	assert_msg_has(&r, "0 good signatures of the 2 needed");
	tuf_meta_clear(&m);
	tuf_meta_clear(&root);
}

static void
test_same_key_twice_counts_once(void **state)
{
	struct tuf_meta root, m, back;
	struct tuf_result r;
	json_t *sigs;

	(void)state;
	root_v1(&root);
	meta_new_ok(targets_signed(1), TUF_TARGETS, &m);
	assert_int_equal(tuf_meta_sign(&m, kt1.sk), 0);
	sigs = json_object_get(m.doc, "signatures");
	json_array_append_new(sigs, json_deep_copy(json_array_get(sigs, 0)));
	/* The file with the signature twice parses; it still counts once. */
	round_trip(&m, &back);
	assert_int_equal(
		json_array_size(json_object_get(back.doc, "signatures")), 2);
	assert_int_equal(tuf_verify_role(&root, &back, &r), VG_EVERIFY);
	assert_msg_has(&r, "1 good signature of the 2 needed");
	assert_msg_has(&r, "signed again (counted once)");
	tuf_meta_clear(&back);
	tuf_meta_clear(&m);
	tuf_meta_clear(&root);
}

static void
test_below_threshold(void **state)
{
	struct tuf_meta root, m;
	struct tuf_result r;

	(void)state;
	root_v1(&root);
	meta_new_ok(targets_signed(1), TUF_TARGETS, &m);
	assert_int_equal(tuf_verify_role(&root, &m, &r), VG_EVERIFY);
	assert_string_equal(r.msg, "targets.json: 0 good signatures of the 2 "
				   "needed (threshold of role targets)");
	assert_int_equal(tuf_meta_sign(&m, kt2.sk), 0);
	assert_int_equal(tuf_verify_role(&root, &m, &r), VG_EVERIFY);
	assert_string_equal(r.msg, "targets.json: 1 good signature of the 2 "
				   "needed (threshold of role targets)");
	assert_int_equal(tuf_meta_sign(&m, kt1.sk), 0);
	assert_int_equal(tuf_verify_role(&root, &m, &r), 0);
	tuf_meta_clear(&m);
	tuf_meta_clear(&root);
}

static void
test_online_key_signs_snapshot_and_timestamp(void **state)
{
	struct tuf_meta root, snap, ts;
	struct tuf_result r;
	json_t *s, *meta;

	(void)state;
	root_v1(&root);
	s = common_signed("snapshot", 4);
	meta = json_object();
	json_object_set_new(meta, "targets.json", tuf_meta_ref_json(1, "x", 1));
	json_object_set_new(s, "meta", meta);
	meta_new_ok(s, TUF_SNAPSHOT, &snap);
	assert_int_equal(tuf_meta_sign(&snap, kon.sk), 0);
	assert_int_equal(tuf_verify_role(&root, &snap, &r), 0);
	s = common_signed("timestamp", 9);
	meta = json_object();
	json_object_set_new(meta, "snapshot.json",
			    tuf_meta_ref_json(4, "y", 1));
	json_object_set_new(s, "meta", meta);
	meta_new_ok(s, TUF_TIMESTAMP, &ts);
	/* A root key is not the online key. */
	assert_int_equal(tuf_meta_sign(&ts, ka.sk), 0);
	assert_int_equal(tuf_verify_role(&root, &ts, &r), VG_EVERIFY);
	assert_msg_has(&r, "timestamp.json: 0 good signatures of the 1 "
			   "needed (threshold of role timestamp)");
	tuf_meta_clear(&ts);
	tuf_meta_clear(&snap);
	tuf_meta_clear(&root);
}

static void
test_signers(void **state)
{
	struct key *tk[] = {&kt1, &kx};
	char ids[TUF_SIGS_MAX][TUF_KEYID_LEN];
	struct tuf_meta root, m;
	size_t n;

	(void)state;
	root_v1(&root);
	assert_int_equal(tuf_meta_signers(&root, ids, TUF_SIGS_MAX, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], ka.id);
	assert_string_equal(ids[1], kb.id);
	meta_new_ok(targets_signed(1), TUF_TARGETS, &m);
	sign_all(&m, tk, 2);
	assert_int_equal(tuf_meta_signers(&m, ids, TUF_SIGS_MAX, &n),
			 VG_EINVAL);
	assert_int_equal(tuf_meta_signers_in(&root, &m, ids, TUF_SIGS_MAX, &n),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], kt1.id);
	tuf_meta_clear(&m);
	tuf_meta_clear(&root);
}

/* ---- root rotation ---- */

static void
test_root_next_version_must_be_exactly_one_more(void **state)
{
	struct key *rk[] = {&ka, &kb, &kc}, *tk[] = {&kt1, &kt2};
	struct key *signers[] = {&ka, &kb};
	struct tuf_meta v1, next;
	struct tuf_result r;
	const uint64_t versions[] = {1, 3};

	(void)state;
	root_v1(&v1);
	for (size_t i = 0; i < 2; i++) {
		meta_new_ok(root_signed(versions[i], rk, 3, 2, tk, 2, 2, &kon),
			    TUF_ROOT, &next);
		sign_all(&next, signers, 2);
		assert_int_equal(tuf_root_next(&v1, &next, &r), VG_EVERIFY);
		assert_int_equal(r.fail, TUF_FAIL_ROLLBACK);
		assert_msg_has(&r, "must be version 2");
		tuf_meta_clear(&next);
	}
	meta_new_ok(root_signed(2, rk, 3, 2, tk, 2, 2, &kon), TUF_ROOT, &next);
	sign_all(&next, signers, 2);
	assert_int_equal(tuf_root_next(&v1, &next, &r), 0);
	tuf_meta_clear(&next);
	tuf_meta_clear(&v1);
}

static void
test_root_next_needs_old_threshold(void **state)
{
	/* Root 2 names new keys x and c only; c alone is below root 1's
	 * threshold of 2, though root 2's own threshold is met. */
	struct key *rk[] = {&kx, &kc}, *tk[] = {&kt1, &kt2};
	struct key *signers[] = {&kx, &kc};
	struct tuf_meta v1, next;
	struct tuf_result r;

	(void)state;
	root_v1(&v1);
	meta_new_ok(root_signed(2, rk, 2, 2, tk, 2, 2, &kon), TUF_ROOT, &next);
	sign_all(&next, signers, 2);
	assert_int_equal(tuf_root_next(&v1, &next, &r), VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_SIGNATURE);
	assert_msg_has(&r,
		       "2.root.json: 1 good signature of the 2 needed "
		       "(threshold of role root in trusted root version 1)");
	tuf_meta_clear(&next);
	tuf_meta_clear(&v1);
}

static void
test_root_next_needs_new_threshold(void **state)
{
	/* Root 2 adds x and needs 3 of a, b, x: a and b satisfy root 1 but
	 * not root 2. */
	struct key *rk[] = {&ka, &kb, &kx}, *tk[] = {&kt1, &kt2};
	struct key *signers[] = {&ka, &kb};
	struct tuf_meta v1, next;
	struct tuf_result r;

	(void)state;
	root_v1(&v1);
	meta_new_ok(root_signed(2, rk, 3, 3, tk, 2, 2, &kon), TUF_ROOT, &next);
	sign_all(&next, signers, 2);
	assert_int_equal(tuf_root_next(&v1, &next, &r), VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_SIGNATURE);
	assert_msg_has(&r, "2 good signatures of the 3 needed (threshold of "
			   "role root in the new root version 2)");
	assert_int_equal(tuf_meta_sign(&next, kx.sk), 0);
	assert_int_equal(tuf_root_next(&v1, &next, &r), 0);
	tuf_meta_clear(&next);
	tuf_meta_clear(&v1);
}

static void
test_root_rotation_removes_compromised_key(void **state)
{
	/* Root 1: targets keys t1, t2 (1 needed). t2 is compromised; root
	 * 2 names only t1, and the root keys a and b sign it. */
	struct key *rk[] = {&ka, &kb, &kc}, *tk1[] = {&kt1, &kt2};
	struct key *tk2[] = {&kt1}, *signers[] = {&ka, &kb};
	struct tuf_meta v1, v2, v2file, evil;
	struct tuf_result r;

	(void)state;
	meta_new_ok(root_signed(1, rk, 3, 2, tk1, 2, 1, &kon), TUF_ROOT, &v1);
	sign_all(&v1, signers, 2);
	meta_new_ok(root_signed(2, rk, 3, 2, tk2, 1, 1, &kon), TUF_ROOT, &v2);
	sign_all(&v2, signers, 2);
	round_trip(&v2, &v2file);
	assert_int_equal(tuf_root_next(&v1, &v2file, &r), 0);

	meta_new_ok(targets_signed(5), TUF_TARGETS, &evil);
	assert_int_equal(tuf_meta_sign(&evil, kt2.sk), 0);
	assert_int_equal(tuf_verify_role(&v1, &evil, &r), 0);
	assert_int_equal(tuf_verify_role(&v2file, &evil, &r), VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_SIGNATURE);
	assert_msg_has(&r, "signed but is not a key of role targets");
	/* The key that stayed still signs. */
	assert_int_equal(tuf_meta_sign(&evil, kt1.sk), 0);
	assert_int_equal(tuf_verify_role(&v2file, &evil, &r), 0);
	tuf_meta_clear(&evil);
	tuf_meta_clear(&v2file);
	tuf_meta_clear(&v2);
	tuf_meta_clear(&v1);
}

static void
test_root_rotation_removes_compromised_root_key(void **state)
{
	/* Root 2 replaces root key c by x; root 3 signed with c cannot
	 * reach root 2's threshold. */
	struct key *rk2[] = {&ka, &kb, &kx}, *rk3[] = {&ka, &kc, &kx};
	struct key *tk[] = {&kt1, &kt2}, *s2[] = {&ka, &kb, &kx};
	struct key *s3[] = {&kc, &kx, &ka};
	struct tuf_meta v1, v2, v3;
	struct tuf_result r;

	(void)state;
	root_v1(&v1);
	meta_new_ok(root_signed(2, rk2, 3, 2, tk, 2, 2, &kon), TUF_ROOT, &v2);
	sign_all(&v2, s2, 3);
	assert_int_equal(tuf_root_next(&v1, &v2, &r), 0);
	meta_new_ok(root_signed(3, rk3, 3, 2, tk, 2, 2, &kon), TUF_ROOT, &v3);
	sign_all(&v3, s3, 1);
	assert_int_equal(tuf_meta_sign(&v3, kx.sk), 0);
	/* c and x: only x counts for root 2 (c is gone), so 1 of 2. */
	assert_int_equal(tuf_root_next(&v2, &v3, &r), VG_EVERIFY);
	assert_msg_has(&r, "1 good signature of the 2 needed (threshold of "
			   "role root in trusted root version 2)");
	tuf_meta_clear(&v3);
	tuf_meta_clear(&v2);
	tuf_meta_clear(&v1);
}

/* ---- expiry, rollback, mix-and-match ---- */

static void
test_expiry_at_and_after_the_instant(void **state)
{
	struct tuf_meta m;
	struct tuf_result r;

	(void)state;
	meta_new_ok(targets_signed(1), TUF_TARGETS, &m);
	assert_int_equal(tuf_check_expiry(&m, EXPIRES - 1, &r), 0);
	assert_int_equal(tuf_check_expiry(&m, EXPIRES, &r), VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_EXPIRED);
	assert_string_equal(r.msg, "targets.json: version 1 expired at "
				   "2027-02-27T00:00:00Z (now "
				   "2027-02-27T00:00:00Z)");
	assert_int_equal(tuf_check_expiry(&m, EXPIRES + 3600, &r), VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_EXPIRED);
	assert_msg_has(&r, "(now 2027-02-27T01:00:00Z)");
	tuf_meta_clear(&m);
}

static void
test_version_rollback(void **state)
{
	struct tuf_meta m;
	struct tuf_result r;

	(void)state;
	meta_new_ok(targets_signed(6), TUF_TARGETS, &m);
	assert_int_equal(tuf_check_version(&m, 6, &r), 0);
	assert_int_equal(tuf_check_version(&m, 5, &r), 0);
	assert_int_equal(tuf_check_version(&m, 7, &r), VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_ROLLBACK);
	assert_string_equal(r.msg, "targets.json: version 6 is older than "
				   "the trusted version 7");
	tuf_meta_clear(&m);
}

/* A targets manifest (version 7) as a file, and a snapshot naming it
 * with the given version. */
static void
snapshot_of(struct tuf_meta *targets, char **file, size_t *len,
	    struct tuf_meta *snap, uint64_t says_version)
{
	json_t *s = common_signed("snapshot", 2), *meta = json_object();

	meta_new_ok(targets_signed(7), TUF_TARGETS, targets);
	assert_int_equal(tuf_meta_encode(targets, file, len), 0);
	json_object_set_new(meta, "targets.json",
			    tuf_meta_ref_json(says_version, *file, *len));
	json_object_set_new(s, "meta", meta);
	meta_new_ok(s, TUF_SNAPSHOT, snap);
}

static void
test_meta_ref_matches(void **state)
{
	struct tuf_meta t, snap;
	struct tuf_result r;
	uint64_t v, l;
	uint8_t h[32], want[32];
	char *file;
	size_t len;

	(void)state;
	snapshot_of(&t, &file, &len, &snap, 7);
	assert_int_equal(tuf_meta_ref(&snap, &v, &l, h), 0);
	assert_int_equal(v, 7);
	assert_int_equal(l, len);
	crypto_hash_sha256(want, (const unsigned char *)file, len);
	assert_memory_equal(h, want, 32);
	assert_int_equal(tuf_check_meta_ref(&snap, file, len, &t, &r), 0);
	/* A targets manifest names no child. */
	assert_int_equal(tuf_meta_ref(&t, &v, &l, h), VG_EINVAL);
	free(file);
	tuf_meta_clear(&snap);
	tuf_meta_clear(&t);
}

static void
test_meta_ref_length_mismatch(void **state)
{
	struct tuf_meta t, snap;
	struct tuf_result r;
	char *file, *longer, want[128];
	size_t len;

	(void)state;
	snapshot_of(&t, &file, &len, &snap, 7);
	longer = malloc(len + 1);
	memcpy(longer, file, len);
	longer[len] = '\n';
	assert_int_equal(tuf_check_meta_ref(&snap, longer, len + 1, &t, &r),
			 VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_MISMATCH);
	snprintf(want, sizeof(want),
		 "targets.json: %zu bytes, but snapshot.json says %zu", len + 1,
		 len);
	assert_string_equal(r.msg, want);
	free(longer);
	free(file);
	tuf_meta_clear(&snap);
	tuf_meta_clear(&t);
}

static void
test_meta_ref_hash_mismatch(void **state)
{
	struct tuf_meta t, snap;
	struct tuf_result r;
	char *file;
	size_t len;

	(void)state;
	snapshot_of(&t, &file, &len, &snap, 7);
	file[len - 2] ^= 1;
	assert_int_equal(tuf_check_meta_ref(&snap, file, len, &t, &r),
			 VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_MISMATCH);
	assert_msg_has(&r, "targets.json: SHA-256 ");
	assert_msg_has(&r, ", but snapshot.json says ");
	free(file);
	tuf_meta_clear(&snap);
	tuf_meta_clear(&t);
}

static void
test_meta_ref_version_mismatch(void **state)
{
	struct tuf_meta t, snap;
	struct tuf_result r;
	char *file;
	size_t len;

	(void)state;
	snapshot_of(&t, &file, &len, &snap, 8);
	assert_int_equal(tuf_check_meta_ref(&snap, file, len, &t, &r),
			 VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_MISMATCH);
	assert_string_equal(r.msg, "targets.json: version 7, but "
				   "snapshot.json says 8");
	free(file);
	tuf_meta_clear(&snap);
	tuf_meta_clear(&t);
}

/* ---- targets and artifacts ---- */

static void
test_targets_in_name_order(void **state)
{
	struct tuf_meta m, back;
	struct tuf_target t;
	char hex[65];

	(void)state;
	meta_new_ok(targets_signed(1), TUF_TARGETS, &m);
	round_trip(&m, &back);
	assert_int_equal(tuf_targets_count(&back), 2);
	assert_int_equal(tuf_target_at(&back, 0, &t), 0);
	assert_string_equal(t.name, "a.txt");
	assert_null(t.custom);
	assert_int_equal(tuf_target_at(&back, 1, &t), 0);
	assert_string_equal(t.name, "rules/vigil-rules-7.json");
	assert_int_equal(t.length, 5);
	hex_encode(t.sha256, 32, hex);
	assert_string_equal(hex, hello_sha256);
	assert_string_equal(
		json_string_value(json_object_get(t.custom, "kind")), "rules");
	assert_int_equal(tuf_target_at(&back, 2, &t), VG_ENOENT);
	assert_int_equal(tuf_target_get(&back, "a.txt", &t), 0);
	assert_string_equal(t.name, "a.txt");
	assert_int_equal(tuf_target_get(&back, "b.txt", &t), VG_ENOENT);
	tuf_meta_clear(&back);
	tuf_meta_clear(&m);
}

static void
test_check_artifact(void **state)
{
	struct tuf_meta m;
	struct tuf_target t;
	struct tuf_result r;

	(void)state;
	meta_new_ok(targets_signed(1), TUF_TARGETS, &m);
	assert_int_equal(tuf_target_get(&m, "a.txt", &t), 0);
	assert_int_equal(tuf_check_artifact(&t, "hello", 5, &r), 0);
	assert_int_equal(tuf_check_artifact(&t, "hello!", 6, &r), VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_ARTIFACT);
	assert_string_equal(r.msg, "a.txt: more than the 5 bytes targets.json "
				   "declares");
	assert_int_equal(tuf_check_artifact(&t, "hell", 4, &r), VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_ARTIFACT);
	assert_string_equal(r.msg, "a.txt: 4 bytes, but targets.json "
				   "declares 5");
	assert_int_equal(tuf_check_artifact(&t, "jello", 5, &r), VG_EVERIFY);
	assert_int_equal(r.fail, TUF_FAIL_ARTIFACT);
	assert_msg_has(&r, "but targets.json declares 2cf24dba");
	tuf_meta_clear(&m);
}

static void
test_target_names(void **state)
{
	static const char *const good[] = {
		"a",
		"rules/vigil-rules-7.json",
		"A-Z_0.9/x..y",
		"a/b.c/d",
		"x.",
		"a/.hidden",
	};
	static const char *const bad[] = {
		"",     "/etc/passwd", ".hidden",     "..",    "a/../b", "a/..",
		"../a", "a//b",        "a/",          "a/./b", "a b",    "a\\b",
		"a%20", "a:b",         "caf\xc3\xa9", "a\nb",
	};
	char name[TUF_TARGET_NAME_MAX + 2];
	struct tuf_result r;
	struct tuf_meta m;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!tuf_target_name_valid(good[i], strlen(good[i])))
			fail_msg("refused \"%s\"", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tuf_target_name_valid(bad[i], strlen(bad[i])))
			fail_msg("accepted \"%s\"", bad[i]);
	memset(name, 'n', sizeof(name));
	name[TUF_TARGET_NAME_MAX] = '\0';
	assert_true(tuf_target_name_valid(name, TUF_TARGET_NAME_MAX));
	name[TUF_TARGET_NAME_MAX] = 'n';
	name[TUF_TARGET_NAME_MAX + 1] = '\0';
	assert_false(tuf_target_name_valid(name, TUF_TARGET_NAME_MAX + 1));

	/* And in a manifest. */
	const char *const in_manifest[] = {"",       "/a", ".a",
					   "a/../b", name, "a*b"};
	for (size_t i = 0; i < 6; i++) {
		json_t *s = targets_signed(1);

		json_object_set_new(json_object_get(s, "targets"),
				    in_manifest[i],
				    tuf_target_json("x", 1, NULL));
		assert_int_equal(tuf_meta_new(s, TUF_TARGETS, &m, &r),
				 VG_EFORMAT);
		assert_msg_has(&r, "is not a target name");
	}
}

/* ---- schema ---- */

/* A signed copy of a valid manifest of each role, to break. */
static json_t *
valid_doc(enum tuf_role role)
{
	struct tuf_meta m;
	json_t *s = NULL, *meta = json_object(), *doc;

	switch (role) {
	case TUF_ROOT:
		root_v1(&m);
		json_decref(meta);
		goto have;
	case TUF_TARGETS: s = targets_signed(1); break;
	case TUF_SNAPSHOT:
		s = common_signed("snapshot", 1);
		json_object_set_new(meta, "targets.json",
				    tuf_meta_ref_json(1, "t", 1));
		break;
	case TUF_TIMESTAMP:
		s = common_signed("timestamp", 1);
		json_object_set_new(meta, "snapshot.json",
				    tuf_meta_ref_json(1, "s", 1));
		break;
	default: fail();
	}
	if (role == TUF_SNAPSHOT || role == TUF_TIMESTAMP)
		json_object_set_new(s, "meta", meta);
	else
		json_decref(meta);
	meta_new_ok(s, role, &m);
	assert_int_equal(tuf_meta_sign(&m, kon.sk), 0);
have:
	doc = json_deep_copy(m.doc);
	tuf_meta_clear(&m);
	return doc;
}

static void
test_valid_manifests_parse(void **state)
{
	struct tuf_result r;

	(void)state;
	for (int role = 0; role < TUF_NROLES; role++) {
		if (reparse(valid_doc((enum tuf_role)role), (enum tuf_role)role,
			    &r) != 0)
			fail_msg("%s", r.msg);
		assert_int_equal(r.fail, TUF_OK);
	}
}

static void
test_unknown_member_refused_in_each_role(void **state)
{
	struct tuf_result r;
	char want[128];

	(void)state;
	for (int role = 0; role < TUF_NROLES; role++) {
		json_t *doc = valid_doc((enum tuf_role)role);

		json_object_set_new(json_object_get(doc, "signed"),
				    "delegations", json_object());
		assert_int_equal(reparse(doc, (enum tuf_role)role, &r),
				 VG_EFORMAT);
		assert_int_equal(r.fail, TUF_FAIL_FORMAT);
		snprintf(want, sizeof(want),
			 "%s.json: unknown member \"delegations\" in signed",
			 tuf_role_name((enum tuf_role)role));
		assert_string_equal(r.msg, want);
	}
}

static void
test_unknown_member_refused_at_every_level(void **state)
{
	struct tuf_result r;
	json_t *doc, *s;

	(void)state;
	doc = valid_doc(TUF_TARGETS);
	json_object_set_new(doc, "extra", json_true());
	assert_int_equal(reparse(doc, TUF_TARGETS, &r), VG_EFORMAT);
	assert_msg_has(&r, "unknown member \"extra\" in the manifest");

	doc = valid_doc(TUF_TARGETS);
	json_object_set_new(
		json_array_get(json_object_get(doc, "signatures"), 0), "method",
		json_string("ed25519"));
	assert_int_equal(reparse(doc, TUF_TARGETS, &r), VG_EFORMAT);
	assert_msg_has(&r, "unknown member \"method\" in signatures[0]");

	doc = valid_doc(TUF_TARGETS);
	s = json_object_get(
		json_object_get(json_object_get(doc, "signed"), "targets"),
		"a.txt");
	json_object_set_new(json_object_get(s, "hashes"), "sha512",
			    json_string("00"));
	assert_int_equal(reparse(doc, TUF_TARGETS, &r), VG_EFORMAT);
	assert_msg_has(&r, "unknown member \"sha512\"");

	doc = valid_doc(TUF_SNAPSHOT);
	json_object_set_new(
		json_object_get(json_object_get(doc, "signed"), "meta"),
		"root.json", tuf_meta_ref_json(1, "r", 1));
	assert_int_equal(reparse(doc, TUF_SNAPSHOT, &r), VG_EFORMAT);
	assert_msg_has(&r, "unknown member \"root.json\" in signed.meta");

	doc = valid_doc(TUF_TIMESTAMP);
	json_object_set_new(
		json_object_get(
			json_object_get(json_object_get(doc, "signed"), "meta"),
			"snapshot.json"),
		"expires", json_string("x"));
	assert_int_equal(reparse(doc, TUF_TIMESTAMP, &r), VG_EFORMAT);
	assert_msg_has(&r, "unknown member \"expires\"");

	doc = valid_doc(TUF_ROOT);
	json_object_set_new(
		json_object_get(json_object_get(json_object_get(doc, "signed"),
						"roles"),
				"targets"),
		"paths", json_array());
	assert_int_equal(reparse(doc, TUF_ROOT, &r), VG_EFORMAT);
	assert_msg_has(&r, "unknown member \"paths\" in signed.roles.targets");

	doc = valid_doc(TUF_ROOT);
	json_object_set_new(
		json_object_get(json_object_get(doc, "signed"), "roles"),
		"mirrors", json_object());
	assert_int_equal(reparse(doc, TUF_ROOT, &r), VG_EFORMAT);
	assert_msg_has(&r, "unknown member \"mirrors\" in signed.roles");
}

static void
test_missing_or_wrong_members_refused(void **state)
{
	struct tuf_result r;
	json_t *doc;

	(void)state;
	doc = valid_doc(TUF_TARGETS);
	json_object_del(json_object_get(doc, "signed"), "expires");
	assert_int_equal(reparse(doc, TUF_TARGETS, &r), VG_EFORMAT);
	assert_string_equal(r.msg, "targets.json: signed has no member "
				   "\"expires\"");

	doc = valid_doc(TUF_TARGETS);
	assert_int_equal(reparse(doc, TUF_SNAPSHOT, &r), VG_EFORMAT);
	assert_string_equal(r.msg, "snapshot.json: signed._type is "
				   "\"targets\", not \"snapshot\"");

	doc = valid_doc(TUF_TARGETS);
	json_object_set_new(json_object_get(doc, "signed"), "version",
			    json_integer(0));
	assert_int_equal(reparse(doc, TUF_TARGETS, &r), VG_EFORMAT);
	assert_msg_has(&r, "signed.version is 0, not from 1 to");

	doc = valid_doc(TUF_TARGETS);
	json_object_set_new(json_object_get(doc, "signed"), "version",
			    json_integer((json_int_t)TUF_INT_MAX + 1));
	assert_int_equal(reparse(doc, TUF_TARGETS, &r), VG_EFORMAT);

	doc = valid_doc(TUF_TARGETS);
	json_object_set_new(json_object_get(doc, "signed"), "version",
			    json_string("1"));
	assert_int_equal(reparse(doc, TUF_TARGETS, &r), VG_EFORMAT);
	assert_msg_has(&r, "signed.version is a string, not an integer");

	doc = valid_doc(TUF_TARGETS);
	json_object_set_new(json_object_get(doc, "signed"), "spec_version",
			    json_string("2.0.0"));
	assert_int_equal(reparse(doc, TUF_TARGETS, &r), VG_EFORMAT);
	assert_msg_has(&r, "spec_version \"2.0.0\"");

	doc = valid_doc(TUF_TARGETS);
	json_object_set_new(json_object_get(doc, "signed"), "expires",
			    json_string("2027-02-27T00:00:00+00:00"));
	assert_int_equal(reparse(doc, TUF_TARGETS, &r), VG_EFORMAT);
	assert_msg_has(&r, "is not a time");

	doc = valid_doc(TUF_TARGETS);
	json_object_set_new(
		json_array_get(json_object_get(doc, "signatures"), 0), "sig",
		json_string("abcd"));
	assert_int_equal(reparse(doc, TUF_TARGETS, &r), VG_EFORMAT);
	assert_msg_has(&r, "signatures[0].sig is not 128 lowercase hex digits");
}

static void
test_root_key_id_must_be_its_keys(void **state)
{
	struct tuf_result r;
	json_t *doc, *keys, *key;
	char want[256];

	(void)state;
	doc = valid_doc(TUF_ROOT);
	keys = json_object_get(json_object_get(doc, "signed"), "keys");
	/* Key c's entry holds the outsider's key instead. */
	key = tuf_key_json(kx.pk);
	json_object_set_new(keys, kc.id, key);
	assert_int_equal(reparse(doc, TUF_ROOT, &r), VG_EFORMAT);
	assert_int_equal(r.fail, TUF_FAIL_FORMAT);
	snprintf(want, sizeof(want),
		 "root.json: signed.keys: key ID %s is not the ID of its key "
		 "(which is %s)",
		 kc.id, kx.id);
	assert_string_equal(r.msg, want);
}

static void
test_root_threshold_bounds(void **state)
{
	struct tuf_result r;
	json_t *doc, *role;

	(void)state;
	doc = valid_doc(TUF_ROOT);
	role = json_object_get(
		json_object_get(json_object_get(doc, "signed"), "roles"),
		"targets");
	json_object_set_new(role, "threshold", json_integer(0));
	assert_int_equal(reparse(doc, TUF_ROOT, &r), VG_EFORMAT);
	assert_string_equal(r.msg, "root.json: signed.roles.targets.threshold "
				   "is 0, not from 1 to 2 (the number of its "
				   "keyids)");

	doc = valid_doc(TUF_ROOT);
	role = json_object_get(
		json_object_get(json_object_get(doc, "signed"), "roles"),
		"root");
	json_object_set_new(role, "threshold", json_integer(4));
	assert_int_equal(reparse(doc, TUF_ROOT, &r), VG_EFORMAT);
	assert_msg_has(&r, "signed.roles.root.threshold is 4, not from 1 to 3");
}

static void
test_root_keyids_checked(void **state)
{
	struct tuf_result r;
	json_t *doc, *ids;

	(void)state;
	doc = valid_doc(TUF_ROOT);
	ids = json_object_get(
		json_object_get(json_object_get(json_object_get(doc, "signed"),
						"roles"),
				"targets"),
		"keyids");
	json_array_append_new(ids, json_string(kt1.id));
	assert_int_equal(reparse(doc, TUF_ROOT, &r), VG_EFORMAT);
	assert_msg_has(&r, "signed.roles.targets.keyids names key");
	assert_msg_has(&r, "twice");

	doc = valid_doc(TUF_ROOT);
	ids = json_object_get(
		json_object_get(json_object_get(json_object_get(doc, "signed"),
						"roles"),
				"targets"),
		"keyids");
	json_array_append_new(ids, json_string(kx.id));
	assert_int_equal(reparse(doc, TUF_ROOT, &r), VG_EFORMAT);
	assert_msg_has(&r, "is not a key of signed.keys");

	doc = valid_doc(TUF_ROOT);
	json_object_del(
		json_object_get(json_object_get(doc, "signed"), "roles"),
		"timestamp");
	assert_int_equal(reparse(doc, TUF_ROOT, &r), VG_EFORMAT);
	assert_msg_has(&r, "signed.roles has no member \"timestamp\"");
}

static void
test_meta_parse_size_limit(void **state)
{
	struct tuf_result r;
	struct tuf_meta m;
	char *big = calloc(1, TUF_META_MAX + 1);

	(void)state;
	memset(big, ' ', TUF_META_MAX + 1);
	assert_int_equal(
		tuf_meta_parse(big, TUF_META_MAX + 1, TUF_ROOT, &m, &r),
		VG_EFORMAT);
	assert_msg_has(&r, "more than the 1048576 a manifest may have");
	free(big);
}

/* ---- key files ---- */

static char tmpdir[] = "/tmp/test_tuf.XXXXXX";

static int
setup_tmp(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
setup(void **state)
{
	return setup_keys(state) != 0 ? -1 : setup_tmp(state);
}

static int
teardown_tmp(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_keyfile_create_and_load(void **state)
{
	char base[256], path[300], err[256];
	uint8_t pub[32], pub2[32], sk[64];
	struct stat st;

	(void)state;
	snprintf(base, sizeof(base), "%s/holder1", tmpdir);
	if (tuf_keyfile_create(base, pub, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	snprintf(path, sizeof(path), "%s.key", base);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 94);
	if (tuf_keyfile_load(path, sk, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_memory_equal(sk + 32, pub, 32);
	sodium_memzero(sk, sizeof(sk));
	snprintf(path, sizeof(path), "%s.pub", base);
	if (tuf_pubfile_load(path, pub2, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_memory_equal(pub, pub2, 32);

	/* Neither file is ever replaced. */
	assert_int_equal(tuf_keyfile_create(base, pub2, err, sizeof(err)),
			 VG_EINVAL);
	snprintf(path, sizeof(path), "%s.key", base);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(tuf_keyfile_create(base, pub2, err, sizeof(err)),
			 VG_EINVAL);
	assert_non_null(strstr(err, ".pub: exists"));
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_keyfile_signs_what_verifies(void **state)
{
	char base[256], path[300], err[256];
	uint8_t pub[32], sk[64];
	struct tuf_meta m;
	char ids[TUF_SIGS_MAX][TUF_KEYID_LEN], id[TUF_KEYID_LEN];
	size_t n;

	(void)state;
	snprintf(base, sizeof(base), "%s/holder2", tmpdir);
	assert_int_equal(tuf_keyfile_create(base, pub, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s.key", base);
	assert_int_equal(tuf_keyfile_load(path, sk, err, sizeof(err)), 0);
	/* A root naming the file's key, signed with it, verifies. */
	struct key k;
	memcpy(k.pk, pub, 32);
	memcpy(k.sk, sk, 64);
	tuf_key_id(pub, k.id);
	sodium_memzero(sk, sizeof(sk));
	struct key *rk[] = {&k}, *tk[] = {&kt1};
	meta_new_ok(root_signed(1, rk, 1, 1, tk, 1, 1, &kon), TUF_ROOT, &m);
	assert_int_equal(tuf_meta_sign(&m, k.sk), 0);
	sodium_memzero(k.sk, sizeof(k.sk));
	assert_int_equal(tuf_meta_signers(&m, ids, TUF_SIGS_MAX, &n), 0);
	assert_int_equal(n, 1);
	tuf_key_id(pub, id);
	assert_string_equal(ids[0], id);
	tuf_meta_clear(&m);
}

static void
test_keyfile_refuses_group_readable(void **state)
{
	char base[256], path[300], err[256];
	uint8_t pub[32], sk[64];

	(void)state;
	snprintf(base, sizeof(base), "%s/holder3", tmpdir);
	assert_int_equal(tuf_keyfile_create(base, pub, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s.key", base);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(tuf_keyfile_load(path, sk, err, sizeof(err)),
			 VG_EINVAL);
	assert_non_null(strstr(err, "chmod 600"));
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_keyfile_refuses_other_content(void **state)
{
	static const char *const bad[] = {
		"vigil-release-key/v1 ed25519 "
		"01010101010101010101010101010101010101010101010101010101010101"
		"01",
		"vigil-release-key/v1 ed25519 "
		"01010101010101010101010101010101010101010101010101010101010101"
		"01"
		"\n\n",
		"vigil-release-key/v2 ed25519 "
		"01010101010101010101010101010101010101010101010101010101010101"
		"01\n",
		"vigil-release-key/v1 ed25519 "
		"0101010101010101010101010101010101010101010101010101010101010X"
		"01\n",
		"",
	};
	char path[300], err[256];
	uint8_t sk[64];

	(void)state;
	snprintf(path, sizeof(path), "%s/bad.key", tmpdir);
	write_file(path,
		   "vigil-release-key/v1 ed25519 "
		   "01010101010101010101010101010101010101010101010101010101010"
		   "10101\n",
		   0600);
	assert_int_equal(tuf_keyfile_load(path, sk, err, sizeof(err)), 0);
	assert_memory_equal(sk + 32, ka.pk, 32);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unlink(path);
		write_file(path, bad[i], 0600);
		assert_int_equal(tuf_keyfile_load(path, sk, err, sizeof(err)),
				 VG_EINVAL);
		assert_non_null(strstr(err, "not a release key"));
	}
}

static void
test_pubfile_refuses_other_keys(void **state)
{
	char path[300], err[256];
	uint8_t pub[32];

	(void)state;
	snprintf(path, sizeof(path), "%s/other.pub", tmpdir);
	write_file(path,
		   "{\"keytype\": \"rsa\", \"keyval\": {\"public\": \"00\"},"
		   " \"scheme\": \"rsa\"}\n",
		   0644);
	assert_int_equal(tuf_pubfile_load(path, pub, err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "keytype"));
	snprintf(path, sizeof(path), "%s/none.pub", tmpdir);
	assert_int_equal(tuf_pubfile_load(path, pub, err, sizeof(err)),
			 VG_ENOENT);
}

/* ---- time ---- */

static void
test_time_known_answers(void **state)
{
	static const struct {
		int64_t t;
		const char *s;
	} kat[] = {
		{0, "1970-01-01T00:00:00Z"},
		{-1, "1969-12-31T23:59:59Z"},
		{951868799, "2000-02-29T23:59:59Z"},
		{1803686400, "2027-02-27T00:00:00Z"},
		{INT64_C(253402300799), "9999-12-31T23:59:59Z"},
	};
	char out[21];
	int64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		tuf_time_format(kat[i].t, out);
		assert_string_equal(out, kat[i].s);
		assert_int_equal(tuf_time_parse(kat[i].s, &t), 0);
		assert_int_equal(t, kat[i].t);
	}
}

static void
test_time_round_trip(void **state)
{
	char out[21];
	int64_t t;

	(void)state;
	/* Every 7919 hours and a few seconds from 1900 to 2400. */
	for (int64_t x = INT64_C(-2208988800); x < INT64_C(13569465600);
	     x += INT64_C(7919) * 3600 + 17) {
		tuf_time_format(x, out);
		assert_int_equal(tuf_time_parse(out, &t), 0);
		assert_int_equal(t, x);
	}
}

static void
test_time_refuses_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"2027-02-27",
		"2027-02-27T00:00:00",
		"2027-02-27T00:00:00z",
		"2027-02-27 00:00:00Z",
		"2027-02-27T00:00:00+00:00",
		"2027-02-27T00:00:00.0Z",
		"2027-02-27T00:00:00ZZ",
		"2027-2-27T00:00:00Z",
		"2027-02-29T00:00:00Z",
		"2100-02-29T00:00:00Z",
		"2027-13-01T00:00:00Z",
		"2027-00-01T00:00:00Z",
		"2027-01-00T00:00:00Z",
		"2027-04-31T00:00:00Z",
		"2027-01-01T24:00:00Z",
		"2027-01-01T00:60:00Z",
		"2027-01-01T00:00:60Z",
		"+027-01-01T00:00:00Z",
		"2027-01-01T0 :00:00Z",
	};
	int64_t t = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tuf_time_parse(bad[i], &t) != VG_EFORMAT)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(t, 42);
	assert_int_equal(tuf_time_parse("2000-02-29T00:00:00Z", &t), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cjson_sorts_members_by_bytes),
		cmocka_unit_test(test_cjson_nested_known_answer),
		cmocka_unit_test(test_cjson_escapes_only_quote_and_backslash),
		cmocka_unit_test(test_cjson_keeps_raw_utf8),
		cmocka_unit_test(test_cjson_empty_containers),
		cmocka_unit_test(test_cjson_refuses_real),
		cmocka_unit_test(test_cjson_refuses_negative),
		cmocka_unit_test(test_cjson_integer_limit_is_2_53_minus_1),
		cmocka_unit_test(test_cjson_refuses_nul),
		cmocka_unit_test(test_cjson_refuses_invalid_utf8),
		cmocka_unit_test(test_cjson_refuses_control_character),
		cmocka_unit_test(test_meta_parse_refuses_duplicate_member),
		cmocka_unit_test(test_meta_parse_refuses_non_canonical_values),
		cmocka_unit_test(test_meta_parse_refuses_invalid_utf8),
		cmocka_unit_test(test_key_id_known_answer),
		cmocka_unit_test(test_key_parse_strict),
		cmocka_unit_test(test_sign_known_answer),
		cmocka_unit_test(test_sign_verify_round_trip),
		cmocka_unit_test(test_sign_replaces_own_signature),
		cmocka_unit_test(test_unknown_key_signature_does_not_count),
		cmocka_unit_test(test_key_of_another_role_does_not_count),
		cmocka_unit_test(test_bad_signature_does_not_count),
		cmocka_unit_test(test_signature_over_other_content_is_bad),
		cmocka_unit_test(test_same_key_twice_counts_once),
		cmocka_unit_test(test_below_threshold),
		cmocka_unit_test(test_online_key_signs_snapshot_and_timestamp),
		cmocka_unit_test(test_signers),
		cmocka_unit_test(
			test_root_next_version_must_be_exactly_one_more),
		cmocka_unit_test(test_root_next_needs_old_threshold),
		cmocka_unit_test(test_root_next_needs_new_threshold),
		cmocka_unit_test(test_root_rotation_removes_compromised_key),
		cmocka_unit_test(
			test_root_rotation_removes_compromised_root_key),
		cmocka_unit_test(test_expiry_at_and_after_the_instant),
		cmocka_unit_test(test_version_rollback),
		cmocka_unit_test(test_meta_ref_matches),
		cmocka_unit_test(test_meta_ref_length_mismatch),
		cmocka_unit_test(test_meta_ref_hash_mismatch),
		cmocka_unit_test(test_meta_ref_version_mismatch),
		cmocka_unit_test(test_targets_in_name_order),
		cmocka_unit_test(test_check_artifact),
		cmocka_unit_test(test_target_names),
		cmocka_unit_test(test_valid_manifests_parse),
		cmocka_unit_test(test_unknown_member_refused_in_each_role),
		cmocka_unit_test(test_unknown_member_refused_at_every_level),
		cmocka_unit_test(test_missing_or_wrong_members_refused),
		cmocka_unit_test(test_root_key_id_must_be_its_keys),
		cmocka_unit_test(test_root_threshold_bounds),
		cmocka_unit_test(test_root_keyids_checked),
		cmocka_unit_test(test_meta_parse_size_limit),
		cmocka_unit_test(test_keyfile_create_and_load),
		cmocka_unit_test(test_keyfile_signs_what_verifies),
		cmocka_unit_test(test_keyfile_refuses_group_readable),
		cmocka_unit_test(test_keyfile_refuses_other_content),
		cmocka_unit_test(test_pubfile_refuses_other_keys),
		cmocka_unit_test(test_time_known_answers),
		cmocka_unit_test(test_time_round_trip),
		cmocka_unit_test(test_time_refuses_malformed),
	};

	return cmocka_run_group_tests(tests, setup, teardown_tmp);
}
