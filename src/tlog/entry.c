/*
 * entry.c - the log's entries, vigil.log.entry/v1; see entry.h and
 * docs/LOG.md, section "Entries".
 *
 * One table, types[], holds the grammar: each type's name, its fields in
 * order with their syntax and limits, and whether it has a body. The
 * parser, the encoder and the JSON writer all read it, so they cannot
 * disagree about the format. The parser reads header lines one by one
 * against the list of names the type expects and, when a line is not the
 * one expected, says why: a duplicate, a field out of order, a missing or
 * an unknown one.
 */
#include "tlog/entry.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/text.h"
#include "common/xmalloc.h"
#include "tlog/note.h"
#include "tlog/util.h"

#define MAGIC_PREFIX "vigil.log.entry/"
/* Longest field name; every name in types[] is shorter. */
#define NAME_MAX_LEN 32
/* Most fields of one type. */
#define FIELDS_MAX 5
/* Fixed-length values: 64 hex digits of a SHA-256, 16 of a key ID. */
#define SHA256_HEX 64
#define KEY_ID_HEX 16
/* The longest software-release sha256 value: hashes one space apart. */
#define SHA256_LIST_MAX (TLOG_ENTRY_HASHES_MAX * (SHA256_HEX + 1) - 1)
/* "YYYY-MM-DDTHH:MM:SSZ" */
#define TIME_CHARS 20
/* A verifier key: name (at most NOTE_NAME_MAX), '+', 8 hex digits, '+',
 * 44 base64 characters. */
#define LOG_KEY_MAX (NOTE_NAME_MAX + 54)

enum kind {
	K_LABEL,       /* [a-z0-9-]+, as vigild.conf's region and site */
	K_NAME,        /* [a-z0-9][a-z0-9.+-]* */
	K_VERSION,     /* [A-Za-z0-9][A-Za-z0-9.+~_:-]* */
	K_IDENT,       /* printable ASCII without space */
	K_TEXT,        /* one line of UTF-8 text */
	K_LOG_KEY,     /* a signed-note Ed25519 verifier key */
	K_KEY_ID,      /* 16 lowercase hex digits */
	K_SHA256,      /* 64 lowercase hex digits; uint8_t[32] member */
	K_SHA256_LIST, /* ascending, one space apart; pointer and count */
	K_COUNT,       /* decimal 0..2^53-1; uint64_t member */
	K_ACTION,      /* "retract" or "reinstate" */
	K_NAME_LIST,   /* K_IDENT names, ascending, one space apart */
	K_DAY,         /* YYYY-MM-DD, a calendar day from 1970 to 9999 */
};

enum body_rule { BODY_NONE, BODY_OPTIONAL, BODY_REQUIRED };

struct field {
	const char *name;
	enum kind kind;
	size_t max;   /* longest value in bytes (string kinds) */
	size_t off;   /* of the member in struct tlog_entry */
	size_t off_n; /* K_SHA256_LIST: of the count member */
};

struct type_spec {
	const char *name;
	enum body_rule body;
	const struct field *fields;
	size_t nfields;
};

#define OFF(m) offsetof(struct tlog_entry, m)

static const struct field rule_release_fields[] = {
	{"version", K_VERSION, 64, OFF(rule_release.version), 0},
	{"sha256", K_SHA256, SHA256_HEX, OFF(rule_release.sha256), 0},
	{"rules", K_COUNT, 16, OFF(rule_release.rules), 0},
};

static const struct field software_release_fields[] = {
	{"name", K_NAME, 64, OFF(software_release.name), 0},
	{"version", K_VERSION, 64, OFF(software_release.version), 0},
	{"sha256", K_SHA256_LIST, SHA256_LIST_MAX, OFF(software_release.sha256),
	 OFF(software_release.nsha256)},
};

static const struct field sample_access_fields[] = {
	{"sample", K_SHA256, SHA256_HEX, OFF(sample_access.sample), 0},
	{"who", K_IDENT, 128, OFF(sample_access.who), 0},
	{"role", K_LABEL, 32, OFF(sample_access.role), 0},
	{"reason", K_TEXT, 1024, OFF(sample_access.reason), 0},
};

static const struct field retrohunt_fields[] = {
	{"rule", K_SHA256, SHA256_HEX, OFF(retrohunt.rule), 0},
	{"who", K_IDENT, 128, OFF(retrohunt.who), 0},
	{"role", K_LABEL, 32, OFF(retrohunt.role), 0},
	{"reason", K_TEXT, 1024, OFF(retrohunt.reason), 0},
};

static const struct field operator_fields[] = {
	{"name", K_LABEL, 32, OFF(operator_change.name), 0},
	{"by", K_IDENT, 128, OFF(operator_change.by), 0},
};

static const struct field erasure_fields[] = {
	{"reason", K_LABEL, 32, OFF(erasure.reason), 0},
	{"consent", K_LABEL, 16, OFF(erasure.consent), 0},
	{"submissions", K_COUNT, 16, OFF(erasure.submissions), 0},
	{"samples-unlinked", K_COUNT, 16, OFF(erasure.samples_unlinked), 0},
	{"samples-erased", K_COUNT, 16, OFF(erasure.samples_erased), 0},
};

static const struct field retention_fields[] = {
	{"sample-days", K_COUNT, 16, OFF(retention.sample_days), 0},
	{"metadata-days", K_COUNT, 16, OFF(retention.metadata_days), 0},
	{"samples-erased", K_COUNT, 16, OFF(retention.samples_erased), 0},
	{"submissions", K_COUNT, 16, OFF(retention.submissions), 0},
	{"samples-unlinked", K_COUNT, 16, OFF(retention.samples_unlinked), 0},
};

