/*
 * test_tlog_entry.c - the log's entry encoding (src/tlog/entry.c): the
 * example of every type from docs/LOG.md, exact bytes of entries built
 * field by field, round trips both ways, a table of malformed entries
 * each refused with its code and message, the encoder's refusals, the
 * administrative helper and its size limit, times against gmtime, JSON,
 * and the sample key's ID.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/hex.h"
#include "tlog/entry.h"
#include "tlog/merkle.h"

#define T0     "2026-11-29T05:00:00Z"
#define T0_SEC INT64_C(1795928400)
#define MAGIC  "vigil.log.entry/v1\n"

#define H_RULES                                                                \
	"7244201bc6677875622fb9c87b8ad13b6f06a8b52781c73615470c7d67f2fb7d"
#define H_TAR "62f877152f0a90726abe8a984552d96d1010e4dcd771e34a78c868a3a727a460"
#define H_DEB "b85dd7208cd45312b04e1d380c719a4b139cc9000daefbef2eeed05e9f3ab5dc"
#define H_SAMPLE                                                               \
	"af2bdbe1aa9b6ec1e2ade1d694f41fc71a831d0268e9891562113d8a62add1bf"
#define LOG_KEY                                                                \
	"eu.vigil.example/log+528feb32+AUNmK9itvVcoXYB5ZA1BFWwQt91TS6+K/"      \
	"90PeJ9sc9L5"
#define COSIGNER                                                               \
	"witness.example+4ad19750+BEH71gU8+AK+0FaSyTEgcP48EpT46/iom1j/"        \
	"IeJRzm1s"

/* The examples of docs/LOG.md, section "Entries", byte for byte. */
#define EX_RULE                                                                \
	MAGIC "type rule-release\n"                                            \
	      "time " T0 "\n"                                                  \
	      "version 2026.11.29\n"                                           \
	      "sha256 " H_RULES "\n"                                           \
	      "rules 1342\n"                                                   \
	      "\n"                                                             \
	      "Detects the loader of incident 2026-17.\n"
#define EX_SOFTWARE                                                            \
	MAGIC "type software-release\n"                                        \
	      "time " T0 "\n"                                                  \
	      "name vigil\n"                                                   \
	      "version 0.2.0\n"                                                \
	      "sha256 " H_TAR " " H_DEB "\n"                                   \
	      "\n"
#define EX_ACCESS                                                              \
	MAGIC "type sample-access\n"                                           \
	      "time " T0 "\n"                                                  \
	      "sample " H_SAMPLE "\n"                                          \
	      "who alice@vigil.example\n"                                      \
	      "role analyst\n"                                                 \
	      "reason Case 4711: the user reports a false positive "           \
	      "\xe2\x80\x94 d\xc3\xa9tection Gen.Loader\n"                     \
	      "\n"
#define EX_NODE                                                                \
	MAGIC "type node\n"                                                    \
	      "time " T0 "\n"                                                  \
	      "region eu\n"                                                    \
	      "site zrh1\n"                                                    \
	      "log-key " LOG_KEY "\n"                                          \
	      "sample-key 3fb4c3f075d2bc5d\n"                                  \
	      "version 0.1.0\n"                                                \
	      "\n"
#define EX_KEY_CHANGE                                                          \
	MAGIC "type key-change\n"                                              \
	      "time " T0 "\n"                                                  \
	      "\n"                                                             \
	      "The sample key of region eu is replaced by 9c4e0b7d21a6f3e8;\n" \
	      "the old key is destroyed.\n"
#define EX_WITNESS                                                             \
	MAGIC "type witness-set-change\n"                                      \
	      "time " T0 "\n"                                                  \
	      "\n"                                                             \
	      "Adds the witness " COSIGNER ", quorum 2 of 3.\n"
#define EX_LOCATION                                                            \
	MAGIC "type location-change\n"                                         \
	      "time " T0 "\n"                                                  \
	      "\n"                                                             \
	      "Site zrh2 moves to a new data centre in Z\xc3\xbcrich.\n"
#define EX_STATEMENT                                                           \
	MAGIC "type statement\n"                                               \
	      "time " T0 "\n"                                                  \
	      "\n"                                                             \
	      "Incident 2026-3: from 02:10 to 02:40 UTC an operator account\n" \
	      "was used from an unknown address.\n"                            \
	      "\tNo sample was read.\n"

#define EX_RETRACTION                                                          \
	MAGIC "type retraction\n"                                              \
	      "time " T0 "\n"                                                  \
	      "sample " H_SAMPLE "\n"                                          \
	      "action retract\n"                                               \
	      "detections Gen.Loader Vigil_Test_EICAR\n"                       \
	      "reason Case 4711: a signed installer of the vendor\n"           \
	      "\n"

static const char *const examples[] = {
	EX_RULE,     EX_SOFTWARE,  EX_ACCESS, EX_KEY_CHANGE, EX_WITNESS,
	EX_LOCATION, EX_STATEMENT, EX_NODE,   EX_RETRACTION,
}; /* in the order of enum tlog_entry_type */

