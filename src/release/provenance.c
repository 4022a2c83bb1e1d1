/*
 * provenance.c - DSSE envelopes and in-toto/SLSA provenance statements;
 * see provenance.h and docs/PROVENANCE.md. Owns nothing between calls.
 */
#include "release/provenance.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/hex.h"
#include "release/tuf.h"

int
prov_pae(const char *type, const void *body, size_t len, uint8_t **out,
	 size_t *outlen)
{
	char head[64];
	size_t tlen = strlen(type), n;
	int h;
	uint8_t *p;

	*out = NULL;
	*outlen = 0;
	if (len > PROV_ENVELOPE_MAX || tlen > PROV_ENVELOPE_MAX)
		return VG_ELIMIT;
	h = snprintf(head, sizeof(head), "DSSEv1 %zu ", tlen);
	n = (size_t)h + tlen;
	/* " <len(body)> " needs at most 22 bytes more. */
	if ((p = malloc(n + 24 + len)) == NULL)
		return VG_ENOMEM;
	memcpy(p, head, (size_t)h);
	memcpy(p + h, type, tlen);
	h = snprintf((char *)p + n, 24, " %zu ", len);
	n += (size_t)h;
	if (len > 0)
		memcpy(p + n, body, len);
	*out = p;
	*outlen = n + len;
	return 0;
}

static char *
b64_encode(const uint8_t *in, size_t len)
{
	size_t n =
		sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(n);

	if (s != NULL)
		sodium_bin2base64(s, n, in, len,
				  sodium_base64_VARIANT_ORIGINAL);
	return s;
}

/* Decodes standard or URL-safe base64 (padded, nothing else) into *out
 * (malloc'd with a terminator); false for anything else. */
static bool
b64_decode(const char *s, size_t len, uint8_t **out, size_t *outlen)
{
	static const int variants[] = {sodium_base64_VARIANT_ORIGINAL,
				       sodium_base64_VARIANT_URLSAFE};
	const char *end;
	uint8_t *b;

	*out = NULL;
	if (len % 4 != 0 || (b = malloc(len / 4 * 3 + 1)) == NULL)
		return false;
	for (size_t i = 0; i < 2; i++) {
		if (sodium_base642bin(b, len / 4 * 3 + 1, s, len, NULL, outlen,
				      &end, variants[i]) == 0 &&
		    end == s + len) {
			b[*outlen] = '\0';
			*out = b;
			return true;
		}
	}
	free(b);
	return false;
}