static const struct field hold_fields[] = {
	{"sample", K_SHA256, SHA256_HEX, OFF(hold.sample), 0},
	{"case", K_IDENT, 64, OFF(hold.case_id), 0},
	{"reason", K_TEXT, 1024, OFF(hold.reason), 0},
	{"who", K_IDENT, 128, OFF(hold.who), 0},
};

static const struct field release_hold_fields[] = {
	{"sample", K_SHA256, SHA256_HEX, OFF(hold.sample), 0},
	{"case", K_IDENT, 64, OFF(hold.case_id), 0},
	{"who", K_IDENT, 128, OFF(hold.who), 0},
};

static const struct field node_fields[] = {
	{"region", K_LABEL, 32, OFF(node.region), 0},
	{"site", K_LABEL, 32, OFF(node.site), 0},
	{"log-key", K_LOG_KEY, LOG_KEY_MAX, OFF(node.log_key), 0},
	{"sample-key", K_KEY_ID, KEY_ID_HEX, OFF(node.sample_key), 0},
	{"version", K_VERSION, 64, OFF(node.version), 0},
};

/* The longest detections value: names one space apart. */
#define NAME_LIST_MAX                                                          \
	(TLOG_ENTRY_DETECTIONS_MAX * (TLOG_ENTRY_DETECTION_NAME_MAX + 1) - 1)

static const struct field retraction_fields[] = {
	{"sample", K_SHA256, SHA256_HEX, OFF(retraction.sample), 0},
	{"action", K_ACTION, 9, OFF(retraction.action), 0},
	{"detections", K_NAME_LIST, NAME_LIST_MAX, OFF(retraction.detections),
	 0},
	{"reason", K_TEXT, 1024, OFF(retraction.reason), 0},
};

static const struct field stats_fields[] = {
	{"region", K_LABEL, 32, OFF(stats.region), 0},
	{"day", K_DAY, 10, OFF(stats.day), 0},
	{"sha256", K_SHA256, SHA256_HEX, OFF(stats.sha256), 0},
};

#define FIELDS(a) a, sizeof(a) / sizeof(a[0])

static const struct type_spec types[] = {
	[TLOG_ENTRY_RULE_RELEASE] = {"rule-release", BODY_OPTIONAL,
				     FIELDS(rule_release_fields)},
	[TLOG_ENTRY_SOFTWARE_RELEASE] = {"software-release", BODY_OPTIONAL,
					 FIELDS(software_release_fields)},
	[TLOG_ENTRY_SAMPLE_ACCESS] = {"sample-access", BODY_NONE,
				      FIELDS(sample_access_fields)},
	[TLOG_ENTRY_KEY_CHANGE] = {"key-change", BODY_REQUIRED, NULL, 0},
	[TLOG_ENTRY_WITNESS_SET_CHANGE] = {"witness-set-change", BODY_REQUIRED,
					   NULL, 0},
	[TLOG_ENTRY_LOCATION_CHANGE] = {"location-change", BODY_REQUIRED, NULL,
					0},
	[TLOG_ENTRY_STATEMENT] = {"statement", BODY_REQUIRED, NULL, 0},
	[TLOG_ENTRY_NODE] = {"node", BODY_OPTIONAL, FIELDS(node_fields)},
	[TLOG_ENTRY_RETRACTION] = {"retraction", BODY_NONE,
				   FIELDS(retraction_fields)},
	[TLOG_ENTRY_RETROHUNT] = {"retrohunt", BODY_NONE,
				  FIELDS(retrohunt_fields)},
	[TLOG_ENTRY_OPERATOR_ADD] = {"operator-add", BODY_NONE,
				     FIELDS(operator_fields)},
	[TLOG_ENTRY_OPERATOR_REVOKE] = {"operator-revoke", BODY_NONE,
					FIELDS(operator_fields)},
	[TLOG_ENTRY_ERASURE] = {"erasure", BODY_NONE, FIELDS(erasure_fields)},
	[TLOG_ENTRY_STATS] = {"stats", BODY_NONE, FIELDS(stats_fields)},
	[TLOG_ENTRY_RETENTION] = {"retention", BODY_NONE,
				  FIELDS(retention_fields)},
	[TLOG_ENTRY_HOLD] = {"hold", BODY_NONE, FIELDS(hold_fields)},
	[TLOG_ENTRY_RELEASE_HOLD] = {"release-hold", BODY_NONE,
				     FIELDS(release_hold_fields)},
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

static const struct type_spec *
spec_of(enum tlog_entry_type t)
{
	if ((unsigned)t >= NTYPES || types[t].name == NULL)
		return NULL;
	return &types[t];
}

static const struct type_spec *
spec_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (types[i].name != NULL && strlen(types[i].name) == len &&
		    memcmp(types[i].name, name, len) == 0)
			return &types[i];
	return NULL;
}

int
tlog_entry_type_parse(const char *name, enum tlog_entry_type *out)
{
	const struct type_spec *ts = spec_by_name(name, strlen(name));

	if (ts == NULL)
		return VG_EINVAL;
	*out = (enum tlog_entry_type)(ts - types);
	return 0;
}

const char *
tlog_entry_type_name(enum tlog_entry_type t)
{
	const struct type_spec *ts = spec_of(t);

	return ts == NULL ? NULL : ts->name;
}

/* --- values ---------------------------------------------------------- */

/* Decodes 64 lowercase hex digits into out; false if they are not. */
static bool
sha256_decode(const char *s, size_t n, uint8_t out[TLOG_ENTRY_HASH_LEN])
{
	return n == SHA256_HEX && hex_decode_lower(s, TLOG_ENTRY_HASH_LEN, out);
}

static bool
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* True if every byte of s[0..n) passes ok or is one of chars. */
static bool
all_of(const char *s, size_t n, bool (*ok)(char), const char *chars)
{
	for (size_t i = 0; i < n; i++)
		if (!ok(s[i]) && (s[i] == '\0' || strchr(chars, s[i]) == NULL))
			return false;
	return true;
}