static void
hex_decode(const char *hex, uint8_t *out)
{
	for (size_t i = 0; i < strlen(hex) / 2; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* Parses text, which must encode back to itself; returns the entry. */
static void
parse_ok(const char *text, size_t len, struct tlog_entry *e)
{
	char err[256] = "", *out;
	size_t olen;

	if (tlog_entry_parse(text, len, e, err, sizeof(err)) != 0)
		fail_msg("tlog_entry_parse: %s", err);
	if (tlog_entry_encode(e, &out, &olen, err, sizeof(err)) != 0)
		fail_msg("tlog_entry_encode: %s", err);
	assert_int_equal(olen, len);
	assert_memory_equal(out, text, len);
	assert_int_equal(out[olen], '\0');
	free(out);
}

/* Encodes e, which must give exactly `want` and parse back to e. */
static void
encode_is(const struct tlog_entry *e, const char *want)
{
	struct tlog_entry back;
	char err[256] = "", *out, *again;
	size_t len, len2;

	if (tlog_entry_encode(e, &out, &len, err, sizeof(err)) != 0)
		fail_msg("tlog_entry_encode: %s", err);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	parse_ok(out, len, &back);
	assert_int_equal(back.type, e->type);
	assert_true(back.time == e->time);
	assert_int_equal(back.body_len, e->body_len);
	if (e->body_len > 0)
		assert_memory_equal(back.body, e->body, e->body_len);
	assert_int_equal(tlog_entry_encode(&back, &again, &len2, err, 256), 0);
	assert_string_equal(again, want);
	free(again);
	free(out);
	tlog_entry_clear(&back);
}

static void
test_type_names_parse_and_print(void **state)
{
	static const char *const names[] = {
		"rule-release",       "software-release",
		"sample-access",      "key-change",
		"witness-set-change", "location-change",
		"statement",          "node",
		"retraction",
	};
	static const char *const bad[] = {
		"",      "Statement",    "statement ",
		" node", "rule_release", "rule-releases",
		"nodes", "type",
	};
	enum tlog_entry_type t;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(tlog_entry_type_parse(names[i], &t), 0);
		assert_int_equal(t, TLOG_ENTRY_RULE_RELEASE + (int)i);
		assert_string_equal(tlog_entry_type_name(t), names[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tlog_entry_type_parse(bad[i], &t), VG_EINVAL);
	assert_null(tlog_entry_type_name((enum tlog_entry_type)0));
	assert_null(tlog_entry_type_name((enum tlog_entry_type)99));
	assert_null(tlog_entry_type_name((enum tlog_entry_type) ~0u));
}

static void
test_every_example_parses_and_encodes_back(void **state)
{
	struct tlog_entry e;
	char *json;

	(void)state;
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		parse_ok(examples[i], strlen(examples[i]), &e);
		assert_int_equal(e.type, TLOG_ENTRY_RULE_RELEASE + (int)i);
		assert_true(e.time == T0_SEC);
		assert_int_equal(tlog_entry_to_json(&e, &json), 0);
		assert_non_null(strstr(json, "\"time\":\"" T0 "\""));
		free(json);
		tlog_entry_clear(&e);
	}
}

static void
test_parsed_fields_are_the_values(void **state)
{
	uint8_t h[32], h2[32];
	struct tlog_entry e;

	(void)state;
	parse_ok(EX_RULE, strlen(EX_RULE), &e);
	assert_string_equal(e.rule_release.version, "2026.11.29");
	hex_decode(H_RULES, h);
	assert_memory_equal(e.rule_release.sha256, h, 32);
	assert_true(e.rule_release.rules == 1342);
	assert_string_equal(e.body,
			    "Detects the loader of incident 2026-17.\n");
	tlog_entry_clear(&e);

	parse_ok(EX_SOFTWARE, strlen(EX_SOFTWARE), &e);
	assert_string_equal(e.software_release.name, "vigil");
	assert_string_equal(e.software_release.version, "0.2.0");
	assert_int_equal(e.software_release.nsha256, 2);
	hex_decode(H_TAR, h);
	hex_decode(H_DEB, h2);
	assert_memory_equal(e.software_release.sha256, h, 32);
	assert_memory_equal(e.software_release.sha256 + 32, h2, 32);
	assert_int_equal(e.body_len, 0);
	assert_string_equal(e.body, "");
	tlog_entry_clear(&e);

	parse_ok(EX_ACCESS, strlen(EX_ACCESS), &e);
	hex_decode(H_SAMPLE, h);
	assert_memory_equal(e.sample_access.sample, h, 32);
	assert_string_equal(e.sample_access.who, "alice@vigil.example");
	assert_string_equal(e.sample_access.role, "analyst");
	assert_string_equal(e.sample_access.reason,
			    "Case 4711: the user reports a false positive "
			    "\xe2\x80\x94 d\xc3\xa9tection Gen.Loader");
	tlog_entry_clear(&e);

	parse_ok(EX_NODE, strlen(EX_NODE), &e);
	assert_string_equal(e.node.region, "eu");
	assert_string_equal(e.node.site, "zrh1");
	assert_string_equal(e.node.log_key, LOG_KEY);
	assert_string_equal(e.node.sample_key, "3fb4c3f075d2bc5d");
	assert_string_equal(e.node.version, "0.1.0");
	tlog_entry_clear(&e);
	tlog_entry_clear(&e); /* a cleared entry clears again */
}

#define H_RULE                                                                 \
	"5d1e2a09a1f1d6c0b7e4e3a2d98c6b1f0e3b7a5c4d2e1f0a9b8c7d6e5f4a3b2c"
/* The retrohunt example of docs/LOG.md, byte for byte. */
#define EX_RETROHUNT                                                           \
	MAGIC "type retrohunt\n"                                               \
	      "time " T0 "\n"                                                  \
	      "rule " H_RULE "\n"                                              \
	      "who operator:alice\n"                                           \
	      "role analyst\n"                                                 \
	      "reason Case 4712: which stored samples carry the loader?\n"     \
	      "\n"

static void
test_retrohunt_entry_is_type_10_and_round_trips(void **state)
{
	struct tlog_entry e, back;
	enum tlog_entry_type t;
	uint8_t h[32];
	char err[256], *json;
	size_t len;

	(void)state;
	assert_int_equal(TLOG_ENTRY_RETROHUNT, 10);
	assert_int_equal(tlog_entry_type_parse("retrohunt", &t), 0);
	assert_int_equal(t, TLOG_ENTRY_RETROHUNT);
	assert_string_equal(tlog_entry_type_name(t), "retrohunt");
	assert_int_equal(tlog_entry_type_parse("retro-hunt", &t), VG_EINVAL);

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_RETROHUNT;
	e.time = T0_SEC;
	hex_decode(H_RULE, e.retrohunt.rule);
	e.retrohunt.who = "operator:alice";
	e.retrohunt.role = "analyst";
	e.retrohunt.reason =
		"Case 4712: which stored samples carry the loader?";
	encode_is(&e, EX_RETROHUNT);

	parse_ok(EX_RETROHUNT, strlen(EX_RETROHUNT), &back);
	hex_decode(H_RULE, h);
	assert_memory_equal(back.retrohunt.rule, h, 32);
	assert_string_equal(back.retrohunt.who, "operator:alice");
	assert_string_equal(back.retrohunt.role, "analyst");
	assert_int_equal(tlog_entry_to_json(&back, &json), 0);
	assert_string_equal(
		json, "{\"type\":\"retrohunt\",\"time\":\"" T0 "\","
		      "\"rule\":\"" H_RULE "\",\"who\":\"operator:alice\","
		      "\"role\":\"analyst\",\"reason\":\"Case 4712: which "
		      "stored samples carry the loader?\",\"body\":\"\"}");
	free(json);
	tlog_entry_clear(&back);

	/* What the format refuses. */
	static const char *const bad[] = {
		/* a body */
		EX_RETROHUNT "rule text\n",
		/* the rule's hash in upper case */
		MAGIC "type retrohunt\ntime " T0 "\nrule "
		      "5D1E2A09A1F1D6C0B7E4E3A2D98C6B1F0E3B7A5C4D2E1F0A9B8C7D6E"
		      "5F4A3B2C"
		      "\nwho a\nrole analyst\nreason r\n\n",
		/* no reason */
		MAGIC "type retrohunt\ntime " T0 "\nrule " H_RULE
		      "\nwho a\nrole analyst\n\n",
		/* the fields out of order */
		MAGIC "type retrohunt\ntime " T0 "\nwho a\nrule " H_RULE
		      "\nrole analyst\nreason r\n\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tlog_entry_parse(bad[i], strlen(bad[i]), &back,
						  err, sizeof(err)),
				 VG_EFORMAT);
	e.retrohunt.reason = "two\nlines";
	assert_int_equal(tlog_entry_encode(&e, &json, &len, err, sizeof(err)),
			 VG_EINVAL);
}

#define EX_OPERATOR_ADD                                                        \
	MAGIC "type operator-add\n"                                            \
	      "time " T0 "\n"                                                  \
	      "name alice\n"                                                   \
	      "by operator:root\n"                                             \
	      "\n"

/* operator-add and operator-revoke: types 11 and 12, name (a label)
 * and by, no body; round trips, and what the format refuses. */
static void
test_operator_entries_are_types_11_and_12_and_round_trip(void **state)
{
	struct tlog_entry e, back;
	enum tlog_entry_type t;
	char err[256], *json, *text;
	size_t len;

	(void)state;
	assert_int_equal(TLOG_ENTRY_OPERATOR_ADD, 11);
	assert_int_equal(TLOG_ENTRY_OPERATOR_REVOKE, 12);
	assert_int_equal(tlog_entry_type_parse("operator-add", &t), 0);
	assert_int_equal(t, TLOG_ENTRY_OPERATOR_ADD);
	assert_int_equal(tlog_entry_type_parse("operator-revoke", &t), 0);
	assert_int_equal(t, TLOG_ENTRY_OPERATOR_REVOKE);
	assert_string_equal(tlog_entry_type_name(t), "operator-revoke");

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_OPERATOR_ADD;
	e.time = T0_SEC;
	e.operator_change.name = "alice";
	e.operator_change.by = "operator:root";
	encode_is(&e, EX_OPERATOR_ADD);
	parse_ok(EX_OPERATOR_ADD, strlen(EX_OPERATOR_ADD), &back);
	assert_string_equal(back.operator_change.name, "alice");
	assert_string_equal(back.operator_change.by, "operator:root");
	assert_int_equal(tlog_entry_to_json(&back, &json), 0);
	assert_string_equal(json,
			    "{\"type\":\"operator-add\",\"time\":\"" T0 "\","
			    "\"name\":\"alice\",\"by\":\"operator:root\","
			    "\"body\":\"\"}");
	free(json);
	tlog_entry_clear(&back);

	e.type = TLOG_ENTRY_OPERATOR_REVOKE;
	assert_int_equal(tlog_entry_encode(&e, &text, &len, err, sizeof(err)),
			 0);
	parse_ok(text, len, &back);
	assert_int_equal(back.type, TLOG_ENTRY_OPERATOR_REVOKE);
	assert_string_equal(back.operator_change.name, "alice");
	tlog_entry_clear(&back);
	free(text);

	static const char *const bad[] = {
		/* a body */
		EX_OPERATOR_ADD "a body\n",
		/* a name that is not a label */
		MAGIC "type operator-add\ntime " T0
		      "\nname Alice\nby operator:root\n\n",
		/* no by */
		MAGIC "type operator-add\ntime " T0 "\nname alice\n\n",
		/* a space in by */
		MAGIC "type operator-revoke\ntime " T0
		      "\nname alice\nby operator: root\n\n",
		/* the fields out of order */
		MAGIC "type operator-revoke\ntime " T0
		      "\nby operator:root\nname alice\n\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tlog_entry_parse(bad[i], strlen(bad[i]), &back,
						  err, sizeof(err)),
				 VG_EFORMAT);
	e.operator_change.name = "al ice";
	assert_int_equal(tlog_entry_encode(&e, &text, &len, err, sizeof(err)),
			 VG_EINVAL);
}

/* The retention example of docs/LOG.md, byte for byte. */
#define EX_RETENTION                                                           \
	MAGIC "type retention\n"                                               \
	      "time " T0 "\n"                                                  \
	      "sample-days 90\n"                                               \
	      "metadata-days 365\n"                                            \
	      "samples-erased 12\n"                                            \
	      "submissions 340\n"                                              \
	      "samples-unlinked 120\n"                                         \
	      "\n"

/* A retention entry names the periods and counts, and nothing that
 * could name a sample or a client. */
static void
test_retention_entry_is_type_15_and_round_trips(void **state)
{
	struct tlog_entry e, back;
	enum tlog_entry_type t;
	char err[256], *json;

	(void)state;
	assert_int_equal(TLOG_ENTRY_RETENTION, 15);
	assert_int_equal(tlog_entry_type_parse("retention", &t), 0);
	assert_int_equal(t, TLOG_ENTRY_RETENTION);
	assert_string_equal(tlog_entry_type_name(t), "retention");

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_RETENTION;
	e.time = T0_SEC;
	e.retention.sample_days = 90;
	e.retention.metadata_days = 365;
	e.retention.samples_erased = 12;
	e.retention.submissions = 340;
	e.retention.samples_unlinked = 120;
	encode_is(&e, EX_RETENTION);

	parse_ok(EX_RETENTION, strlen(EX_RETENTION), &back);
	assert_int_equal(back.retention.sample_days, 90);
	assert_int_equal(back.retention.metadata_days, 365);
	assert_int_equal(back.retention.samples_erased, 12);
	assert_int_equal(back.retention.submissions, 340);
	assert_int_equal(back.retention.samples_unlinked, 120);
	assert_int_equal(tlog_entry_to_json(&back, &json), 0);
	assert_string_equal(json, "{\"type\":\"retention\",\"time\":\"" T0 "\","
				  "\"sample-days\":90,\"metadata-days\":365,"
				  "\"samples-erased\":12,\"submissions\":340,"
				  "\"samples-unlinked\":120,\"body\":\"\"}");
	free(json);
	tlog_entry_clear(&back);

	static const char *const bad[] = {
		/* a body */
		EX_RETENTION "sample 00\n",
		/* a field more: which sample */
		MAGIC "type retention\ntime " T0 "\nsample-days 90\n"
		      "metadata-days 365\nsamples-erased 1\nsubmissions 1\n"
		      "samples-unlinked 1\nsample abc\n\n",
		/* fields out of order */
		MAGIC "type retention\ntime " T0 "\nmetadata-days 365\n"
		      "sample-days 90\nsamples-erased 1\nsubmissions 1\n"
		      "samples-unlinked 1\n\n",
		/* a count that is not a number */
		MAGIC "type retention\ntime " T0 "\nsample-days -1\n"
		      "metadata-days 365\nsamples-erased 1\nsubmissions 1\n"
		      "samples-unlinked 1\n\n",
		/* a field missing */
		MAGIC "type retention\ntime " T0 "\nsample-days 90\n"
		      "metadata-days 365\nsamples-erased 1\nsubmissions 1\n\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tlog_entry_parse(bad[i], strlen(bad[i]), &back,
						  err, sizeof(err)),
				 VG_EFORMAT);
}