int
prov_dsse_sign(const char *type, const void *payload, size_t len,
	       const uint8_t sk[64], char **out, size_t *outlen)
{
	uint8_t *pae = NULL, sig[crypto_sign_BYTES];
	size_t paelen;
	char keyid[TUF_KEYID_LEN], *p64 = NULL, *s64 = NULL;
	json_t *env = NULL;
	int rc;

	*out = NULL;
	*outlen = 0;
	if ((rc = prov_pae(type, payload, len, &pae, &paelen)) != 0)
		return rc;
	crypto_sign_detached(sig, NULL, pae, paelen, sk);
	/* The public key is the second half of libsodium's secret key. */
	tuf_key_id(sk + 32, keyid);
	rc = VG_ENOMEM;
	if ((p64 = b64_encode(payload, len)) == NULL ||
	    (s64 = b64_encode(sig, sizeof(sig))) == NULL)
		goto out;
	env = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "payload", p64,
			"payloadType", type, "signatures", "keyid", keyid,
			"sig", s64);
	if (env == NULL ||
	    (*out = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	*outlen = strlen(*out);
	rc = 0;
out:
	json_decref(env);
	free(pae);
	free(p64);
	free(s64);
	return rc;
}

/* True if obj has exactly the n members named. */
static bool
has_exactly(const json_t *obj, const char *const *names, size_t n)
{
	if (!json_is_object(obj) || json_object_size(obj) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (json_object_get(obj, names[i]) == NULL)
			return false;
	return true;
}

int
prov_dsse_verify(const void *env, size_t len, const char *type,
		 const uint8_t pub[32], uint8_t **payload, size_t *plen,
		 char *err, size_t errlen)
{
	static const char *const env_members[] = {"payload", "payloadType",
						  "signatures"};
	static const char *const sig_members[] = {"keyid", "sig"};
	char keyid[TUF_KEYID_LEN];
	json_t *doc = NULL, *sigs, *v;
	json_error_t jerr;
	uint8_t *body = NULL, *pae = NULL, *sig = NULL;
	size_t blen = 0, paelen, siglen, i;
	const char *ptype;
	int rc;

	*payload = NULL;
	*plen = 0;
	if (len > PROV_ENVELOPE_MAX)
		return vg_fail(err, errlen, VG_ELIMIT,
			       "envelope: more than %u bytes",
			       PROV_ENVELOPE_MAX);
	doc = json_loadb(env, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		rc = vg_fail(err, errlen, VG_EFORMAT, "envelope: %s (line %d)",
			     jerr.text, jerr.line);
		goto out;
	}
	if (!has_exactly(doc, env_members, 3)) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "envelope: not exactly payload, payloadType and "
			     "signatures");
		goto out;
	}
	v = json_object_get(doc, "payloadType");
	if (!json_is_string(v) ||
	    !json_is_string(json_object_get(doc, "payload"))) {
		rc = vg_fail(
			err, errlen, VG_EFORMAT,
			"envelope: payload and payloadType must be strings");
		goto out;
	}
	ptype = json_string_value(v);
	if (json_string_length(v) != strlen(type) || strcmp(ptype, type) != 0) {
		rc = vg_fail(err, errlen, VG_EVERIFY,
			     "envelope: payloadType is \"%s\", not \"%s\"",
			     ptype, type);
		goto out;
	}
	v = json_object_get(doc, "payload");
	if (!b64_decode(json_string_value(v), json_string_length(v), &body,
			&blen)) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "envelope: payload is not base64");
		goto out;
	}
	sigs = json_object_get(doc, "signatures");
	if (!json_is_array(sigs) || json_array_size(sigs) == 0 ||
	    json_array_size(sigs) > PROV_SIGS_MAX) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "envelope: signatures must be 1 to %d entries",
			     PROV_SIGS_MAX);
		goto out;
	}
	/* Every entry is checked for its form before any is believed. */
	json_array_foreach(sigs, i, v)
	{
		const json_t *k = json_object_get(v, "keyid");
		const json_t *s = json_object_get(v, "sig");

		if (!has_exactly(v, sig_members, 2) || !json_is_string(k) ||
		    !json_is_string(s)) {
			rc = vg_fail(err, errlen, VG_EFORMAT,
				     "envelope: signature %zu is not exactly a "
				     "keyid and a sig (strings)",
				     i);
			goto out;
		}
	}
	if ((rc = prov_pae(type, body, blen, &pae, &paelen)) != 0)
		goto out;
	tuf_key_id(pub, keyid);
	rc = vg_fail(err, errlen, VG_EVERIFY,
		     "envelope: no signature by key %s verifies", keyid);
	json_array_foreach(sigs, i, v)
	{
		const json_t *s = json_object_get(v, "sig");

		if (strcmp(json_string_value(json_object_get(v, "keyid")),
			   keyid) != 0)
			continue;
		free(sig);
		if (!b64_decode(json_string_value(s), json_string_length(s),
				&sig, &siglen)) {
			rc = vg_fail(err, errlen, VG_EFORMAT,
				     "envelope: signature %zu is not base64",
				     i);
			goto out;
		}
		if (siglen == crypto_sign_BYTES &&
		    crypto_sign_verify_detached(sig, pae, paelen, pub) == 0) {
			rc = 0;
			break;
		}
	}
	if (rc != 0)
		goto out;
	*payload = body;
	*plen = blen;
	body = NULL;
out:
	json_decref(doc);
	free(body);
	free(pae);
	free(sig);
	return rc;
}

static void
time_format(int64_t t, char out[21])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
		snprintf(out, 21, "1970-01-01T00:00:00Z");
}

/* {"<alg>":"<digest>"} as a DigestSet (new reference). */
static json_t *
digest_set(const char *alg, const char *digest)
{
	return json_pack("{s:s}", alg, digest);
}