static bool
is_bidi_control(uint32_t cp)
{
	return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* A K_TEXT value: UTF-8 without control characters (C0, DEL, C1),
 * white space other than U+0020, bidirectional embeddings, overrides and
 * isolates, or a space at either end. */
static int
check_text(const char *s, size_t n, char *why, size_t whylen)
{
	if (s[0] == ' ' || s[n - 1] == ' ') {
		vg_seterr(why, whylen, "has a leading or trailing space");
		return VG_EFORMAT;
	}
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = text_utf8_decode(s + i, n - i, &cp);

		if (l == 0) {
			vg_seterr(why, whylen, "is not UTF-8 at byte %zu", i);
			return VG_EFORMAT;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			vg_seterr(why, whylen,
				  "has a control character at byte %zu", i);
			return VG_EFORMAT;
		}
		if (cp != ' ' && tlog_is_space(cp)) {
			vg_seterr(why, whylen,
				  "has white space other than a space at "
				  "byte %zu",
				  i);
			return VG_EFORMAT;
		}
		if (is_bidi_control(cp)) {
			vg_seterr(why, whylen,
				  "has a bidirectional control character at "
				  "byte %zu",
				  i);
			return VG_EFORMAT;
		}
		i += l;
	}
	return 0;
}

static int
check_log_key(const char *s, size_t n, char *why, size_t whylen)
{
	struct note_verifier v;
	char nerr[128], canon[NOTE_KEY_MAX];
	int rc;

	if ((rc = check_text(s, n, why, whylen)) != 0)
		return rc;
	rc = note_verifier_parse(s, n, &v, nerr, sizeof(nerr));
	if (rc == VG_ELIB) {
		vg_seterr(why, whylen, "could not be checked: %s", nerr);
		return rc;
	}
	if (rc != 0) {
		vg_seterr(why, whylen, "is not a signed-note verifier key: %s",
			  nerr);
		return VG_EFORMAT;
	}
	if (v.type != NOTE_ED25519) {
		vg_seterr(why, whylen, "is a key of type 0x%02x, not Ed25519",
			  v.type);
		return VG_EFORMAT;
	}
	note_verifier_format(&v, canon);
	if (strlen(canon) != n || memcmp(canon, s, n) != 0) {
		vg_seterr(why, whylen, "is not in canonical form");
		return VG_EFORMAT;
	}
	return 0;
}

/*
 * A K_NAME_LIST value: 1 to TLOG_ENTRY_DETECTIONS_MAX names of printable
 * ASCII without space, each at most TLOG_ENTRY_DETECTION_NAME_MAX bytes,
 * one space apart, strictly ascending (bytewise), so that a set of names
 * has one encoding.
 */
static int
check_name_list(const char *s, size_t n, char *why, size_t whylen)
{
	const char *prev = NULL, *p = s, *end = s + n;
	size_t prevlen = 0, count = 0;

	while (p <= end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		size_t len = sp == NULL ? (size_t)(end - p) : (size_t)(sp - p);
		int c;

		if (len == 0) {
			vg_seterr(why, whylen, "is not names one space apart");
			return VG_EFORMAT;
		}
		if (len > TLOG_ENTRY_DETECTION_NAME_MAX) {
			vg_seterr(why, whylen,
				  "has a name longer than %d bytes",
				  TLOG_ENTRY_DETECTION_NAME_MAX);
			return VG_ELIMIT;
		}
		if (++count > TLOG_ENTRY_DETECTIONS_MAX) {
			vg_seterr(why, whylen, "has more than %d names",
				  TLOG_ENTRY_DETECTIONS_MAX);
			return VG_ELIMIT;
		}
		for (size_t i = 0; i < len; i++)
			if (p[i] <= ' ' || p[i] >= 0x7f) {
				vg_seterr(why, whylen,
					  "has a name that is not printable "
					  "ASCII");
				return VG_EFORMAT;
			}
		if (prev != NULL) {
			c = memcmp(prev, p, prevlen < len ? prevlen : len);
			if (c > 0 || (c == 0 && prevlen >= len)) {
				vg_seterr(why, whylen,
					  "has names not in strictly ascending "
					  "order");
				return VG_EFORMAT;
			}
		}
		prev = p;
		prevlen = len;
		if (sp == NULL)
			break;
		p = sp + 1;
	}
	return 0;
}

/*
 * Checks the value s[0..n) of a string field f. Returns 0, VG_EFORMAT or
 * VG_ELIMIT (VG_ELIB if a log key cannot be hashed) with the reason in
 * why, worded to follow "field <name> ".
 */