/* The hold examples of docs/LOG.md, byte for byte. */
#define EX_HOLD_SHA                                                            \
	"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
#define EX_HOLD                                                                \
	MAGIC "type hold\n"                                                    \
	      "time " T0 "\n"                                                  \
	      "sample " EX_HOLD_SHA "\n"                                       \
	      "case CASE-2026-114\n"                                           \
	      "reason preserved for the investigation of the Nov 2026 "        \
	      "incident\n"                                                     \
	      "who operator:alice\n"                                           \
	      "\n"
#define EX_RELEASE_HOLD                                                        \
	MAGIC "type release-hold\n"                                            \
	      "time " T0 "\n"                                                  \
	      "sample " EX_HOLD_SHA "\n"                                       \
	      "case CASE-2026-114\n"                                           \
	      "who operator:alice\n"                                           \
	      "\n"

/* Holds name the sample, the case, why (a hold) and the authenticated
 * operator; a release has no reason. */
static void
test_hold_entries_are_types_16_and_17_and_round_trip(void **state)
{
	struct tlog_entry e, back;
	enum tlog_entry_type t;
	char err[256], *json;
	size_t len;

	(void)state;
	assert_int_equal(TLOG_ENTRY_HOLD, 16);
	assert_int_equal(TLOG_ENTRY_RELEASE_HOLD, 17);
	assert_int_equal(tlog_entry_type_parse("hold", &t), 0);
	assert_int_equal(t, TLOG_ENTRY_HOLD);
	assert_int_equal(tlog_entry_type_parse("release-hold", &t), 0);
	assert_int_equal(t, TLOG_ENTRY_RELEASE_HOLD);

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_HOLD;
	e.time = T0_SEC;
	assert_true(hex_decode_lower(EX_HOLD_SHA, 32, e.hold.sample));
	e.hold.case_id = "CASE-2026-114";
	e.hold.reason =
		"preserved for the investigation of the Nov 2026 incident";
	e.hold.who = "operator:alice";
	encode_is(&e, EX_HOLD);
	e.type = TLOG_ENTRY_RELEASE_HOLD;
	encode_is(&e, EX_RELEASE_HOLD);

	parse_ok(EX_HOLD, strlen(EX_HOLD), &back);
	assert_string_equal(back.hold.case_id, "CASE-2026-114");
	assert_string_equal(back.hold.who, "operator:alice");
	assert_int_equal(tlog_entry_to_json(&back, &json), 0);
	assert_string_equal(
		json,
		"{\"type\":\"hold\",\"time\":\"" T0 "\","
		"\"sample\":\"" EX_HOLD_SHA "\",\"case\":\"CASE-2026-114\","
		"\"reason\":\"preserved for the investigation of the Nov "
		"2026 incident\",\"who\":\"operator:alice\",\"body\":\"\"}");
	free(json);
	tlog_entry_clear(&back);
	parse_ok(EX_RELEASE_HOLD, strlen(EX_RELEASE_HOLD), &back);
	assert_string_equal(back.hold.case_id, "CASE-2026-114");
	tlog_entry_clear(&back);

	static const char *const bad[] = {
		/* a release with a reason */
		MAGIC "type release-hold\ntime " T0 "\nsample " EX_HOLD_SHA
		      "\ncase C1\nreason r\nwho operator:alice\n\n",
		/* a hold without its reason */
		MAGIC "type hold\ntime " T0 "\nsample " EX_HOLD_SHA
		      "\ncase C1\nwho operator:alice\n\n",
		/* a case with a space */
		MAGIC "type hold\ntime " T0 "\nsample " EX_HOLD_SHA
		      "\ncase C 1\nreason r\nwho operator:alice\n\n",
		/* an upper-case hash */
		MAGIC "type hold\ntime " T0 "\nsample "
		      "275A021BBFB6489E54D471899F7DB9D1663FC695EC2FE2A2C4538AAB"
		      "F651FD0F"
		      "\ncase C1\nreason r\nwho operator:alice\n\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tlog_entry_parse(bad[i], strlen(bad[i]), &back,
						  err, sizeof(err)),
				 VG_EFORMAT);
	e.type = TLOG_ENTRY_HOLD;
	e.hold.reason = "two\nlines";
	assert_int_equal(tlog_entry_encode(&e, &json, &len, err, sizeof(err)),
			 VG_EINVAL);
}

/* The erasure example of docs/LOG.md, byte for byte. */
#define EX_ERASURE                                                             \
	MAGIC "type erasure\n"                                                 \
	      "time " T0 "\n"                                                  \
	      "reason consent-lowered\n"                                       \
	      "consent metadata\n"                                             \
	      "submissions 0\n"                                                \
	      "samples-unlinked 0\n"                                           \
	      "samples-erased 3\n"                                             \
	      "\n"

/* An erasure names counts and no one: no client, token, file or hash
 * field exists to fill. */
static void
test_erasure_entry_is_type_13_and_round_trips(void **state)
{
	struct tlog_entry e, back;
	enum tlog_entry_type t;
	char err[256], *json;
	size_t len;

	(void)state;
	assert_int_equal(TLOG_ENTRY_ERASURE, 13);
	assert_int_equal(tlog_entry_type_parse("erasure", &t), 0);
	assert_int_equal(t, TLOG_ENTRY_ERASURE);
	assert_string_equal(tlog_entry_type_name(t), "erasure");

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_ERASURE;
	e.time = T0_SEC;
	e.erasure.reason = TLOG_ERASURE_CONSENT_LOWERED;
	e.erasure.consent = "metadata";
	e.erasure.samples_erased = 3;
	encode_is(&e, EX_ERASURE);

	parse_ok(EX_ERASURE, strlen(EX_ERASURE), &back);
	assert_string_equal(back.erasure.reason, "consent-lowered");
	assert_string_equal(back.erasure.consent, "metadata");
	assert_int_equal(back.erasure.submissions, 0);
	assert_int_equal(back.erasure.samples_erased, 3);
	assert_int_equal(tlog_entry_to_json(&back, &json), 0);
	assert_string_equal(
		json, "{\"type\":\"erasure\",\"time\":\"" T0 "\","
		      "\"reason\":\"consent-lowered\",\"consent\":\"metadata\","
		      "\"submissions\":0,\"samples-unlinked\":0,"
		      "\"samples-erased\":3,\"body\":\"\"}");
	free(json);
	tlog_entry_clear(&back);

	static const char *const bad[] = {
		/* a body */
		EX_ERASURE "client 1234\n",
		/* a field more: who it was */
		MAGIC "type erasure\ntime " T0 "\nreason consent-lowered\n"
		      "consent none\nsubmissions 1\nsamples-unlinked 1\n"
		      "samples-erased 1\nclient abc\n\n",
		/* a count with a leading zero */
		MAGIC "type erasure\ntime " T0 "\nreason consent-lowered\n"
		      "consent none\nsubmissions 01\nsamples-unlinked 1\n"
		      "samples-erased 1\n\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tlog_entry_parse(bad[i], strlen(bad[i]), &back,
						  err, sizeof(err)),
				 VG_EFORMAT);
	e.erasure.reason = "Consent Lowered";
	assert_int_equal(tlog_entry_encode(&e, &json, &len, err, sizeof(err)),
			 VG_EINVAL);
}

#define H_STATS                                                                \
	"9f2c4e1a0b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e"
/* The stats example of docs/LOG.md, byte for byte. */
#define EX_STATS                                                               \
	MAGIC "type stats\n"                                                   \
	      "time " T0 "\n"                                                  \
	      "region eu\n"                                                    \
	      "day 2024-02-29\n"                                               \
	      "sha256 " H_STATS "\n"                                           \
	      "\n"

static void
test_stats_entry_is_type_14_and_round_trips(void **state)
{
	struct tlog_entry e, back;
	enum tlog_entry_type t;
	uint8_t h[32];
	char err[256], *json;
	size_t len;

	(void)state;
	assert_int_equal(TLOG_ENTRY_STATS, 14);
	assert_int_equal(tlog_entry_type_parse("stats", &t), 0);
	assert_int_equal(t, TLOG_ENTRY_STATS);
	assert_string_equal(tlog_entry_type_name(t), "stats");

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_STATS;
	e.time = T0_SEC;
	e.stats.region = "eu";
	e.stats.day = "2024-02-29";
	hex_decode(H_STATS, e.stats.sha256);
	encode_is(&e, EX_STATS);

	parse_ok(EX_STATS, strlen(EX_STATS), &back);
	hex_decode(H_STATS, h);
	assert_memory_equal(back.stats.sha256, h, 32);
	assert_string_equal(back.stats.region, "eu");
	assert_string_equal(back.stats.day, "2024-02-29");
	assert_int_equal(tlog_entry_to_json(&back, &json), 0);
	assert_string_equal(json, "{\"type\":\"stats\",\"time\":\"" T0 "\","
				  "\"region\":\"eu\",\"day\":\"2024-02-29\","
				  "\"sha256\":\"" H_STATS "\",\"body\":\"\"}");
	free(json);
	tlog_entry_clear(&back);

	/* What the format refuses: days that do not exist or are not in
	 * the one form, a body, fields out of order. */
	static const char *const bad[] = {
		MAGIC "type stats\ntime " T0 "\nregion eu\nday 2023-02-29\n"
		      "sha256 " H_STATS "\n\n",
		MAGIC "type stats\ntime " T0 "\nregion eu\nday 2024-2-29\n"
		      "sha256 " H_STATS "\n\n",
		MAGIC "type stats\ntime " T0 "\nregion eu\nday 1969-12-31\n"
		      "sha256 " H_STATS "\n\n",
		MAGIC "type stats\ntime " T0 "\nregion EU\nday 2024-02-29\n"
		      "sha256 " H_STATS "\n\n",
		EX_STATS "a body\n",
		MAGIC "type stats\ntime " T0 "\nday 2024-02-29\nregion eu\n"
		      "sha256 " H_STATS "\n\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tlog_entry_parse(bad[i], strlen(bad[i]), &back,
						  err, sizeof(err)),
				 VG_EFORMAT);
	/* A day too long for the field. */
	static const char long_day[] =
		MAGIC "type stats\ntime " T0 "\nregion eu\nday 2024-02-29Z\n"
		      "sha256 " H_STATS "\n\n";
	assert_int_equal(tlog_entry_parse(long_day, strlen(long_day), &back,
					  err, sizeof(err)),
			 VG_ELIMIT);
	e.stats.day = "2024-13-01";
	assert_int_equal(tlog_entry_encode(&e, &json, &len, err, sizeof(err)),
			 VG_EINVAL);
}

