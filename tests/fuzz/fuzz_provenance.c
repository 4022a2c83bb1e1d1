/*
 * fuzz_provenance.c - libFuzzer target: any bytes as a DSSE envelope
 * (src/release/provenance.c) verify under a fixed test key or are refused
 * with a message and no payload; the same bytes as an in-toto statement
 * parse or are refused with a message, never crash or leak.
 *
 * The test key pair comes from FUZZ_PROV_SEED, so that seeds signed with
 * its secret key (see the corpus) exercise the verified path. A verified
 * payload is parsed as a statement too, and signing it again with the
 * test key gives an envelope that verifies to the same bytes.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/hex.h"
#include "release/provenance.h"

/* 32 bytes: the seed of the test key pair. */
#define FUZZ_PROV_SEED "vigil fuzz_provenance test key!!"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t test_pk[crypto_sign_PUBLICKEYBYTES];
static uint8_t test_sk[crypto_sign_SECRETKEYBYTES];

static void
keys_init(void)
{
	static bool done;

	if (done)
		return;
	if (sodium_init() < 0 ||
	    crypto_sign_seed_keypair(test_pk, test_sk,
				     (const uint8_t *)FUZZ_PROV_SEED) != 0)
		abort();
	done = true;
}

/* What provenance.h promises of a parsed statement. */
static void
check_info(const struct prov_info *info)
{
	if (info->nsubjects == 0 || info->nsubjects > PROV_SUBJECTS_MAX ||
	    strlen(info->commit) != 40 || !hex_is_lower(info->commit, 40) ||
	    info->source_date_epoch < 0)
		abort();
	for (size_t i = 0; i < info->nsubjects; i++) {
		const char *name = info->subjects[i].name;
		const char *slash = strrchr(name, '/');
		size_t n = strnlen(name, sizeof(info->subjects[i].name));

		if (n == 0 || n > PROV_NAME_MAX)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(info->subjects[j].name, name) == 0)
				abort();
		if (prov_info_subject(info, slash ? slash + 1 : name) == NULL)
			abort();
	}
}

/* Parses a statement; on failure a message and nothing else, since
 * info is only ever read when the parse succeeds. */
static void
parse_statement(const void *buf, size_t len)
{
	struct prov_info info;
	char err[512];
	int rc;

	err[0] = '\0';
	rc = prov_statement_parse(buf, len, &info, err, sizeof(err));
	if (rc == 0) {
		check_info(&info);
		return;
	}
	if ((rc != VG_EFORMAT && rc != VG_EVERIFY && rc != VG_ELIMIT) ||
	    err[0] == '\0')
		abort();
}

/* Signs payload with the test key and requires the envelope to verify
 * to the same bytes. */
static void
check_resign(const uint8_t *payload, size_t plen)
{
	uint8_t *again;
	size_t alen;
	char err[512], *env;
	size_t elen;

	if (prov_dsse_sign(PROV_PAYLOAD_TYPE, payload, plen, test_sk, &env,
			   &elen) != 0 ||
	    strlen(env) != elen)
		abort();
	if (prov_dsse_verify(env, elen, PROV_PAYLOAD_TYPE, test_pk, &again,
			     &alen, err, sizeof(err)) != 0 ||
	    alen != plen || memcmp(again, payload, plen) != 0 ||
	    again[alen] != '\0')
		abort();
	free(again);
	free(env);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *payload;
	size_t plen;
	char err[512];
	int rc;

	keys_init();
	err[0] = '\0';
	rc = prov_dsse_verify(data, size, PROV_PAYLOAD_TYPE, test_pk, &payload,
			      &plen, err, sizeof(err));
	if (rc != 0) {
		if ((rc != VG_EFORMAT && rc != VG_EVERIFY && rc != VG_ELIMIT &&
		     rc != VG_ENOMEM) ||
		    err[0] == '\0' || payload != NULL || plen != 0)
			abort();
	} else {
		if (payload == NULL || plen > size || payload[plen] != '\0')
			abort();
		parse_statement(payload, plen);
		check_resign(payload, plen);
		free(payload);
	}
	parse_statement(data, size);
	return 0;
}
