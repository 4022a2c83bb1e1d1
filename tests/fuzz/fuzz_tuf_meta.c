/*
 * fuzz_tuf_meta.c - libFuzzer target: any bytes as a TUF manifest of each
 * role (src/release/tuf.c) parse or are refused as malformed with a
 * message, never crash. A parsed manifest encodes to canonical JSON that
 * parses again and encodes to the same bytes (one encoding per document);
 * its targets, meta references, expiry and signatures can be read and
 * checked. The same bytes read as plain JSON either are refused by the
 * canonical encoder or round-trip through it byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "release/tuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encodes m, parses the encoding as a manifest of the same role, and
 * requires the second encoding to be the first, byte for byte. */
static void
check_round_trip(const struct tuf_meta *m)
{
	struct tuf_meta again;
	struct tuf_result r;
	char *enc, *enc2;
	size_t len, len2;

	if (tuf_meta_encode(m, &enc, &len) != 0)
		abort();
	if (tuf_meta_parse(enc, len, m->role, &again, &r) != 0)
		abort();
	if (again.version != m->version || again.expires != m->expires)
		abort();
	if (tuf_meta_encode(&again, &enc2, &len2) != 0 || len2 != len ||
	    memcmp(enc, enc2, len) != 0)
		abort();
	free(enc);
	free(enc2);
	tuf_meta_clear(&again);
}

static void
check_parsed(const struct tuf_meta *m)
{
	char ids[TUF_SIGS_MAX][TUF_KEYID_LEN], when[21];
	struct tuf_target t;
	struct tuf_result r;
	uint64_t v, l;
	uint8_t h[32];
	int64_t back;
	size_t n;

	if (m->version < 1 || m->version > TUF_INT_MAX || m->doc == NULL ||
	    m->signed_ == NULL)
		abort();
	tuf_time_format(m->expires, when);
	if (tuf_time_parse(when, &back) != 0 || back != m->expires)
		abort();
	check_round_trip(m);

	switch (m->role) {
	case TUF_ROOT:
		/* A root verifies itself or is refused with a message. */
		r.msg[0] = '\0';
		if (tuf_verify_role(m, m, &r) != 0 &&
		    (r.fail != TUF_FAIL_SIGNATURE || r.msg[0] == '\0'))
			abort();
		if (tuf_meta_signers(m, ids, TUF_SIGS_MAX, &n) != 0 ||
		    n > TUF_SIGS_MAX)
			abort();
		break;
	case TUF_TARGETS:
		n = tuf_targets_count(m);
		if (n > TUF_TARGETS_MAX)
			abort();
		for (size_t i = 0; i < n; i++) {
			if (tuf_target_at(m, i, &t) != 0 ||
			    !tuf_target_name_valid(t.name, strlen(t.name)) ||
			    t.length > TUF_INT_MAX)
				abort();
			if (tuf_target_get(m, t.name, &t) != 0)
				abort();
		}
		if (tuf_target_at(m, n, &t) != VG_ENOENT)
			abort();
		break;
	case TUF_SNAPSHOT:
	case TUF_TIMESTAMP:
		if (tuf_meta_ref(m, &v, &l, h) != 0 || v < 1)
			abort();
		break;
	default: abort();
	}
}

/* Plain JSON through the canonical encoder. */
static void
check_cjson(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *v, *w;
	char *enc, *enc2;
	size_t len, len2;

	if ((v = json_loadb((const char *)data, size,
			    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr)) ==
	    NULL)
		return;
	if (tuf_cjson(v, &enc, &len) == 0) {
		if (strlen(enc) != len)
			abort();
		w = json_loadb(enc, len,
			       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
		if (w == NULL || tuf_cjson(w, &enc2, &len2) != 0 ||
		    len2 != len || memcmp(enc, enc2, len) != 0)
			abort();
		free(enc);
		free(enc2);
		json_decref(w);
	}
	json_decref(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int role = 0; role < TUF_NROLES; role++) {
		struct tuf_result r;
		struct tuf_meta m;

		r.fail = TUF_OK;
		r.msg[0] = '\0';
		if (tuf_meta_parse(data, size, (enum tuf_role)role, &m, &r) !=
		    0) {
			if (r.fail != TUF_FAIL_FORMAT || r.msg[0] == '\0' ||
			    m.doc != NULL)
				abort();
			continue;
		}
		if (m.role != (enum tuf_role)role || r.fail != TUF_OK)
			abort();
		check_parsed(&m);
		tuf_meta_clear(&m);
	}
	check_cjson(data, size);
	return 0;
}