static void
test_rule_release_encodes_to_exact_bytes(void **state)
{
	struct tlog_entry e;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_RULE_RELEASE;
	e.time = T0_SEC;
	e.rule_release.version = "2026.11.29";
	hex_decode(H_RULES, e.rule_release.sha256);
	e.rule_release.rules = 1342;
	e.body = "Detects the loader of incident 2026-17.\n";
	e.body_len = strlen(e.body);
	encode_is(&e, EX_RULE);
	/* Zero rules, no body. */
	e.rule_release.rules = 0;
	e.body = NULL;
	e.body_len = 0;
	encode_is(&e, MAGIC "type rule-release\ntime " T0 "\n"
			    "version 2026.11.29\nsha256 " H_RULES "\n"
			    "rules 0\n\n");
	e.rule_release.rules = TLOG_ENTRY_COUNT_MAX;
	encode_is(&e, MAGIC "type rule-release\ntime " T0 "\n"
			    "version 2026.11.29\nsha256 " H_RULES "\n"
			    "rules 9007199254740991\n\n");
	tlog_entry_clear(&e); /* caller-filled: nothing of it is freed */
}

static void
test_other_types_encode_to_exact_bytes(void **state)
{
	uint8_t hs[64];
	struct tlog_entry e;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_SOFTWARE_RELEASE;
	e.time = T0_SEC;
	e.software_release.name = "vigil";
	e.software_release.version = "0.2.0";
	hex_decode(H_TAR H_DEB, hs);
	e.software_release.sha256 = hs;
	e.software_release.nsha256 = 2;
	encode_is(&e, EX_SOFTWARE);

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_SAMPLE_ACCESS;
	e.time = T0_SEC;
	hex_decode(H_SAMPLE, e.sample_access.sample);
	e.sample_access.who = "alice@vigil.example";
	e.sample_access.role = "analyst";
	e.sample_access.reason = "Case 4711: the user reports a false "
				 "positive \xe2\x80\x94 d\xc3\xa9tection "
				 "Gen.Loader";
	encode_is(&e, EX_ACCESS);

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_NODE;
	e.time = T0_SEC;
	e.node.region = "eu";
	e.node.site = "zrh1";
	e.node.log_key = LOG_KEY;
	e.node.sample_key = "3fb4c3f075d2bc5d";
	e.node.version = "0.1.0";
	encode_is(&e, EX_NODE);

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_STATEMENT;
	e.time = 0;
	e.body = "x";
	e.body_len = 1;
	encode_is(&e, MAGIC "type statement\ntime 1970-01-01T00:00:00Z\n\nx");
}

struct bad {
	const char *text;
	int code;
	const char *why;
};

#define RULE_HEAD MAGIC "type rule-release\ntime " T0 "\n"
#define V         "version 1.0\n"
#define S         "sha256 " H_RULES "\n"
#define R         "rules 5\n"
#define ACCESS_HEAD                                                            \
	MAGIC "type sample-access\ntime " T0 "\nsample " H_SAMPLE              \
	      "\nwho a\nrole analyst\n"
#define NODE_HEAD MAGIC "type node\ntime " T0 "\nregion eu\nsite zrh1\n"
#define RETR_HEAD MAGIC "type retraction\ntime " T0 "\nsample " H_SAMPLE "\n"
#define SOFT_HEAD                                                              \
	MAGIC "type software-release\ntime " T0 "\nname vigil\nversion 1\n"
#define STMT_HEAD MAGIC "type statement\ntime " T0 "\n\n"