static int
check_string(const struct field *f, const char *s, size_t n, char *why,
	     size_t whylen)
{
	bool ok = true;

	if (n == 0) {
		vg_seterr(why, whylen, "is empty");
		return VG_EFORMAT;
	}
	if (n > f->max && f->kind != K_KEY_ID && f->kind != K_ACTION) {
		vg_seterr(why, whylen, "is longer than %zu bytes", f->max);
		return VG_ELIMIT;
	}
	switch (f->kind) {
	case K_LABEL:
		if (!all_of(s, n, is_lower_alnum, "-")) {
			vg_seterr(why, whylen,
				  "is not lowercase letters, digits and '-'");
			return VG_EFORMAT;
		}
		return 0;
	case K_NAME:
		if (!is_lower_alnum(s[0]) ||
		    !all_of(s, n, is_lower_alnum, ".+-")) {
			vg_seterr(why, whylen,
				  "is not a lowercase letter or digit, then "
				  "lowercase letters, digits, '.', '+' and "
				  "'-'");
			return VG_EFORMAT;
		}
		return 0;
	case K_VERSION:
		if (!is_alnum(s[0]) || !all_of(s, n, is_alnum, ".+~_:-")) {
			vg_seterr(why, whylen,
				  "is not a letter or digit, then letters, "
				  "digits, '.', '+', '~', '_', ':' and '-'");
			return VG_EFORMAT;
		}
		return 0;
	case K_IDENT:
		for (size_t i = 0; i < n; i++)
			ok = ok && s[i] > ' ' && s[i] < 0x7f;
		if (!ok) {
			vg_seterr(why, whylen,
				  "is not printable ASCII without spaces");
			return VG_EFORMAT;
		}
		return 0;
	case K_TEXT: return check_text(s, n, why, whylen);
	case K_LOG_KEY: return check_log_key(s, n, why, whylen);
	case K_KEY_ID:
		if (n != KEY_ID_HEX || !hex_is_lower(s, n)) {
			vg_seterr(why, whylen, "is not %d lowercase hex digits",
				  KEY_ID_HEX);
			return VG_EFORMAT;
		}
		return 0;
	case K_ACTION:
		if ((n != strlen(TLOG_RETRACTION_RETRACT) ||
		     memcmp(s, TLOG_RETRACTION_RETRACT, n) != 0) &&
		    (n != strlen(TLOG_RETRACTION_REINSTATE) ||
		     memcmp(s, TLOG_RETRACTION_REINSTATE, n) != 0)) {
			vg_seterr(why, whylen, "is not %s or %s",
				  TLOG_RETRACTION_RETRACT,
				  TLOG_RETRACTION_REINSTATE);
			return VG_EFORMAT;
		}
		return 0;
	case K_NAME_LIST: return check_name_list(s, n, why, whylen);
	case K_DAY: {
		int64_t start;

		if (!text_day_parse(s, n, &start)) {
			vg_seterr(why, whylen,
				  "is not a day YYYY-MM-DD from 1970 to 9999");
			return VG_EFORMAT;
		}
		return 0;
	}
	default: break;
	}
	fatal("field %s is not a string", f->name);
}

/* Checks that the n hashes at h are strictly ascending. */
static bool
hashes_ascending(const uint8_t *h, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (memcmp(h + (i - 1) * TLOG_ENTRY_HASH_LEN,
			   h + i * TLOG_ENTRY_HASH_LEN,
			   TLOG_ENTRY_HASH_LEN) >= 0)
			return false;
	return true;
}

/* --- time ------------------------------------------------------------ */

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
month_days(int64_t y, unsigned m)
{
	static const unsigned days[] = {31, 28, 31, 30, 31, 30,
					31, 31, 30, 31, 30, 31};

	return days[m - 1] + (m == 2 && is_leap(y));
}

/* Days from 1970-01-01 to y-m-d (H. Hinnant's days_from_civil, for
 * y >= 1969). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * ((int64_t)m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Writes the n low decimal digits of v (>= 0) at p. */
static void
put_digits(char *p, int64_t v, size_t n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

int
tlog_entry_time_format(int64_t t, char buf[TLOG_ENTRY_TIME_LEN])
{
	int64_t z, era, doe, yoe, y, doy, mp, d, m, secs;

	if (t < 0 || t > TLOG_ENTRY_TIME_MAX)
		return VG_EINVAL;
	z = t / 86400 + 719468;
	secs = t % 86400;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	memcpy(buf, "0000-00-00T00:00:00Z", TLOG_ENTRY_TIME_LEN);
	put_digits(buf, y, 4);
	put_digits(buf + 5, m, 2);
	put_digits(buf + 8, d, 2);
	put_digits(buf + 11, secs / 3600, 2);
	put_digits(buf + 14, secs / 60 % 60, 2);
	put_digits(buf + 17, secs % 60, 2);
	return 0;
}

/* Reads n decimal digits at s; false if any is not a digit. */
static bool
digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* Parses exactly "YYYY-MM-DDTHH:MM:SSZ", 1970 to 9999, no leap second. */
static bool
time_parse(const char *s, size_t n, int64_t *out)
{
	unsigned y, mo, d, h, mi, sec;

	if (n != TIME_CHARS || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || s[19] != 'Z' || !digits(s, 4, &y) ||
	    !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
	    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) ||
	    !digits(s + 17, 2, &sec))
		return false;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) ||
	    h > 23 || mi > 59 || sec > 59)
		return false;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return true;
}

/* --- bodies ---------------------------------------------------------- */

/*
 * Checks body b[0..n) for type ts. Line numbers in messages start at
 * first and follow "where" ("line", "body line"). Returns 0 or VG_EFORMAT
 * with a message in err.
 */
static int
check_body(const struct type_spec *ts, const char *b, size_t n,
	   const char *where, unsigned first, char *err, size_t errlen)
{
	unsigned line = first;
	bool blank = true;

	if (ts->body == BODY_NONE && n > 0) {
		vg_seterr(err, errlen, "%s %u: type %s has no body", where,
			  line, ts->name);
		return VG_EFORMAT;
	}
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = text_utf8_decode(b + i, n - i, &cp);

		if (l == 0) {
			vg_seterr(err, errlen, "%s %u: body is not UTF-8",
				  where, line);
			return VG_EFORMAT;
		}
		if (cp == '\r') {
			vg_seterr(err, errlen,
				  "%s %u: carriage return in the body (lines "
				  "end in LF alone)",
				  where, line);
			return VG_EFORMAT;
		}
		if ((cp < 0x20 && cp != '\n' && cp != '\t') ||
		    (cp >= 0x7f && cp <= 0x9f)) {
			vg_seterr(err, errlen,
				  "%s %u: control character U+%04" PRIX32
				  " in the body",
				  where, line, cp);
			return VG_EFORMAT;
		}
		line += cp == '\n';
		blank = blank && tlog_is_space(cp);
		i += l;
	}
	if (ts->body == BODY_REQUIRED && blank) {
		vg_seterr(err, errlen,
			  "%s %u: type %s needs a body that is not empty or "
			  "only white space",
			  where, first, ts->name);
		return VG_EFORMAT;
	}
	return 0;
}

