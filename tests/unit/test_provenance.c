/*
 * test_provenance.c - DSSE envelopes and provenance statements
 * (src/release/provenance.c): the PAE of the DSSE specification, signing
 * and verifying, every kind of envelope a verifier must refuse, and the
 * fields of the in-toto/SLSA statement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "release/provenance.h"
#include "release/tuf.h"

struct keys {
	uint8_t pk[32], sk[64];
	uint8_t other_pk[32], other_sk[64];
};

static int
setup(void **state)
{
	struct keys *k = calloc(1, sizeof(*k));

	if (k == NULL || sodium_init() < 0)
		return -1;
	crypto_sign_keypair(k->pk, k->sk);
	crypto_sign_keypair(k->other_pk, k->other_sk);
	*state = k;
	return 0;
}

static int
teardown(void **state)
{
	free(*state);
	return 0;
}

static const char payload[] = "{\"_type\":\"https://in-toto.io/Statement/v1\"}";

/* An envelope of payload signed with sk. */
static char *
envelope(const uint8_t sk[64])
{
	char *env;
	size_t len;

	assert_int_equal(prov_dsse_sign(PROV_PAYLOAD_TYPE, payload,
					strlen(payload), sk, &env, &len),
			 0);
	assert_int_equal(strlen(env), len);
	return env;
}

/* Verifies env with pk; returns the code and frees any payload. */
static int
verify(const char *env, const uint8_t pk[32])
{
	uint8_t *out = (uint8_t *)"not touched";
	size_t len;
	char err[512] = "";
	int rc;

	rc = prov_dsse_verify(env, strlen(env), PROV_PAYLOAD_TYPE, pk, &out,
			      &len, err, sizeof(err));
	if (rc != 0) {
		assert_null(out);
		assert_true(err[0] != '\0');
	}
	free(out);
	return rc;
}

/* env with member set to value (a JSON text; NULL deletes it) in the
 * envelope (sig < 0) or in its signature sig. */
static char *
edit(const char *env, int sig, const char *member, const char *value)
{
	json_t *doc = json_loads(env, 0, NULL), *obj = doc;
	char *out;

	assert_non_null(doc);
	if (sig >= 0)
		obj = json_array_get(json_object_get(doc, "signatures"),
				     (size_t)sig);
	assert_non_null(obj);
	if (value == NULL)
		json_object_del(obj, member);
	else
		json_object_set_new(obj, member,
				    json_loads(value, JSON_DECODE_ANY, NULL));
	out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	return out;
}

static void
pae_matches_the_dsse_specification(void **state)
{
	static const char want[] =
		"DSSEv1 29 http://example.com/HelloWorld 11 hello world";
	uint8_t *out;
	size_t len;

	(void)state;
	assert_int_equal(prov_pae("http://example.com/HelloWorld",
				  "hello world", 11, &out, &len),
			 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	free(out);
	assert_int_equal(prov_pae("t", "", 0, &out, &len), 0);
	assert_int_equal(len, strlen("DSSEv1 1 t 0 "));
	assert_memory_equal(out, "DSSEv1 1 t 0 ", len);
	free(out);
}

static void
sign_then_verify_gives_back_the_payload(void **state)
{
	struct keys *k = *state;
	char *env = envelope(k->sk), keyid[TUF_KEYID_LEN], err[256];
	json_t *doc = json_loads(env, 0, NULL);
	uint8_t *out;
	size_t len;

	assert_non_null(doc);
	tuf_key_id(k->pk, keyid);
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(doc, "signatures"), 0),
			"keyid")),
		keyid);
	assert_string_equal(
		json_string_value(json_object_get(doc, "payloadType")),
		PROV_PAYLOAD_TYPE);
	assert_int_equal(prov_dsse_verify(env, strlen(env), PROV_PAYLOAD_TYPE,
					  k->pk, &out, &len, err, sizeof(err)),
			 0);
	assert_int_equal(len, strlen(payload));
	assert_memory_equal(out, payload, len);
	free(out);
	json_decref(doc);
	free(env);
}

static void
tampered_payload_is_refused(void **state)
{
	struct keys *k = *state;
	char *env = envelope(k->sk), *bad, b64[128], q[140];
	const char other[] = "{\"_type\":\"https://in-toto.io/Statement/v2\"}";

	sodium_bin2base64(b64, sizeof(b64), (const uint8_t *)other,
			  strlen(other), sodium_base64_VARIANT_ORIGINAL);
	snprintf(q, sizeof(q), "\"%s\"", b64);
	bad = edit(env, -1, "payload", q);
	assert_int_equal(verify(bad, k->pk), VG_EVERIFY);
	free(bad);
	free(env);
}