static const struct bad bad_entries[] = {
	/* The first line. */
	{"", VG_EFORMAT, "line 1: not \"vigil.log.entry/v1\": not a log entry"},
	{"vigil.log.entry/v1", VG_EFORMAT, "line 1"},
	{"vigil.log.entry/v2\ntype statement\ntime " T0 "\n\nx", VG_EFORMAT,
	 "another version"},
	{"vigil.log.entry/v1 \ntype statement\ntime " T0 "\n\nx", VG_EFORMAT,
	 "line 1"},
	{"vigil.log.entry/v1\r\ntype statement\ntime " T0 "\n\nx", VG_EFORMAT,
	 "line 1: carriage return (lines end in LF alone)"},
	{"VIGIL.LOG.ENTRY/V1\ntype statement\ntime " T0 "\n\nx", VG_EFORMAT,
	 "not a log entry"},
	{"\nvigil.log.entry/v1\ntype statement\ntime " T0 "\n\nx", VG_EFORMAT,
	 "line 1"},
	/* type and time. */
	{MAGIC, VG_EFORMAT, "line 2: missing field type"},
	{MAGIC "\n", VG_EFORMAT, "line 2: missing field type"},
	{MAGIC "time " T0 "\n\nx", VG_EFORMAT, "line 2: missing field type"},
	{MAGIC "time " T0 "\ntype statement\n\nx", VG_EFORMAT,
	 "line 2: field time out of order (type comes first)"},
	{MAGIC "version 1\n", VG_EFORMAT, "line 2: missing field type"},
	{MAGIC "type rule_release\n", VG_EFORMAT, "line 2: unknown type"},
	{MAGIC "type Statement\ntime " T0 "\n\nx", VG_EFORMAT,
	 "line 2: unknown type"},
	{MAGIC "type statement \ntime " T0 "\n\nx", VG_EFORMAT,
	 "line 2: unknown type"},
	{MAGIC "type  statement\ntime " T0 "\n\nx", VG_EFORMAT,
	 "line 2: unknown type"},
	{MAGIC "type\ntime " T0 "\n\nx", VG_EFORMAT,
	 "line 2: field type has no value"},
	{MAGIC "type statement\r\ntime " T0 "\n\nx", VG_EFORMAT,
	 "line 2: carriage return"},
	{MAGIC "type statement\n\nx", VG_EFORMAT, "line 3: missing field time"},
	{MAGIC "type statement\ntype statement\n\nx", VG_EFORMAT,
	 "line 3: duplicate field type"},
	{MAGIC "type statement\ntime 2026-11-29 05:00:00Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 2026-11-29T05:00:00+00:00\n\nx",
	 VG_EFORMAT, "line 3: time is not"},
	{MAGIC "type statement\ntime 2026-11-29T05:00:00.5Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 2026-11-29t05:00:00z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 2026-11-29T05:00Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 2026-1-29T05:00:00Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 2026-02-29T05:00:00Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 2100-02-29T05:00:00Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 2026-11-31T05:00:00Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 2026-13-01T05:00:00Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 2026-00-01T05:00:00Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 2026-11-00T05:00:00Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 2026-11-29T24:00:00Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 2026-11-29T05:60:00Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 2016-12-31T23:59:60Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 1969-12-31T23:59:59Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime +2026-11-29T05:00:00Z\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime 1795928400\n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	{MAGIC "type statement\ntime " T0 " \n\nx", VG_EFORMAT,
	 "line 3: time is not"},
	/* Fields: missing, out of order, duplicate, unknown, extra. */
	{RULE_HEAD S R "\n", VG_EFORMAT, "line 4: missing field version"},
	{RULE_HEAD S R V "\n", VG_EFORMAT,
	 "line 4: field sha256 out of order (version comes first)"},
	{RULE_HEAD V R S "\n", VG_EFORMAT,
	 "line 5: field rules out of order (sha256 comes first)"},
	{RULE_HEAD V R "\n", VG_EFORMAT, "line 5: missing field sha256"},
	{RULE_HEAD V S "\n", VG_EFORMAT, "line 6: missing field rules"},
	{RULE_HEAD V S, VG_EFORMAT, "line 6: missing field rules"},
	{RULE_HEAD "\n", VG_EFORMAT, "line 4: missing field version"},
	{RULE_HEAD V V S R "\n", VG_EFORMAT, "line 5: duplicate field version"},
	{RULE_HEAD V S R R "\n", VG_EFORMAT, "line 7: duplicate field rules"},
	{RULE_HEAD V S R "version 1.0\n\n", VG_EFORMAT,
	 "line 7: duplicate field version"},
	{RULE_HEAD V S R "time " T0 "\n\n", VG_EFORMAT,
	 "line 7: duplicate field time"},
	{RULE_HEAD "time " T0 "\n" V S R "\n", VG_EFORMAT,
	 "line 4: duplicate field time"},
	{RULE_HEAD V S R "note hello\n\n", VG_EFORMAT,
	 "line 7: unknown field note for type rule-release"},
	{RULE_HEAD "verison 1.0\n" S R "\n", VG_EFORMAT,
	 "line 4: unknown field verison for type rule-release"},
	{RULE_HEAD V "name vigil\n" S R "\n", VG_EFORMAT,
	 "line 5: unknown field name for type rule-release"},
	{RULE_HEAD V S R "body text\n", VG_EFORMAT,
	 "line 7: unknown field body for type rule-release"},
	{RULE_HEAD V S R "Release notes\n", VG_EFORMAT,
	 "line 7: not \"<field> <value>\""},
	{RULE_HEAD V S R, VG_EFORMAT,
	 "line 7: missing the empty line after the fields"},
	{RULE_HEAD V S "rules 5", VG_EFORMAT, "line 6: no newline at its end"},
	{MAGIC "type statement\ntime " T0 "\nnote x\n\nx", VG_EFORMAT,
	 "line 4: unknown field note for type statement"},
	{MAGIC "type statement\ntime " T0, VG_EFORMAT,
	 "line 3: no newline at its end"},
	{MAGIC "type statement\ntime " T0 "\n", VG_EFORMAT,
	 "line 4: missing the empty line"},
	/* Field syntax. */
	{RULE_HEAD "Version 1.0\n" S R "\n", VG_EFORMAT,
	 "line 4: not \"<field> <value>\""},
	{RULE_HEAD "-version 1.0\n" S R "\n", VG_EFORMAT,
	 "line 4: not \"<field> <value>\""},
	{RULE_HEAD "version\t1.0\n" S R "\n", VG_EFORMAT,
	 "line 4: control character 0x09"},
	{RULE_HEAD "version 1.0\r\n" S R "\n", VG_EFORMAT,
	 "line 4: carriage return"},
	{RULE_HEAD "version\n" S R "\n", VG_EFORMAT,
	 "line 4: field version has no value"},
	{RULE_HEAD "version \n" S R "\n", VG_EFORMAT,
	 "line 4: field version is empty"},
	{RULE_HEAD "version  1.0\n" S R "\n", VG_EFORMAT,
	 "line 4: field version is not a letter or digit"},
	{RULE_HEAD "version 1.0 \n" S R "\n", VG_EFORMAT,
	 "line 4: field version is not a letter or digit"},
	{RULE_HEAD "version 1 0\n" S R "\n", VG_EFORMAT,
	 "line 4: field version is not a letter or digit"},
	{RULE_HEAD "version .1\n" S R "\n", VG_EFORMAT,
	 "line 4: field version is not a letter or digit"},
	{RULE_HEAD "version 1.\xc3\xa9\n" S R "\n", VG_EFORMAT,
	 "line 4: field version is not a letter or digit"},
	{RULE_HEAD "version "
		   "12345678901234567890123456789012345678901234567890123456789"
		   "012345\n" S R "\n",
	 VG_ELIMIT, "line 4: field version is longer than 64 bytes"},
	{RULE_HEAD V "sha256 " H_RULES " \n" R "\n", VG_EFORMAT,
	 "line 5: field sha256 is not 64 lowercase hex digits"},
	{RULE_HEAD V
	 "sha256 7244201BC6677875622FB9C87B8AD13B6F06A8B52781C7361547"
	 "0C7D67F2FB7D\n" R "\n",
	 VG_EFORMAT, "line 5: field sha256 is not 64 lowercase hex digits"},
	{RULE_HEAD V
	 "sha256 7244201bc6677875622fb9c87b8ad13b6f06a8b52781c7361547"
	 "0c7d67f2fb7\n" R "\n",
	 VG_EFORMAT, "line 5: field sha256 is not 64 lowercase hex digits"},
	{RULE_HEAD V
	 "sha256 7244201bc6677875622fb9c87b8ad13b6f06a8b52781c7361547"
	 "0c7d67f2fb7g\n" R "\n",
	 VG_EFORMAT, "line 5: field sha256 is not 64 lowercase hex digits"},
	{RULE_HEAD V S "rules 05\n\n", VG_EFORMAT,
	 "line 6: field rules is not a decimal"},
	{RULE_HEAD V S "rules -1\n\n", VG_EFORMAT,
	 "line 6: field rules is not a decimal"},
	{RULE_HEAD V S "rules +1\n\n", VG_EFORMAT,
	 "line 6: field rules is not a decimal"},
	{RULE_HEAD V S "rules 1e3\n\n", VG_EFORMAT,
	 "line 6: field rules is not a decimal"},
	{RULE_HEAD V S "rules 9007199254740992\n\n", VG_EFORMAT,
	 "line 6: field rules is not a decimal without leading zeros from 0 "
	 "to 2^53-1"},
	{RULE_HEAD V S "rules 12345678901234567\n\n", VG_ELIMIT,
	 "line 6: field rules is longer than 16 bytes"},
	/* sample-access */
	{MAGIC "type sample-access\ntime " T0 "\nsample " H_SAMPLE
	       "\nwho a b\nrole analyst\nreason r\n\n",
	 VG_EFORMAT, "line 5: field who is not printable ASCII without spaces"},
	{MAGIC "type sample-access\ntime " T0 "\nsample " H_SAMPLE
	       "\nwho \xc3\xa9\nrole analyst\nreason r\n\n",
	 VG_EFORMAT, "line 5: field who is not printable ASCII"},
	{MAGIC "type sample-access\ntime " T0 "\nsample " H_SAMPLE
	       "\nwho a\nrole Analyst\nreason r\n\n",
	 VG_EFORMAT,
	 "line 6: field role is not lowercase letters, digits and '-'"},
	{ACCESS_HEAD "reason r\n\nthe sample's content\n", VG_EFORMAT,
	 "line 9: type sample-access has no body"},
	{ACCESS_HEAD "reason r\n\n\n", VG_EFORMAT,
	 "line 9: type sample-access has no body"},
	{ACCESS_HEAD "reason  r\n\n", VG_EFORMAT,
	 "line 7: field reason has a leading or trailing space"},
	{ACCESS_HEAD "reason r \n\n", VG_EFORMAT,
	 "line 7: field reason has a leading or trailing space"},
	{ACCESS_HEAD "reason a\xc2\xa0"
		     "b\n\n",
	 VG_EFORMAT, "line 7: field reason has white space other than a space"},
	{ACCESS_HEAD "reason a\xe2\x80\xa8"
		     "b\n\n",
	 VG_EFORMAT, "line 7: field reason has white space other than a space"},
	{ACCESS_HEAD "reason a\xe2\x80\xae"
		     "b\n\n",
	 VG_EFORMAT, "line 7: field reason has a bidirectional control"},
	{ACCESS_HEAD "reason a\xc2\x9b"
		     "b\n\n",
	 VG_EFORMAT, "line 7: field reason has a control character at byte 1"},
	{ACCESS_HEAD "reason a\x7f\n\n", VG_EFORMAT,
	 "line 7: control character 0x7f"},
	{ACCESS_HEAD "reason a\xff\n\n", VG_EFORMAT,
	 "line 7: field reason is not UTF-8 at byte 1"},
	{ACCESS_HEAD "reason a\xc0\xafz\n\n", VG_EFORMAT,
	 "line 7: field reason is not UTF-8"},
	{ACCESS_HEAD "reason a\xed\xa0\x80z\n\n", VG_EFORMAT,
	 "line 7: field reason is not UTF-8"},
	{ACCESS_HEAD "reason a\xe2\x80\n\n", VG_EFORMAT,
	 "line 7: field reason is not UTF-8"},
	/* node */
	{NODE_HEAD "log-key " COSIGNER "\nsample-key 3fb4c3f075d2bc5d\n"
		   "version 1\n\n",
	 VG_EFORMAT,
	 "line 6: field log-key is a key of type 0x04, not Ed25519"},
	{NODE_HEAD "log-key eu.vigil.example/log+528feb33+AUNmK9itvVcoXYB5ZA1BF"
		   "WwQt91TS6+K/90PeJ9sc9L5\nsample-key 3fb4c3f075d2bc5d\n"
		   "version 1\n\n",
	 VG_EFORMAT, "line 6: field log-key is not a signed-note verifier key"},
	{NODE_HEAD "log-key eu.vigil.example/log+528FEB32+AUNmK9itvVcoXYB5ZA1BF"
		   "WwQt91TS6+K/90PeJ9sc9L5\nsample-key 3fb4c3f075d2bc5d\n"
		   "version 1\n\n",
	 VG_EFORMAT, "line 6: field log-key is not a signed-note verifier key"},
	{NODE_HEAD "log-key " LOG_KEY "\nsample-key " H_SAMPLE
		   "\nversion 1\n\n",
	 VG_EFORMAT, "line 7: field sample-key is not 16 lowercase hex digits"},
	{NODE_HEAD "log-key " LOG_KEY "\nsample-key 3FB4C3F075D2BC5D\n"
		   "version 1\n\n",
	 VG_EFORMAT, "line 7: field sample-key is not 16 lowercase hex digits"},
	{MAGIC "type node\ntime " T0 "\nregion EU\n", VG_EFORMAT,
	 "line 4: field region is not lowercase letters"},
	{MAGIC "type node\ntime " T0 "\nregion "
	       "abcdefghijabcdefghijabcdefghijabc\n",
	 VG_ELIMIT, "line 4: field region is longer than 32 bytes"},
	/* software-release: the list of hashes. */
	{SOFT_HEAD "sha256 " H_DEB " " H_TAR "\n\n", VG_EFORMAT,
	 "line 6: field sha256 has hashes not in strictly ascending order"},
	{SOFT_HEAD "sha256 " H_TAR " " H_TAR "\n\n", VG_EFORMAT,
	 "line 6: field sha256 has hashes not in strictly ascending order"},
	{SOFT_HEAD "sha256 " H_TAR "  " H_DEB "\n\n", VG_EFORMAT,
	 "line 6: field sha256 is not SHA-256s"},
	{SOFT_HEAD "sha256 " H_TAR "," H_DEB "\n\n", VG_EFORMAT,
	 "line 6: field sha256 is not SHA-256s"},
	{SOFT_HEAD "sha256 " H_TAR " \n\n", VG_EFORMAT,
	 "line 6: field sha256 is not SHA-256s"},
	{SOFT_HEAD "sha256 \n\n", VG_EFORMAT, "line 6: field sha256 is not"},
	{MAGIC "type software-release\ntime " T0 "\nname Vigil\n", VG_EFORMAT,
	 "line 4: field name is not a lowercase letter or digit"},
	/* Bodies. */
	{STMT_HEAD, VG_EFORMAT,
	 "line 5: type statement needs a body that is not empty or only white "
	 "space"},
	{STMT_HEAD " \n\t\n", VG_EFORMAT,
	 "line 5: type statement needs a body"},
	{STMT_HEAD "\xe2\x80\x83", VG_EFORMAT,
	 "line 5: type statement needs a body"},
	{STMT_HEAD "a\r\nb\n", VG_EFORMAT,
	 "line 5: carriage return in the body (lines end in LF alone)"},
	{STMT_HEAD "a\nb\r\n", VG_EFORMAT,
	 "line 6: carriage return in the body"},
	{STMT_HEAD "caf\xc3", VG_EFORMAT, "line 5: body is not UTF-8"},
	{STMT_HEAD "a\n\n\xc0\xaf", VG_EFORMAT, "line 7: body is not UTF-8"},
	{STMT_HEAD "\xed\xa0\x80", VG_EFORMAT, "line 5: body is not UTF-8"},
	{STMT_HEAD "\xf4\x90\x80\x80", VG_EFORMAT, "line 5: body is not UTF-8"},
	{STMT_HEAD "\x1b[31mred", VG_EFORMAT,
	 "line 5: control character U+001B in the body"},
	{STMT_HEAD "a\x7f", VG_EFORMAT, "control character U+007F"},
	{STMT_HEAD "a\xc2\x9b", VG_EFORMAT, "control character U+009B"},
	{STMT_HEAD "a\x0c", VG_EFORMAT, "control character U+000C"},
	{MAGIC "type key-change\ntime " T0 "\n\n", VG_EFORMAT,
	 "type key-change needs a body"},
	{MAGIC "type witness-set-change\ntime " T0 "\n\n\n", VG_EFORMAT,
	 "type witness-set-change needs a body"},
	{MAGIC "type location-change\ntime " T0 "\n\n", VG_EFORMAT,
	 "type location-change needs a body"},
};