/* --- parsing --------------------------------------------------------- */

struct reader {
	const char *p, *end;
	unsigned line; /* of the line last taken */
};

/* Takes the next line, without its LF; false if no LF is left. */
static bool
take_line(struct reader *r, const char **s, size_t *n)
{
	const char *nl = tlog_memchr(r->p, (size_t)(r->end - r->p), '\n');

	if (nl == NULL)
		return false;
	*s = r->p;
	*n = (size_t)(nl - r->p);
	r->p = nl + 1;
	r->line++;
	return true;
}

/* A header line "<name> <value>". */
struct hline {
	const char *name, *val;
	size_t nlen, vlen;
};

static bool
name_ok(const char *s, size_t n)
{
	return n > 0 && n <= NAME_MAX_LEN && s[0] >= 'a' && s[0] <= 'z' &&
	       all_of(s, n, is_lower_alnum, "-");
}

static bool
name_is(const struct hline *h, const char *name)
{
	return h->nlen == strlen(name) && memcmp(h->name, name, h->nlen) == 0;
}

/* Splits header line s[0..n) (not empty) into *h. Returns 0 or VG_EFORMAT
 * with a message. */
static int
split_line(const char *s, size_t n, unsigned no, struct hline *h, char *err,
	   size_t errlen)
{
	const char *sp;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r') {
			vg_seterr(err, errlen,
				  "line %u: carriage return (lines end in LF "
				  "alone)",
				  no);
			return VG_EFORMAT;
		}
		if (c < 0x20 || c == 0x7f) {
			vg_seterr(err, errlen,
				  "line %u: control character 0x%02x", no, c);
			return VG_EFORMAT;
		}
	}
	sp = tlog_memchr(s, n, ' ');
	h->name = s;
	h->nlen = sp == NULL ? n : (size_t)(sp - s);
	if (!name_ok(h->name, h->nlen)) {
		vg_seterr(err, errlen,
			  "line %u: not \"<field> <value>\" with a field name "
			  "of lowercase letters, digits and '-'",
			  no);
		return VG_EFORMAT;
	}
	if (sp == NULL) {
		vg_seterr(err, errlen, "line %u: field %.*s has no value", no,
			  (int)h->nlen, h->name);
		return VG_EFORMAT;
	}
	h->val = sp + 1;
	h->vlen = n - h->nlen - 1;
	return 0;
}

/* True if a header line after r's position names field `name`. */
static bool
ahead(struct reader r, const char *name)
{
	size_t nl = strlen(name), n;
	const char *s;

	while (take_line(&r, &s, &n) && n > 0)
		if (n >= nl && memcmp(s, name, nl) == 0 &&
		    (n == nl || s[nl] == ' '))
			return true;
	return false;
}

/*
 * Explains why header line h (just taken by r) is not names[k], the
 * expected one (k == n: the empty line). names[0..n) are the header's
 * names in order; type is the type's name once known.
 */
static int
misplaced(const struct reader *r, const struct hline *h,
	  const char *const *names, size_t n, size_t k, const char *type,
	  char *err, size_t errlen)
{
	int nl = (int)h->nlen;

	for (size_t i = 0; i < k; i++)
		if (name_is(h, names[i])) {
			vg_seterr(err, errlen, "line %u: duplicate field %.*s",
				  r->line, nl, h->name);
			return VG_EFORMAT;
		}
	for (size_t i = k + 1; i < n; i++)
		if (name_is(h, names[i])) {
			if (ahead(*r, names[k]))
				vg_seterr(err, errlen,
					  "line %u: field %.*s out of order "
					  "(%s comes first)",
					  r->line, nl, h->name, names[k]);
			else
				vg_seterr(err, errlen,
					  "line %u: missing field %s", r->line,
					  names[k]);
			return VG_EFORMAT;
		}
	if (k < 2)
		vg_seterr(err, errlen, "line %u: missing field %s", r->line,
			  names[k]);
	else
		vg_seterr(err, errlen,
			  "line %u: unknown field %.*s for type %s", r->line,
			  nl, h->name, type);
	return VG_EFORMAT;
}

/* A bump allocator over the block an entry owns. */
struct arena {
	char *buf;
	size_t used, cap;
};

static void *
arena_take(struct arena *a, size_t n)
{
	void *p = a->buf + a->used;

	if (n > a->cap - a->used)
		fatal("arena of %zu bytes exhausted", a->cap);
	a->used += n;
	return p;
}