static void
another_key_is_refused(void **state)
{
	struct keys *k = *state;
	char *env = envelope(k->sk), *bad, keyid[TUF_KEYID_LEN], q[80];

	assert_int_equal(verify(env, k->other_pk), VG_EVERIFY);
	/* A signature by another key that claims the right key ID. */
	free(env);
	env = envelope(k->other_sk);
	tuf_key_id(k->pk, keyid);
	snprintf(q, sizeof(q), "\"%s\"", keyid);
	bad = edit(env, 0, "keyid", q);
	assert_int_equal(verify(bad, k->pk), VG_EVERIFY);
	free(bad);
	free(env);
}

static void
another_payload_type_is_refused(void **state)
{
	struct keys *k = *state;
	char *env, *bad, err[256];
	uint8_t *out;
	size_t len;

	/* Relabelled after signing. */
	env = envelope(k->sk);
	bad = edit(env, -1, "payloadType", "\"application/json\"");
	assert_int_equal(verify(bad, k->pk), VG_EVERIFY);
	free(bad);
	free(env);
	/* Signed, correctly, as another type. */
	assert_int_equal(prov_dsse_sign("application/json", payload,
					strlen(payload), k->sk, &env, &len),
			 0);
	assert_int_equal(verify(env, k->pk), VG_EVERIFY);
	assert_int_equal(prov_dsse_verify(env, len, "application/json", k->pk,
					  &out, &len, err, sizeof(err)),
			 0);
	free(out);
	free(env);
}

static void
malformed_envelopes_are_refused(void **state)
{
	static const struct {
		int sig;
		const char *member, *value;
	} edits[] = {
		{-1, "payload", NULL},
		{-1, "payloadType", NULL},
		{-1, "signatures", NULL},
		{-1, "extra", "1"},
		{-1, "payload", "\"not base64!\""},
		{-1, "payload", "\"YWJj\\n\""},
		{-1, "payload", "42"},
		{-1, "signatures", "[]"},
		{-1, "signatures", "{}"},
		{0, "keyid", NULL},
		{0, "sig", NULL},
		{0, "extra", "\"x\""},
		{0, "keyid", "7"},
		{0, "sig", "\"%%%%\""},
	};
	struct keys *k = *state;
	char *env = envelope(k->sk), *bad;

	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		bad = edit(env, edits[i].sig, edits[i].member, edits[i].value);
		if (verify(bad, k->pk) != VG_EFORMAT)
			fail_msg("edit %zu (%s) was not refused as malformed",
				 i, edits[i].member);
		free(bad);
	}
	assert_int_equal(verify("", k->pk), VG_EFORMAT);
	assert_int_equal(verify("[]", k->pk), VG_EFORMAT);
	assert_int_equal(verify("{\"payload\":\"\",\"payload\":\"\","
				"\"payloadType\":\"" PROV_PAYLOAD_TYPE
				"\",\"signatures\":[]}",
				k->pk),
			 VG_EFORMAT);
	/* The unedited envelope still verifies: the edits did the refusing. */
	assert_int_equal(verify(env, k->pk), 0);
	free(env);
}

static const struct prov_dep deps[] = {
	{"pkg:deb/debian/gcc-12@12.2.0-14%2Bdeb12u1?arch=amd64", NULL, NULL},
};

static void
fill_build(struct prov_build *b, struct prov_subject s[2])
{
	memset(s, 0, 2 * sizeof(*s));
	strcpy(s[0].name, "vigil");
	memset(s[0].sha256, 0xab, 32);
	strcpy(s[1].name, "vigild");
	memset(s[1].sha256, 0xcd, 32);
	*b = (struct prov_build){
		.source_uri = "https://example.org/vigil.git",
		.commit = "0123456789abcdef0123456789abcdef01234567",
		.tree = "89abcdef0123456789abcdef0123456789abcdef",
		.command = "scripts/release-build vigil vigild",
		.source_date_epoch = 1700000000,
		.subjects = s,
		.nsubjects = 2,
		.deps = deps,
		.ndeps = 1,
		.builder_id = "https://vigil.dev/builders/test",
		.invocation_id = "inv-1",
		.started_on = 1700000100,
		.finished_on = 1700000200,
	};
}