json_t *
prov_statement_json(const struct prov_build *b, char *err, size_t errlen)
{
	json_t *st = NULL, *subjects = NULL, *deps = NULL, *d;
	char hex[65], started[21], finished[21], uri[1024];

	if (b->source_uri == NULL || b->commit == NULL || b->tree == NULL ||
	    b->command == NULL || b->builder_id == NULL ||
	    b->invocation_id == NULL || b->source_date_epoch < 0) {
		vg_fail(err, errlen, VG_EINVAL,
			"statement: a field is missing");
		return NULL;
	}
	if (b->nsubjects == 0 || b->nsubjects > PROV_SUBJECTS_MAX ||
	    b->ndeps > PROV_DEPS_MAX) {
		vg_fail(err, errlen, VG_ELIMIT,
			"statement: 1 to %d subjects and up to %d dependencies",
			PROV_SUBJECTS_MAX, PROV_DEPS_MAX);
		return NULL;
	}
	if ((subjects = json_array()) == NULL || (deps = json_array()) == NULL)
		goto oom;
	for (size_t i = 0; i < b->nsubjects; i++) {
		hex_encode(b->subjects[i].sha256, 32, hex);
		d = json_pack("{s:s, s:o}", "name", b->subjects[i].name,
			      "digest", digest_set("sha256", hex));
		if (d == NULL || json_array_append_new(subjects, d) != 0)
			goto oom;
	}
	/* The source first: the one input that says what was built. */
	snprintf(uri, sizeof(uri), "git+%s@%s", b->source_uri, b->commit);
	d = json_pack("{s:s, s:o}", "uri", uri, "digest",
		      digest_set("gitCommit", b->commit));
	if (d == NULL || json_array_append_new(deps, d) != 0)
		goto oom;
	for (size_t i = 0; i < b->ndeps; i++) {
		if (b->deps[i].digest_alg != NULL)
			d = json_pack("{s:s, s:o}", "uri", b->deps[i].uri,
				      "digest",
				      digest_set(b->deps[i].digest_alg,
						 b->deps[i].digest));
		else
			d = json_pack("{s:s}", "uri", b->deps[i].uri);
		if (d == NULL || json_array_append_new(deps, d) != 0)
			goto oom;
	}
	time_format(b->started_on, started);
	time_format(b->finished_on, finished);
	st = json_pack("{s:s, s:o, s:s, s:{"
		       "s:{s:s, s:{s:s, s:s, s:s, s:s}, s:{s:I}, s:o},"
		       "s:{s:{s:s}, s:{s:s, s:s, s:s}}}}",
		       "_type", PROV_STATEMENT_TYPE, "subject", subjects,
		       "predicateType", PROV_PREDICATE_TYPE, "predicate",
		       "buildDefinition", "buildType", PROV_BUILD_TYPE,
		       "externalParameters", "repository", b->source_uri,
		       "commit", b->commit, "tree", b->tree, "command",
		       b->command, "internalParameters", "SOURCE_DATE_EPOCH",
		       (json_int_t)b->source_date_epoch, "resolvedDependencies",
		       deps, "runDetails", "builder", "id", b->builder_id,
		       "metadata", "invocationId", b->invocation_id,
		       "startedOn", started, "finishedOn", finished);
	/* json_pack's "o" stole both arrays, whether or not it succeeded. */
	if (st == NULL) {
		vg_fail(err, errlen, VG_ENOMEM, "statement: out of memory");
		return NULL;
	}
	return st;
oom:
	json_decref(subjects);
	json_decref(deps);
	vg_fail(err, errlen, VG_ENOMEM, "statement: out of memory");
	return NULL;
}

int
prov_statement_encode(const struct prov_build *b, char **out, size_t *len,
		      char *err, size_t errlen)
{
	json_t *st = prov_statement_json(b, err, errlen);

	*out = NULL;
	*len = 0;
	if (st == NULL)
		return VG_EINVAL;
	*out = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(st);
	if (*out == NULL)
		return vg_fail(err, errlen, VG_ENOMEM,
			       "statement: out of memory");
	*len = strlen(*out);
	return 0;
}

/* The string at obj.name, or NULL if it is absent or not a string. */
static const char *
get_str(const json_t *obj, const char *name)
{
	return json_string_value(json_object_get(obj, name));
}