static void
test_malformed_entries_are_refused(void **state)
{
	struct tlog_entry e;
	char err[256];

	(void)state;
	memset(&e, 0x5a, sizeof(e));
	for (size_t i = 0; i < sizeof(bad_entries) / sizeof(bad_entries[0]);
	     i++) {
		const struct bad *b = &bad_entries[i];
		int rc;

		err[0] = '\0';
		rc = tlog_entry_parse(b->text, strlen(b->text), &e, err,
				      sizeof(err));
		if (rc != b->code)
			fail_msg("bad entry %zu: %s (%s), want %s", i,
				 vg_strerror(rc), err, vg_strerror(b->code));
		if (strstr(err, b->why) == NULL)
			fail_msg("bad entry %zu: message \"%s\" lacks \"%s\"",
				 i, err, b->why);
	}
	/* *e is untouched on error. */
	for (size_t i = 0; i < sizeof(e); i++)
		assert_int_equal(((unsigned char *)&e)[i], 0x5a);
}

static void
test_nul_bytes_are_refused(void **state)
{
	static const char head[] = STMT_HEAD "a\0b";
	static const char field[] = RULE_HEAD "version 1\0.0\n" S R "\n";
	struct tlog_entry e;
	char err[256];

	(void)state;
	assert_int_equal(
		tlog_entry_parse(head, sizeof(head) - 1, &e, err, sizeof(err)),
		VG_EFORMAT);
	assert_non_null(strstr(err, "line 5: control character U+0000"));
	assert_int_equal(tlog_entry_parse(field, sizeof(field) - 1, &e, err,
					  sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "line 4: control character 0x00"));
	/* NUL after the magic line, and err may be NULL. */
	assert_int_equal(
		tlog_entry_parse(MAGIC "\0", sizeof(MAGIC), &e, NULL, 0),
		VG_EFORMAT);
}

/* A software-release with n ascending hashes: 1..n as the first byte. */
static char *
software_with(size_t n)
{
	char *s = malloc(256 + n * 65), *p;

	assert_non_null(s);
	p = s + sprintf(s, SOFT_HEAD "sha256");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, " %02zx%062d", i + 1, 0);
	sprintf(p, "\n\n");
	return s;
}

static void
test_limits(void **state)
{
	size_t max_body = TLOG_ENTRY_MAX - strlen(STMT_HEAD);
	char *big = malloc(TLOG_ENTRY_MAX + 2), *out, err[256], *s;
	struct tlog_entry e;
	size_t len;

	(void)state;
	assert_non_null(big);
	/* An entry of exactly TLOG_ENTRY_MAX bytes, and one byte more. */
	memcpy(big, STMT_HEAD, strlen(STMT_HEAD));
	memset(big + strlen(STMT_HEAD), 'x', max_body + 1);
	parse_ok(big, TLOG_ENTRY_MAX, &e);
	assert_int_equal(e.body_len, max_body);
	tlog_entry_clear(&e);
	assert_int_equal(
		tlog_entry_parse(big, TLOG_ENTRY_MAX + 1, &e, err, sizeof(err)),
		VG_ELIMIT);
	assert_non_null(strstr(err, "entry longer than 65535 bytes"));

	/* The same through the administrative helper. */
	assert_int_equal(tlog_entry_admin(TLOG_ENTRY_STATEMENT, T0_SEC,
					  big + strlen(STMT_HEAD), max_body, &e,
					  err, sizeof(err)),
			 0);
	assert_int_equal(tlog_entry_encode(&e, &out, &len, err, sizeof(err)),
			 0);
	assert_int_equal(len, TLOG_ENTRY_MAX);
	free(out);
	tlog_entry_clear(&e);
	assert_int_equal(tlog_entry_admin(TLOG_ENTRY_STATEMENT, T0_SEC,
					  big + strlen(STMT_HEAD), max_body + 1,
					  &e, err, sizeof(err)),
			 VG_ELIMIT);
	assert_non_null(strstr(err, "body longer than 65474 bytes"));
	/* A body that fits alone, but not with the fields. */
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_RULE_RELEASE;
	e.rule_release.version = "1";
	e.body = big + strlen(STMT_HEAD);
	e.body_len = max_body;
	assert_int_equal(tlog_entry_encode(&e, &out, &len, err, sizeof(err)),
			 VG_ELIMIT);
	assert_non_null(strstr(err, "entry longer than 65535 bytes"));
	free(big);

	/* 64 hashes, and 65. */
	s = software_with(TLOG_ENTRY_HASHES_MAX);
	parse_ok(s, strlen(s), &e);
	assert_int_equal(e.software_release.nsha256, TLOG_ENTRY_HASHES_MAX);
	assert_int_equal(e.software_release.sha256[63 * 32], 64);
	tlog_entry_clear(&e);
	free(s);
	s = software_with(TLOG_ENTRY_HASHES_MAX + 1);
	assert_int_equal(tlog_entry_parse(s, strlen(s), &e, err, sizeof(err)),
			 VG_ELIMIT);
	assert_non_null(strstr(err, "line 6: field sha256 has more than 64"));
	free(s);

	/* A reason of 1024 bytes, and 1025. */
	s = malloc(2048);
	assert_non_null(s);
	len = (size_t)sprintf(s, ACCESS_HEAD "reason ");
	memset(s + len, 'r', 1024);
	strcpy(s + len + 1024, "\n\n");
	parse_ok(s, strlen(s), &e);
	assert_int_equal(strlen(e.sample_access.reason), 1024);
	tlog_entry_clear(&e);
	memset(s + len, 'r', 1025);
	strcpy(s + len + 1025, "\n\n");
	assert_int_equal(tlog_entry_parse(s, strlen(s), &e, err, sizeof(err)),
			 VG_ELIMIT);
	assert_non_null(
		strstr(err, "line 7: field reason is longer than 1024 bytes"));
	free(s);
}