static void
statement_has_the_required_fields(void **state)
{
	struct prov_subject s[2];
	struct prov_build b;
	json_t *st, *pred, *def, *run, *deps0;
	char err[256];

	(void)state;
	fill_build(&b, s);
	st = prov_statement_json(&b, err, sizeof(err));
	assert_non_null(st);
	assert_string_equal(json_string_value(json_object_get(st, "_type")),
			    "https://in-toto.io/Statement/v1");
	assert_string_equal(
		json_string_value(json_object_get(st, "predicateType")),
		"https://slsa.dev/provenance/v1");
	assert_int_equal(json_array_size(json_object_get(st, "subject")), 2);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(
				json_array_get(json_object_get(st, "subject"),
					       1),
				"digest"),
			"sha256")),
		"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
		"cd");
	pred = json_object_get(st, "predicate");
	def = json_object_get(pred, "buildDefinition");
	run = json_object_get(pred, "runDetails");
	assert_string_equal(
		json_string_value(json_object_get(def, "buildType")),
		PROV_BUILD_TYPE);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(def, "externalParameters"), "tree")),
		b.tree);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(def, "internalParameters"),
				 "SOURCE_DATE_EPOCH")),
			 1700000000);
	assert_int_equal(
		json_array_size(json_object_get(def, "resolvedDependencies")),
		2);
	deps0 = json_array_get(json_object_get(def, "resolvedDependencies"), 0);
	assert_string_equal(json_string_value(json_object_get(deps0, "uri")),
			    "git+https://example.org/vigil.git@"
			    "0123456789abcdef0123456789abcdef01234567");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(deps0, "digest"), "gitCommit")),
		b.commit);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(run, "builder"), "id")),
			    b.builder_id);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(run, "metadata"), "startedOn")),
		"2023-11-14T22:15:00Z");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(run, "metadata"), "invocationId")),
		"inv-1");
	json_decref(st);
}

static void
statement_parses_back(void **state)
{
	struct prov_subject s[2];
	struct prov_build b;
	struct prov_info info;
	char *text, err[256];
	size_t len;

	(void)state;
	fill_build(&b, s);
	assert_int_equal(
		prov_statement_encode(&b, &text, &len, err, sizeof(err)), 0);
	assert_int_equal(
		prov_statement_parse(text, len, &info, err, sizeof(err)), 0);
	assert_int_equal(info.nsubjects, 2);
	assert_int_equal(info.source_date_epoch, 1700000000);
	assert_string_equal(info.commit, b.commit);
	assert_non_null(prov_info_subject(&info, "vigild"));
	assert_memory_equal(prov_info_subject(&info, "vigild")->sha256,
			    s[1].sha256, 32);
	assert_null(prov_info_subject(&info, "vigil-worker"));
	free(text);
}

static void
statement_of_another_kind_is_refused(void **state)
{
	struct prov_subject s[2];
	struct prov_build b;
	struct prov_info info;
	json_t *st;
	char *text, err[256];

	(void)state;
	fill_build(&b, s);
	/* Another predicate type. */
	st = prov_statement_json(&b, err, sizeof(err));
	json_object_set_new(st, "predicateType",
			    json_string("https://slsa.dev/provenance/v0.2"));
	text = json_dumps(st, JSON_COMPACT);
	assert_int_equal(prov_statement_parse(text, strlen(text), &info, err,
					      sizeof(err)),
			 VG_EVERIFY);
	free(text);
	json_decref(st);
	/* A member the statement format does not have. */
	st = prov_statement_json(&b, err, sizeof(err));
	json_object_set_new(st, "extra", json_true());
	text = json_dumps(st, JSON_COMPACT);
	assert_int_equal(prov_statement_parse(text, strlen(text), &info, err,
					      sizeof(err)),
			 VG_EFORMAT);
	free(text);
	json_decref(st);
	/* A subject digest that is not lowercase hex. */
	st = prov_statement_json(&b, err, sizeof(err));
	json_object_set_new(
		json_object_get(
			json_array_get(json_object_get(st, "subject"), 0),
			"digest"),
		"sha256", json_string("ABAB"));
	text = json_dumps(st, JSON_COMPACT);
	assert_int_equal(prov_statement_parse(text, strlen(text), &info, err,
					      sizeof(err)),
			 VG_EFORMAT);
	free(text);
	json_decref(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pae_matches_the_dsse_specification),
		cmocka_unit_test(sign_then_verify_gives_back_the_payload),
		cmocka_unit_test(tampered_payload_is_refused),
		cmocka_unit_test(another_key_is_refused),
		cmocka_unit_test(another_payload_type_is_refused),
		cmocka_unit_test(malformed_envelopes_are_refused),
		cmocka_unit_test(statement_has_the_required_fields),
		cmocka_unit_test(statement_parses_back),
		cmocka_unit_test(statement_of_another_kind_is_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