static const char *
arena_str(struct arena *a, const char *s, size_t n)
{
	char *p = arena_take(a, n + 1);

	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Parses the value v[0..n) of field f into its member of *t. Returns 0 or
 * VG_EFORMAT / VG_ELIMIT / VG_ELIB with the reason in why. */
static int
parse_value(const struct field *f, const char *v, size_t n,
	    struct tlog_entry *t, struct arena *a, char *why, size_t whylen)
{
	char *member = (char *)t + f->off;
	uint8_t *hashes;
	size_t count;
	uint64_t u;
	int rc;

	switch (f->kind) {
	case K_SHA256:
		if (!sha256_decode(v, n, (uint8_t *)member)) {
			vg_seterr(why, whylen, "is not %d lowercase hex digits",
				  SHA256_HEX);
			return VG_EFORMAT;
		}
		return 0;
	case K_SHA256_LIST:
		if (n % (SHA256_HEX + 1) != SHA256_HEX) {
			vg_seterr(why, whylen,
				  "is not SHA-256s of %d lowercase hex digits "
				  "one space apart",
				  SHA256_HEX);
			return VG_EFORMAT;
		}
		count = n / (SHA256_HEX + 1) + 1;
		if (count > TLOG_ENTRY_HASHES_MAX) {
			vg_seterr(why, whylen, "has more than %d hashes",
				  TLOG_ENTRY_HASHES_MAX);
			return VG_ELIMIT;
		}
		hashes = arena_take(a, count * TLOG_ENTRY_HASH_LEN);
		for (size_t i = 0; i < count; i++) {
			const char *h = v + i * (SHA256_HEX + 1);

			if ((i > 0 && h[-1] != ' ') ||
			    !sha256_decode(h, SHA256_HEX,
					   hashes + i * TLOG_ENTRY_HASH_LEN)) {
				vg_seterr(why, whylen,
					  "is not SHA-256s of %d lowercase "
					  "hex digits one space apart",
					  SHA256_HEX);
				return VG_EFORMAT;
			}
		}
		if (!hashes_ascending(hashes, count)) {
			vg_seterr(why, whylen,
				  "has hashes not in strictly ascending "
				  "order");
			return VG_EFORMAT;
		}
		*(const uint8_t **)member = hashes;
		*(size_t *)((char *)t + f->off_n) = count;
		return 0;
	case K_COUNT:
		if (n > f->max) {
			vg_seterr(why, whylen, "is longer than %zu bytes",
				  f->max);
			return VG_ELIMIT;
		}
		if (tlog_parse_u64(v, n, &u) != 0 || u > TLOG_ENTRY_COUNT_MAX) {
			vg_seterr(why, whylen,
				  "is not a decimal without leading zeros "
				  "from 0 to 2^53-1");
			return VG_EFORMAT;
		}
		*(uint64_t *)member = u;
		return 0;
	default:
		if ((rc = check_string(f, v, n, why, whylen)) != 0)
			return rc;
		*(const char **)member = arena_str(a, v, n);
		return 0;
	}
}

int
tlog_entry_parse(const char *buf, size_t len, struct tlog_entry *e, char *err,
		 size_t errlen)
{
	const char *names[2 + FIELDS_MAX] = {"type", "time"};
	const struct type_spec *ts = NULL;
	struct reader r = {buf, buf + len, 0};
	struct arena a = {NULL, 0, 0};
	struct tlog_entry t;
	struct hline h;
	size_t nnames = 2, n = 0, k;
	const char *s = NULL;
	char why[160];
	int rc;

	if (len > TLOG_ENTRY_MAX) {
		vg_seterr(err, errlen, "entry longer than %d bytes",
			  TLOG_ENTRY_MAX);
		return VG_ELIMIT;
	}
	if (!take_line(&r, &s, &n) || n != strlen(TLOG_ENTRY_MAGIC) ||
	    memcmp(s, TLOG_ENTRY_MAGIC, n) != 0) {
		if (r.line == 1 && n > 0 && s[n - 1] == '\r')
			vg_seterr(err, errlen,
				  "line 1: carriage return (lines end in LF "
				  "alone)");
		else if (len >= strlen(MAGIC_PREFIX) &&
			 memcmp(buf, MAGIC_PREFIX, strlen(MAGIC_PREFIX)) == 0)
			vg_seterr(err, errlen,
				  "line 1: not \"%s\": another version of "
				  "the format",
				  TLOG_ENTRY_MAGIC);
		else
			vg_seterr(err, errlen,
				  "line 1: not \"%s\": not a log entry",
				  TLOG_ENTRY_MAGIC);
		return VG_EFORMAT;
	}
	memset(&t, 0, sizeof(t));
	a.cap = len + 1 + TLOG_ENTRY_HASHES_MAX * TLOG_ENTRY_HASH_LEN;
	a.buf = xmalloc(a.cap);
	for (k = 0;; k++) {
		rc = VG_EFORMAT;
		if (!take_line(&r, &s, &n)) {
			if (r.p < r.end)
				vg_seterr(err, errlen,
					  "line %u: no newline at its end",
					  r.line + 1);
			else if (k < nnames)
				vg_seterr(err, errlen,
					  "line %u: missing field %s",
					  r.line + 1, names[k]);
			else
				vg_seterr(err, errlen,
					  "line %u: missing the empty line "
					  "after the fields",
					  r.line + 1);
			goto out;
		}
		if (n == 0) {
			if (k < nnames) {
				vg_seterr(err, errlen,
					  "line %u: missing field %s", r.line,
					  names[k]);
				goto out;
			}
			break;
		}
		if (split_line(s, n, r.line, &h, err, errlen) != 0)
			goto out;
		if (k == nnames || !name_is(&h, names[k])) {
			rc = misplaced(&r, &h, names, nnames, k,
				       ts != NULL ? ts->name : "", err, errlen);
			goto out;
		}
		if (k == 0) {
			if ((ts = spec_by_name(h.val, h.vlen)) == NULL) {
				vg_seterr(err, errlen, "line %u: unknown type",
					  r.line);
				goto out;
			}
			t.type = (enum tlog_entry_type)(ts - types);
			for (size_t i = 0; i < ts->nfields; i++)
				names[nnames++] = ts->fields[i].name;
		} else if (k == 1) {
			if (!time_parse(h.val, h.vlen, &t.time)) {
				vg_seterr(err, errlen,
					  "line %u: time is not "
					  "YYYY-MM-DDTHH:MM:SSZ from 1970 "
					  "to 9999",
					  r.line);
				goto out;
			}
		} else if ((rc = parse_value(&ts->fields[k - 2], h.val, h.vlen,
					     &t, &a, why, sizeof(why))) != 0) {
			vg_seterr(err, errlen, "line %u: field %s %s", r.line,
				  names[k], why);
			goto out;
		}
	}
	n = (size_t)(r.end - r.p);
	if ((rc = check_body(ts, r.p, n, "line", r.line + 1, err, errlen)) != 0)
		goto out;
	t.body = arena_str(&a, r.p, n);
	t.body_len = n;
	t.mem = a.buf;
	*e = t;
	return 0;
out:
	free(a.buf);
	return rc;
}

void
tlog_entry_clear(struct tlog_entry *e)
{
	free(e->mem);
	memset(e, 0, sizeof(*e));
}

/* --- encoding -------------------------------------------------------- */

/*
 * Checks e the way the parser checks bytes. Returns 0, or VG_EINVAL,
 * VG_ELIMIT or VG_ELIB with a message naming the field in err.
 */
static int
check_entry(const struct tlog_entry *e, const struct type_spec **tsp, char *err,
	    size_t errlen)
{
	const struct type_spec *ts = spec_of(e->type);
	char why[160];
	int rc;

	if (ts == NULL) {
		vg_seterr(err, errlen, "no entry type %d", (int)e->type);
		return VG_EINVAL;
	}
	if (e->time < 0 || e->time > TLOG_ENTRY_TIME_MAX) {
		vg_seterr(err, errlen,
			  "time %" PRId64 " is not from 1970 to 9999", e->time);
		return VG_EINVAL;
	}
	for (size_t i = 0; i < ts->nfields; i++) {
		const struct field *f = &ts->fields[i];
		const char *member = (const char *)e + f->off;
		const char *s;
		const uint8_t *hs;
		size_t n;

		switch (f->kind) {
		case K_SHA256: continue;
		case K_SHA256_LIST:
			hs = *(const uint8_t *const *)member;
			n = *(const size_t *)((const char *)e + f->off_n);
			if (n > TLOG_ENTRY_HASHES_MAX) {
				vg_seterr(err, errlen,
					  "field %s has more than %d hashes",
					  f->name, TLOG_ENTRY_HASHES_MAX);
				return VG_ELIMIT;
			}
			if (n == 0 || hs == NULL) {
				vg_seterr(err, errlen, "field %s is missing",
					  f->name);
				return VG_EINVAL;
			}
			if (!hashes_ascending(hs, n)) {
				vg_seterr(err, errlen,
					  "field %s has hashes not in "
					  "strictly ascending order",
					  f->name);
				return VG_EINVAL;
			}
			continue;
		case K_COUNT:
			if (*(const uint64_t *)member > TLOG_ENTRY_COUNT_MAX) {
				vg_seterr(err, errlen,
					  "field %s is above 2^53-1", f->name);
				return VG_EINVAL;
			}
			continue;
		default: break;
		}
		if ((s = *(const char *const *)member) == NULL) {
			vg_seterr(err, errlen, "field %s is missing", f->name);
			return VG_EINVAL;
		}
		/* Bounded: a longer value is refused whatever it holds. */
		n = strnlen(s, TLOG_ENTRY_MAX + 1);
		if ((rc = check_string(f, s, n, why, sizeof(why))) != 0) {
			vg_seterr(err, errlen, "field %s %s", f->name, why);
			return rc == VG_EFORMAT ? VG_EINVAL : rc;
		}
	}
	if (e->body_len > 0 && e->body == NULL) {
		vg_seterr(err, errlen, "body is NULL");
		return VG_EINVAL;
	}
	if (e->body_len > TLOG_ENTRY_MAX) {
		vg_seterr(err, errlen, "body longer than %d bytes",
			  TLOG_ENTRY_MAX);
		return VG_ELIMIT;
	}
	if (check_body(ts, e->body, e->body_len, "body line", 1, err, errlen) !=
	    0)
		return VG_EINVAL;
	*tsp = ts;
	return 0;
}

/* An output buffer of at most TLOG_ENTRY_MAX bytes. */
struct out {
	char *b;
	size_t n;
	bool over;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->over || n > TLOG_ENTRY_MAX - o->n) {
		o->over = true;
		return;
	}
	if (n > 0)
		memcpy(o->b + o->n, s, n);
	o->n += n;
}