static int
parse_subjects(const json_t *arr, struct prov_info *info, char *err,
	       size_t errlen)
{
	static const char *const members[] = {"name", "digest"};
	size_t i;
	const json_t *s;

	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > PROV_SUBJECTS_MAX)
		return vg_fail(err, errlen, VG_EFORMAT,
			       "statement: subject must be 1 to %d entries",
			       PROV_SUBJECTS_MAX);
	json_array_foreach(arr, i, s)
	{
		const json_t *name = json_object_get(s, "name");
		const json_t *dig = json_object_get(s, "digest");
		const char *h = get_str(dig, "sha256");
		struct prov_subject *out = &info->subjects[i];

		if (!has_exactly(s, members, 2) || !json_is_string(name) ||
		    !json_is_object(dig) || h == NULL)
			return vg_fail(err, errlen, VG_EFORMAT,
				       "statement: subject %zu must be a name "
				       "and a digest with sha256",
				       i);
		if (json_string_length(name) == 0 ||
		    json_string_length(name) > PROV_NAME_MAX ||
		    memchr(json_string_value(name), '\0',
			   json_string_length(name)) != NULL)
			return vg_fail(err, errlen, VG_EFORMAT,
				       "statement: subject %zu: bad name", i);
		if (strlen(h) != 64 || !hex_decode_lower(h, 32, out->sha256))
			return vg_fail(err, errlen, VG_EFORMAT,
				       "statement: subject %zu: sha256 is not "
				       "64 lowercase hex digits",
				       i);
		memcpy(out->name, json_string_value(name),
		       json_string_length(name) + 1);
		for (size_t j = 0; j < i; j++)
			if (strcmp(info->subjects[j].name, out->name) == 0)
				return vg_fail(err, errlen, VG_EFORMAT,
					       "statement: subject \"%s\" "
					       "twice",
					       out->name);
	}
	info->nsubjects = json_array_size(arr);
	return 0;
}

int
prov_statement_parse(const void *payload, size_t len, struct prov_info *info,
		     char *err, size_t errlen)
{
	static const char *const members[] = {"_type", "subject",
					      "predicateType", "predicate"};
	json_t *doc, *pred, *def, *v;
	json_error_t jerr;
	const char *s;
	int rc;

	memset(info, 0, sizeof(*info));
	if (len > PROV_ENVELOPE_MAX)
		return vg_fail(err, errlen, VG_ELIMIT, "statement: too long");
	doc = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		return vg_fail(err, errlen, VG_EFORMAT, "statement: %s",
			       jerr.text);
	if (!has_exactly(doc, members, 4)) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "statement: not exactly _type, subject, "
			     "predicateType and predicate");
		goto out;
	}
	if ((s = get_str(doc, "_type")) == NULL ||
	    strcmp(s, PROV_STATEMENT_TYPE) != 0) {
		rc = vg_fail(err, errlen, VG_EVERIFY,
			     "statement: _type is not %s", PROV_STATEMENT_TYPE);
		goto out;
	}
	if ((s = get_str(doc, "predicateType")) == NULL ||
	    strcmp(s, PROV_PREDICATE_TYPE) != 0) {
		rc = vg_fail(err, errlen, VG_EVERIFY,
			     "statement: predicateType is not %s",
			     PROV_PREDICATE_TYPE);
		goto out;
	}
	if ((rc = parse_subjects(json_object_get(doc, "subject"), info, err,
				 errlen)) != 0)
		goto out;
	pred = json_object_get(doc, "predicate");
	def = json_object_get(pred, "buildDefinition");
	if (!json_is_object(def) ||
	    !json_is_object(json_object_get(pred, "runDetails"))) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "statement: predicate without buildDefinition or "
			     "runDetails");
		goto out;
	}
	if ((s = get_str(def, "buildType")) == NULL ||
	    strcmp(s, PROV_BUILD_TYPE) != 0) {
		rc = vg_fail(err, errlen, VG_EVERIFY,
			     "statement: buildType is not %s", PROV_BUILD_TYPE);
		goto out;
	}
	s = get_str(json_object_get(def, "externalParameters"), "commit");
	if (s == NULL || strlen(s) != 40 || !hex_is_lower(s, 40)) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "statement: externalParameters.commit is not 40 "
			     "lowercase hex digits");
		goto out;
	}
	memcpy(info->commit, s, 41);
	v = json_object_get(json_object_get(def, "internalParameters"),
			    "SOURCE_DATE_EPOCH");
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		rc = vg_fail(err, errlen, VG_EFORMAT,
			     "statement: internalParameters.SOURCE_DATE_EPOCH "
			     "is not a Unix time");
		goto out;
	}
	info->source_date_epoch = json_integer_value(v);
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

const struct prov_subject *
prov_info_subject(const struct prov_info *info, const char *name)
{
	for (size_t i = 0; i < info->nsubjects; i++) {
		const char *n = info->subjects[i].name;
		const char *slash = strrchr(n, '/');

		if (strcmp(slash != NULL ? slash + 1 : n, name) == 0)
			return &info->subjects[i];
	}
	return NULL;
}