static void
test_encode_refuses_what_would_not_parse(void **state)
{
	static const uint8_t desc[64] = {2, [32] = 1}, same[64] = {0};
	uint8_t many[(TLOG_ENTRY_HASHES_MAX + 1) * 32] = {0};
	char long_reason[1026], err[256], *out = NULL;
	struct tlog_entry ok, e;
	size_t len;

	(void)state;
	memset(long_reason, 'r', 1025);
	long_reason[1025] = '\0';
	memset(&ok, 0, sizeof(ok));
	ok.type = TLOG_ENTRY_SAMPLE_ACCESS;
	ok.time = T0_SEC;
	ok.sample_access.who = "a";
	ok.sample_access.role = "analyst";
	ok.sample_access.reason = "r";
	assert_int_equal(tlog_entry_encode(&ok, &out, &len, err, 256), 0);
	free(out);
	out = NULL;

#define REFUSED(code, msg)                                                     \
	do {                                                                   \
		err[0] = '\0';                                                 \
		assert_int_equal(                                              \
			tlog_entry_encode(&e, &out, &len, err, sizeof(err)),   \
			code);                                                 \
		assert_null(out);                                              \
		if (strstr(err, msg) == NULL)                                  \
			fail_msg("\"%s\" lacks \"%s\"", err, msg);             \
		assert_int_equal(tlog_entry_to_json(&e, &out), code);          \
		assert_null(out);                                              \
	} while (0)

	e = ok, e.type = (enum tlog_entry_type)0;
	REFUSED(VG_EINVAL, "no entry type 0");
	e = ok, e.type = (enum tlog_entry_type)42;
	REFUSED(VG_EINVAL, "no entry type 42");
	e = ok, e.time = -1;
	REFUSED(VG_EINVAL, "time -1 is not from 1970 to 9999");
	e = ok, e.time = TLOG_ENTRY_TIME_MAX + 1;
	REFUSED(VG_EINVAL, "is not from 1970 to 9999");
	e = ok, e.sample_access.who = NULL;
	REFUSED(VG_EINVAL, "field who is missing");
	e = ok, e.sample_access.role = "";
	REFUSED(VG_EINVAL, "field role is empty");
	/* A newline in a value would forge a field or the body. */
	e = ok, e.sample_access.reason = "r\n\nforged body";
	REFUSED(VG_EINVAL, "field reason has a control character");
	e = ok, e.sample_access.reason = long_reason;
	REFUSED(VG_ELIMIT, "field reason is longer than 1024 bytes");
	e = ok, e.body = "x", e.body_len = 1;
	REFUSED(VG_EINVAL, "body line 1: type sample-access has no body");

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_STATEMENT;
	REFUSED(VG_EINVAL, "type statement needs a body");
	e.body = "a\r\n", e.body_len = 3;
	REFUSED(VG_EINVAL, "body line 1: carriage return");
	e.body = "a\nb\xff", e.body_len = 4;
	REFUSED(VG_EINVAL, "body line 2: body is not UTF-8");
	e.body = NULL, e.body_len = 2;
	REFUSED(VG_EINVAL, "body is NULL");

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_RULE_RELEASE;
	e.rule_release.version = "1.0\nrules 7";
	REFUSED(VG_EINVAL, "field version is not a letter or digit");
	e.rule_release.version = "1.0";
	e.rule_release.rules = TLOG_ENTRY_COUNT_MAX + 1;
	REFUSED(VG_EINVAL, "field rules is above 2^53-1");

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_SOFTWARE_RELEASE;
	e.software_release.name = "vigil";
	e.software_release.version = "1";
	REFUSED(VG_EINVAL, "field sha256 is missing");
	e.software_release.nsha256 = 1;
	REFUSED(VG_EINVAL, "field sha256 is missing");
	e.software_release.sha256 = desc;
	e.software_release.nsha256 = 2;
	REFUSED(VG_EINVAL, "not in strictly ascending order");
	e.software_release.sha256 = same;
	REFUSED(VG_EINVAL, "not in strictly ascending order");
	for (size_t i = 0; i < TLOG_ENTRY_HASHES_MAX + 1; i++)
		many[i * 32] = (uint8_t)i;
	e.software_release.sha256 = many;
	e.software_release.nsha256 = TLOG_ENTRY_HASHES_MAX + 1;
	REFUSED(VG_ELIMIT, "field sha256 has more than 64 hashes");
	e.software_release.nsha256 = TLOG_ENTRY_HASHES_MAX;
	assert_int_equal(tlog_entry_encode(&e, &out, &len, err, 256), 0);
	free(out);
	out = NULL;

	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_NODE;
	e.node.region = "eu";
	e.node.site = "zrh1";
	e.node.log_key = LOG_KEY;
	e.node.sample_key = H_SAMPLE; /* a whole key does not pass as its ID */
	e.node.version = "1";
	REFUSED(VG_EINVAL, "field sample-key is not 16 lowercase hex digits");
	e.node.sample_key = "3fb4c3f075d2bc5d";
	e.node.log_key = COSIGNER;
	REFUSED(VG_EINVAL, "field log-key is a key of type 0x04");
	e.node.log_key = "";
	REFUSED(VG_EINVAL, "field log-key is empty");
#undef REFUSED
}

static void
test_admin_builds_administrative_entries(void **state)
{
	static const struct {
		enum tlog_entry_type type;
		const char *body, *want;
	} ok[] = {
		{TLOG_ENTRY_KEY_CHANGE,
		 "The sample key of region eu is replaced by 9c4e0b7d21a6f3e8;"
		 "\nthe old key is destroyed.\n",
		 EX_KEY_CHANGE},
		{TLOG_ENTRY_WITNESS_SET_CHANGE,
		 "Adds the witness " COSIGNER ", quorum 2 of 3.\n", EX_WITNESS},
		{TLOG_ENTRY_LOCATION_CHANGE,
		 "Site zrh2 moves to a new data centre in Z\xc3\xbcrich.\n",
		 EX_LOCATION},
		{TLOG_ENTRY_STATEMENT,
		 "Incident 2026-3: from 02:10 to 02:40 UTC an operator "
		 "account\nwas used from an unknown address.\n\tNo sample was "
		 "read.\n",
		 EX_STATEMENT},
	};
	struct tlog_entry e;
	char err[256], *out;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *copy = strdup(ok[i].body);

		assert_non_null(copy);
		if (tlog_entry_admin(ok[i].type, T0_SEC, copy, strlen(copy), &e,
				     err, sizeof(err)) != 0)
			fail_msg("tlog_entry_admin: %s", err);
		/* The entry holds its own copy of the body. */
		memset(copy, '?', strlen(copy));
		free(copy);
		assert_int_equal(
			tlog_entry_encode(&e, &out, &len, err, sizeof(err)), 0);
		assert_string_equal(out, ok[i].want);
		free(out);
		tlog_entry_clear(&e);
	}

	memset(&e, 0x5a, sizeof(e));
	assert_int_equal(tlog_entry_admin(TLOG_ENTRY_RULE_RELEASE, T0_SEC, "x",
					  1, &e, err, sizeof(err)),
			 VG_EINVAL);
	assert_non_null(strstr(err, "rule-release is not an administrative"));
	assert_int_equal(tlog_entry_admin(TLOG_ENTRY_NODE, T0_SEC, "x", 1, &e,
					  err, sizeof(err)),
			 VG_EINVAL);
	assert_int_equal(tlog_entry_admin(TLOG_ENTRY_SAMPLE_ACCESS, T0_SEC, "x",
					  1, &e, err, sizeof(err)),
			 VG_EINVAL);
	assert_int_equal(tlog_entry_admin((enum tlog_entry_type)0, T0_SEC, "x",
					  1, &e, err, sizeof(err)),
			 VG_EINVAL);
	assert_int_equal(tlog_entry_admin(TLOG_ENTRY_STATEMENT, -1, "x", 1, &e,
					  err, sizeof(err)),
			 VG_EINVAL);
	assert_int_equal(tlog_entry_admin(TLOG_ENTRY_STATEMENT, T0_SEC, "", 0,
					  &e, err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "line 1: type statement needs a body"));
	assert_int_equal(tlog_entry_admin(TLOG_ENTRY_STATEMENT, T0_SEC, NULL, 0,
					  &e, err, sizeof(err)),
			 VG_EFORMAT);
	assert_int_equal(tlog_entry_admin(TLOG_ENTRY_KEY_CHANGE, T0_SEC,
					  "\n \n\t\n", 5, &e, err, sizeof(err)),
			 VG_EFORMAT);
	assert_int_equal(tlog_entry_admin(TLOG_ENTRY_STATEMENT, T0_SEC,
					  "line one\r\nline two\r\n", 20, &e,
					  err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "line 1: carriage return"));
	assert_int_equal(tlog_entry_admin(TLOG_ENTRY_STATEMENT, T0_SEC,
					  "one\ntwo\nth\xe9ree\n", 15, &e, err,
					  sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "line 3: body is not UTF-8"));
	assert_int_equal(tlog_entry_admin(TLOG_ENTRY_STATEMENT, T0_SEC, "a\0b",
					  3, &e, err, sizeof(err)),
			 VG_EFORMAT);
	assert_non_null(strstr(err, "line 1: control character U+0000"));
	assert_int_equal(tlog_entry_admin(TLOG_ENTRY_STATEMENT, T0_SEC, NULL, 3,
					  &e, err, sizeof(err)),
			 VG_EINVAL);
	for (size_t i = 0; i < sizeof(e); i++)
		assert_int_equal(((unsigned char *)&e)[i], 0x5a);
}

/* The retraction type: exact bytes, its action and detection list, what
 * parse and encode refuse, and its JSON. */