static void
put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

int
tlog_entry_encode(const struct tlog_entry *e, char **out, size_t *len,
		  char *err, size_t errlen)
{
	const struct type_spec *ts;
	struct out o = {NULL, 0, false};
	char tbuf[TLOG_ENTRY_TIME_LEN], num[TLOG_U64_DIGITS + 1];
	char hex[2 * TLOG_ENTRY_HASH_LEN + 1];
	int rc;

	if ((rc = check_entry(e, &ts, err, errlen)) != 0)
		return rc;
	o.b = xmalloc(TLOG_ENTRY_MAX + 1);
	put_str(&o, TLOG_ENTRY_MAGIC "\ntype ");
	put_str(&o, ts->name);
	put_str(&o, "\ntime ");
	(void)tlog_entry_time_format(e->time, tbuf);
	put_str(&o, tbuf);
	put_str(&o, "\n");
	for (size_t i = 0; i < ts->nfields; i++) {
		const struct field *f = &ts->fields[i];
		const char *member = (const char *)e + f->off;
		const uint8_t *hs;
		size_t n;

		put_str(&o, f->name);
		put_str(&o, " ");
		switch (f->kind) {
		case K_SHA256:
			hex_encode((const uint8_t *)member, TLOG_ENTRY_HASH_LEN,
				   hex);
			put_str(&o, hex);
			break;
		case K_SHA256_LIST:
			hs = *(const uint8_t *const *)member;
			n = *(const size_t *)((const char *)e + f->off_n);
			for (size_t j = 0; j < n; j++) {
				hex_encode(hs + j * TLOG_ENTRY_HASH_LEN,
					   TLOG_ENTRY_HASH_LEN, hex);
				if (j > 0)
					put_str(&o, " ");
				put_str(&o, hex);
			}
			break;
		case K_COUNT:
			snprintf(num, sizeof(num), "%" PRIu64,
				 *(const uint64_t *)member);
			put_str(&o, num);
			break;
		default: put_str(&o, *(const char *const *)member); break;
		}
		put_str(&o, "\n");
	}
	put_str(&o, "\n");
	put(&o, e->body, e->body_len);
	if (o.over) {
		free(o.b);
		vg_seterr(err, errlen, "entry longer than %d bytes",
			  TLOG_ENTRY_MAX);
		return VG_ELIMIT;
	}
	o.b[o.n] = '\0';
	*out = xreallocarray(o.b, o.n + 1, 1);
	*len = o.n;
	return 0;
}