static void
test_retraction_entries(void **state)
{
	static const struct bad bad[] = {
		{RETR_HEAD "action retracted\ndetections A\nreason r\n\n",
		 VG_EFORMAT,
		 "line 5: field action is not retract or reinstate"},
		{RETR_HEAD "action Retract\ndetections A\nreason r\n\n",
		 VG_EFORMAT,
		 "line 5: field action is not retract or reinstate"},
		{RETR_HEAD "action retract\ndetections B A\nreason r\n\n",
		 VG_EFORMAT,
		 "line 6: field detections has names not in strictly "
		 "ascending order"},
		{RETR_HEAD "action retract\ndetections A A\nreason r\n\n",
		 VG_EFORMAT,
		 "line 6: field detections has names not in strictly "
		 "ascending order"},
		{RETR_HEAD "action retract\ndetections A  B\nreason r\n\n",
		 VG_EFORMAT,
		 "line 6: field detections is not names one space apart"},
		{RETR_HEAD "action retract\ndetections A \nreason r\n\n",
		 VG_EFORMAT,
		 "line 6: field detections is not names one space apart"},
		{RETR_HEAD "action retract\ndetections A\xc3\xa9\nreason r\n\n",
		 VG_EFORMAT,
		 "line 6: field detections has a name that is not printable"},
		{RETR_HEAD "action retract\nreason r\n\n", VG_EFORMAT,
		 "line 6: missing field detections"},
		{RETR_HEAD "action retract\ndetections A\nreason r\nwho x\n\n",
		 VG_EFORMAT, "line 8: unknown field who for type retraction"},
		{RETR_HEAD "action retract\ndetections A\nreason r\n\nbody\n",
		 VG_EFORMAT, "line 9: type retraction has no body"},
	};
	char name[TLOG_ENTRY_DETECTION_NAME_MAX + 2];
	char many[TLOG_ENTRY_DETECTIONS_MAX * 4 + 8];
	char err[256], *out = NULL, *json;
	struct tlog_entry e, p;
	size_t len, o = 0;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_RETRACTION;
	e.time = T0_SEC;
	hex_decode(H_SAMPLE, e.retraction.sample);
	e.retraction.action = TLOG_RETRACTION_RETRACT;
	e.retraction.detections = "Gen.Loader Vigil_Test_EICAR";
	e.retraction.reason = "Case 4711: a signed installer of the vendor";
	encode_is(&e, EX_RETRACTION);
	e.retraction.action = TLOG_RETRACTION_REINSTATE;
	e.retraction.detections = "Vigil_Test_EICAR";
	encode_is(&e, RETR_HEAD "action reinstate\ndetections "
				"Vigil_Test_EICAR\nreason Case 4711: a "
				"signed installer of the vendor\n\n");

	parse_ok(EX_RETRACTION, strlen(EX_RETRACTION), &p);
	assert_int_equal(p.type, TLOG_ENTRY_RETRACTION);
	assert_string_equal(p.retraction.action, "retract");
	assert_string_equal(p.retraction.detections,
			    "Gen.Loader Vigil_Test_EICAR");
	assert_int_equal(tlog_entry_to_json(&p, &json), 0);
	assert_string_equal(
		json, "{\"type\":\"retraction\",\"time\":\"" T0 "\","
		      "\"sample\":\"" H_SAMPLE "\",\"action\":\"retract\","
		      "\"detections\":[\"Gen.Loader\",\"Vigil_Test_EICAR\"],"
		      "\"reason\":\"Case 4711: a signed installer of the "
		      "vendor\",\"body\":\"\"}");
	free(json);
	tlog_entry_clear(&p);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(tlog_entry_parse(bad[i].text,
						  strlen(bad[i].text), &p, err,
						  sizeof(err)),
				 bad[i].code);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("%zu: \"%s\" lacks \"%s\"", i, err,
				 bad[i].why);
	}

	/* Limits: a name of 257 bytes, 65 names. */
	memset(name, 'N', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	e.retraction.detections = name;
	assert_int_equal(tlog_entry_encode(&e, &out, &len, err, sizeof(err)),
			 VG_ELIMIT);
	assert_non_null(strstr(err, "field detections has a name longer "
				    "than 256 bytes"));
	name[sizeof(name) - 2] = '\0';
	assert_int_equal(tlog_entry_encode(&e, &out, &len, err, sizeof(err)),
			 0);
	free(out);
	out = NULL;
	for (int i = 0; i <= TLOG_ENTRY_DETECTIONS_MAX; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "%sA%02d",
				      i ? " " : "", i);
	e.retraction.detections = many;
	assert_int_equal(tlog_entry_encode(&e, &out, &len, err, sizeof(err)),
			 VG_ELIMIT);
	assert_non_null(strstr(err, "field detections has more than 64 names"));
	many[o - 4] = '\0'; /* 64 names */
	assert_int_equal(tlog_entry_encode(&e, &out, &len, err, sizeof(err)),
			 0);
	free(out);
	out = NULL;

	/* The encoder refuses what the parser would. */
	e.retraction.detections = "";
	assert_int_equal(tlog_entry_encode(&e, &out, &len, err, sizeof(err)),
			 VG_EINVAL);
	assert_non_null(strstr(err, "field detections is empty"));
	e.retraction.detections = "A\nreason forged";
	assert_int_equal(tlog_entry_encode(&e, &out, &len, err, sizeof(err)),
			 VG_EINVAL);
	e.retraction.detections = "A";
	e.retraction.action = "undo";
	assert_int_equal(tlog_entry_encode(&e, &out, &len, err, sizeof(err)),
			 VG_EINVAL);
	assert_non_null(strstr(err, "field action is not retract or "
				    "reinstate"));
	e.retraction.action = NULL;
	assert_int_equal(tlog_entry_encode(&e, &out, &len, err, sizeof(err)),
			 VG_EINVAL);
	assert_null(out);
}

static void
test_times_match_gmtime(void **state)
{
	static const struct {
		int64_t t;
		const char *s;
	} known[] = {
		{0, "1970-01-01T00:00:00Z"},
		{T0_SEC, T0},
		{951782400, "2000-02-29T00:00:00Z"},
		{1709164799, "2024-02-28T23:59:59Z"},
		{1709251199, "2024-02-29T23:59:59Z"},
		{4107542400, "2100-03-01T00:00:00Z"},
		{TLOG_ENTRY_TIME_MAX, "9999-12-31T23:59:59Z"},
	};
	char buf[TLOG_ENTRY_TIME_LEN], want[32], text[128], err[256];
	struct tlog_entry e;
	uint64_t x = 88172645463325252ULL;

	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		assert_int_equal(tlog_entry_time_format(known[i].t, buf), 0);
		assert_string_equal(buf, known[i].s);
	}
	assert_int_equal(tlog_entry_time_format(-1, buf), VG_EINVAL);
	assert_int_equal(tlog_entry_time_format(TLOG_ENTRY_TIME_MAX + 1, buf),
			 VG_EINVAL);
	/* Format and parse agree with gmtime over the whole range. */
	for (int i = 0; i < 20000; i++) {
		int64_t t;
		time_t tt;
		struct tm tm;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		t = (int64_t)(x % (uint64_t)(TLOG_ENTRY_TIME_MAX + 1));
		if (i < 1000) /* and densely around the epoch and 2000 */
			t = i * 86399 + (i % 2) * 951782400;
		tt = (time_t)t;
		assert_non_null(gmtime_r(&tt, &tm));
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		assert_int_equal(tlog_entry_time_format(t, buf), 0);
		assert_string_equal(buf, want);
		snprintf(text, sizeof(text), STMT_HEAD "x");
		memcpy(text + strlen(MAGIC "type statement\ntime "), buf, 20);
		if (tlog_entry_parse(text, strlen(text), &e, err, sizeof(err)))
			fail_msg("%s: %s", buf, err);
		assert_true(e.time == t);
		tlog_entry_clear(&e);
	}
}

static void
test_json_has_every_field_in_order(void **state)
{
	struct tlog_entry e;
	char *json;

	(void)state;
	parse_ok(EX_RULE, strlen(EX_RULE), &e);
	assert_int_equal(tlog_entry_to_json(&e, &json), 0);
	assert_string_equal(
		json, "{\"type\":\"rule-release\",\"time\":\"" T0 "\","
		      "\"version\":\"2026.11.29\",\"sha256\":\"" H_RULES "\","
		      "\"rules\":1342,\"body\":\"Detects the loader of "
		      "incident 2026-17.\\n\"}");
	free(json);
	tlog_entry_clear(&e);

	parse_ok(EX_SOFTWARE, strlen(EX_SOFTWARE), &e);
	assert_int_equal(tlog_entry_to_json(&e, &json), 0);
	assert_string_equal(json, "{\"type\":\"software-release\",\"time\":"
				  "\"" T0 "\",\"name\":\"vigil\",\"version\":"
				  "\"0.2.0\",\"sha256\":[\"" H_TAR "\",\"" H_DEB
				  "\"],\"body\":\"\"}");
	free(json);
	tlog_entry_clear(&e);

	parse_ok(EX_NODE, strlen(EX_NODE), &e);
	assert_int_equal(tlog_entry_to_json(&e, &json), 0);
	assert_string_equal(json, "{\"type\":\"node\",\"time\":\"" T0 "\","
				  "\"region\":\"eu\",\"site\":\"zrh1\","
				  "\"log-key\":\"" LOG_KEY "\","
				  "\"sample-key\":\"3fb4c3f075d2bc5d\","
				  "\"version\":\"0.1.0\",\"body\":\"\"}");
	free(json);
	tlog_entry_clear(&e);

	parse_ok(EX_STATEMENT, strlen(EX_STATEMENT), &e);
	assert_int_equal(tlog_entry_to_json(&e, &json), 0);
	assert_string_equal(json, "{\"type\":\"statement\",\"time\":\"" T0
				  "\",\"body\":\"Incident 2026-3: from 02:10 "
				  "to 02:40 UTC an operator account\\nwas "
				  "used from an unknown address.\\n\\tNo "
				  "sample was read.\\n\"}");
	free(json);
	tlog_entry_clear(&e);
}

static void
test_sample_key_id_is_a_prefix_of_its_hash(void **state)
{
	uint8_t key[32];
	char id[TLOG_ENTRY_KEY_ID_LEN];

	(void)state;
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	/* sha256("vigil.sample-key/v1\n" || 00 01 .. 1f)[:8], by Python's
	 * hashlib. */
	assert_int_equal(tlog_entry_sample_key_id(key, 32, id), 0);
	assert_string_equal(id, "3fb4c3f075d2bc5d");
}

static void
test_leaf_hash_of_the_rule_release_example(void **state)
{
	struct merkle_hash leaf;
	uint8_t want[32];

	(void)state;
	/* docs/LOG.md gives it for other implementations to check against:
	 * SHA-256(0x00 || entry), by Python's hashlib. */
	hex_decode("03fbe954e54af038cf63436d49124b918ec7779c0c77424059346bf2"
		   "7198b0f4",
		   want);
	assert_int_equal(strlen(EX_RULE), 206);
	assert_int_equal(merkle_hash_leaf(EX_RULE, strlen(EX_RULE), &leaf), 0);
	assert_memory_equal(leaf.b, want, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_retrohunt_entry_is_type_10_and_round_trips),
		cmocka_unit_test(
			test_operator_entries_are_types_11_and_12_and_round_trip),
		cmocka_unit_test(test_erasure_entry_is_type_13_and_round_trips),
		cmocka_unit_test(test_stats_entry_is_type_14_and_round_trips),
		cmocka_unit_test(
			test_retention_entry_is_type_15_and_round_trips),
		cmocka_unit_test(
			test_hold_entries_are_types_16_and_17_and_round_trip),
		cmocka_unit_test(test_type_names_parse_and_print),
		cmocka_unit_test(test_every_example_parses_and_encodes_back),
		cmocka_unit_test(test_parsed_fields_are_the_values),
		cmocka_unit_test(test_rule_release_encodes_to_exact_bytes),
		cmocka_unit_test(test_other_types_encode_to_exact_bytes),
		cmocka_unit_test(test_malformed_entries_are_refused),
		cmocka_unit_test(test_nul_bytes_are_refused),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_encode_refuses_what_would_not_parse),
		cmocka_unit_test(test_admin_builds_administrative_entries),
		cmocka_unit_test(test_retraction_entries),
		cmocka_unit_test(test_times_match_gmtime),
		cmocka_unit_test(test_json_has_every_field_in_order),
		cmocka_unit_test(test_sample_key_id_is_a_prefix_of_its_hash),
		cmocka_unit_test(test_leaf_hash_of_the_rule_release_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