int
tlog_entry_to_json(const struct tlog_entry *e, char **out)
{
	const struct type_spec *ts;
	char tbuf[TLOG_ENTRY_TIME_LEN], hex[2 * TLOG_ENTRY_HASH_LEN + 1];
	char *s, *enc;
	uint64_t count; /* at most 2^53-1: fits a json_int_t */
	size_t len;
	json_t *j;
	int rc;

	/* Whatever encodes has valid UTF-8 everywhere, which JSON needs. */
	if ((rc = tlog_entry_encode(e, &enc, &len, NULL, 0)) != 0)
		return rc;
	free(enc);
	ts = spec_of(e->type);
	(void)tlog_entry_time_format(e->time, tbuf);
	if ((j = json_object()) == NULL)
		fatal("out of memory");
	json_object_set_new(j, "type", json_string(ts->name));
	json_object_set_new(j, "time", json_string(tbuf));
	for (size_t i = 0; i < ts->nfields; i++) {
		const struct field *f = &ts->fields[i];
		const char *member = (const char *)e + f->off;
		const uint8_t *hs;
		json_t *v, *a;
		size_t n;

		switch (f->kind) {
		case K_SHA256:
			hex_encode((const uint8_t *)member, TLOG_ENTRY_HASH_LEN,
				   hex);
			v = json_string(hex);
			break;
		case K_SHA256_LIST:
			hs = *(const uint8_t *const *)member;
			n = *(const size_t *)((const char *)e + f->off_n);
			v = a = json_array();
			for (size_t k = 0; k < n; k++) {
				hex_encode(hs + k * TLOG_ENTRY_HASH_LEN,
					   TLOG_ENTRY_HASH_LEN, hex);
				json_array_append_new(a, json_string(hex));
			}
			break;
		case K_COUNT:
			count = *(const uint64_t *)member;
			v = json_integer((json_int_t)count);
			break;
		case K_NAME_LIST:
			v = a = json_array();
			for (const char *p = *(const char *const *)member, *sp;;
			     p = sp + 1) {
				sp = strchr(p, ' ');
				json_array_append_new(
					a,
					sp ? json_stringn(p, (size_t)(sp - p))
					   : json_string(p));
				if (sp == NULL)
					break;
			}
			break;
		default: v = json_string(*(const char *const *)member); break;
		}
		json_object_set_new(j, f->name, v);
	}
	json_object_set_new(
		j, "body",
		json_stringn(e->body_len > 0 ? e->body : "", e->body_len));
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (s == NULL)
		fatal("out of memory");
	*out = s;
	return 0;
}

/* --- administrative entries ------------------------------------------ */

int
tlog_entry_admin(enum tlog_entry_type t, int64_t when, const char *body,
		 size_t body_len, struct tlog_entry *e, char *err,
		 size_t errlen)
{
	const struct type_spec *ts = spec_of(t);
	struct tlog_entry x;
	size_t head;
	char *copy;
	int rc;

	if (body_len > 0 && body == NULL) {
		vg_seterr(err, errlen, "body is NULL");
		return VG_EINVAL;
	}
	if (ts == NULL || ts->body != BODY_REQUIRED) {
		vg_seterr(err, errlen, "%s is not an administrative entry type",
			  ts != NULL ? ts->name : "this");
		return VG_EINVAL;
	}
	if (when < 0 || when > TLOG_ENTRY_TIME_MAX) {
		vg_seterr(err, errlen,
			  "time %" PRId64 " is not from 1970 to 9999", when);
		return VG_EINVAL;
	}
	/* The header: the magic, "type <name>", "time <20>", empty line. */
	head = strlen(TLOG_ENTRY_MAGIC) + 1 + 5 + strlen(ts->name) + 1 + 5 +
	       TIME_CHARS + 1 + 1;
	if (body_len > TLOG_ENTRY_MAX - head) {
		vg_seterr(err, errlen,
			  "body longer than %zu bytes, the most a %s entry "
			  "holds",
			  TLOG_ENTRY_MAX - head, ts->name);
		return VG_ELIMIT;
	}
	if ((rc = check_body(ts, body, body_len, "line", 1, err, errlen)) != 0)
		return rc;
	copy = xmalloc(body_len + 1);
	if (body_len > 0)
		memcpy(copy, body, body_len);
	copy[body_len] = '\0';
	memset(&x, 0, sizeof(x));
	x.type = t;
	x.time = when;
	x.body = copy;
	x.body_len = body_len;
	x.mem = copy;
	*e = x;
	return 0;
}

int
tlog_entry_sample_key_id(const uint8_t *key, size_t key_len,
			 char out[TLOG_ENTRY_KEY_ID_LEN])
{
	static const char prefix[] = "vigil.sample-key/v1\n";
	struct tlog_bytes parts[] = {{prefix, sizeof(prefix) - 1},
				     {key, key_len}};
	uint8_t sum[TLOG_SHA256_LEN];
	int rc;

	if ((rc = tlog_sha256(parts, 2, sum)) != 0)
		return rc;
	hex_encode(sum, (TLOG_ENTRY_KEY_ID_LEN - 1) / 2, out);
	return 0;
}
