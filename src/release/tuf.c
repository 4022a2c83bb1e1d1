/*
 * tuf.c - TUF manifests (see tuf.h and docs/RELEASES.md): the canonical
 * JSON encoder, key objects and IDs, the strict per-role schema of the
 * four manifests, Ed25519 signing and threshold verification, root
 * rotation, expiry, rollback and mix-and-match checks, targets and
 * artifacts, release key files, and the one time format manifests use.
 *
 * Everything here treats its input as hostile: a manifest is parsed with
 * duplicate members refused and a size limit, every member is checked
 * for its type and range, anything not in the schema is refused, and the
 * "signed" part must have exactly one canonical encoding before anything
 * is said about its signatures.
 */
#include "release/tuf.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/secretfile.h"
#include "common/xmalloc.h"

/* Canonical output larger than this is refused (VG_ELIMIT). */
#define CJSON_MAX (256u << 20)
/* Deeper nesting is refused; manifests nest six levels at most. */
#define CJSON_DEPTH_MAX 64
/* What a manifest's signatures may add to its "signed" part: the
 * envelope and TUF_SIGS_MAX {"keyid":"<64>","sig":"<128>"} entries. */
#define SIGS_RESERVE (64 + TUF_SIGS_MAX * 220)
/* A .pub file holds one key object. */
#define PUBFILE_MAX 4096

#define KEYFILE_MAGIC "vigil-release-key/v1 ed25519 "
#define KEYFILE_LEN   (sizeof(KEYFILE_MAGIC) - 1 + 64 + 1)

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define TIME_MIN INT64_C(-62167219200)
#define TIME_MAX INT64_C(253402300799)

static const char *const role_names[TUF_NROLES] = {
	"root",
	"targets",
	"snapshot",
	"timestamp",
};

/* The members of root's "roles". */
static const char *const role_members_all[] = {
	"root", "targets", "snapshot", "timestamp", NULL,
};

static const char *const role_files[TUF_NROLES] = {
	"root.json",
	"targets.json",
	"snapshot.json",
	"timestamp.json",
};

const char *
tuf_role_name(enum tuf_role role)
{
	if ((unsigned)role >= TUF_NROLES)
		return "unknown";
	return role_names[role];
}

static const char *
role_file(enum tuf_role role)
{
	if ((unsigned)role >= TUF_NROLES)
		return "manifest";
	return role_files[role];
}

/* ---- results ---- */

static void
result_ok(struct tuf_result *r)
{
	if (r != NULL) {
		r->fail = TUF_OK;
		r->msg[0] = '\0';
	}
}

/* Fills r and returns the code for its class: VG_EFORMAT for a malformed
 * manifest, VG_EVERIFY for a refused one. */
static int __attribute__((format(printf, 3, 4)))
fail(struct tuf_result *r, enum tuf_fail cls, const char *fmt, ...)
{
	va_list ap;

	if (r != NULL) {
		r->fail = cls;
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
	return cls == TUF_FAIL_FORMAT ? VG_EFORMAT : VG_EVERIFY;
}

/* Appends to r's message, truncating at its end. */
static void __attribute__((format(printf, 2, 3)))
append(struct tuf_result *r, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (r == NULL)
		return;
	used = strlen(r->msg);
	if (used + 1 >= sizeof(r->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(r->msg + used, sizeof(r->msg) - used, fmt, ap);
	va_end(ap);
}

/* Writes s[0..n) for a message: printable ASCII as is, anything else as
 * '?', at most 64 bytes and "..." after. */
static void
printable(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 4 < outlen && i < 64; i++)
		out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < n && o + 4 <= outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* ---- canonical JSON ---- */

struct cj {
	char *buf;
	size_t len, cap;
	char path[160]; /* where the encoder is, for messages */
	char why[256];
};

static int
cj_put(struct cj *c, const void *s, size_t n)
{
	if (n > CJSON_MAX - c->len) {
		snprintf(c->why, sizeof(c->why), "larger than %u bytes",
			 CJSON_MAX);
		return VG_ELIMIT;
	}
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap == 0 ? 256 : c->cap;

		while (cap < c->len + n + 1)
			cap *= 2;
		c->buf = xreallocarray(c->buf, cap, 1);
		c->cap = cap;
	}
	memcpy(c->buf + c->len, s, n);
	c->len += n;
	c->buf[c->len] = '\0';
	return 0;
}

static int __attribute__((format(printf, 2, 3)))
cj_fail(struct cj *c, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(c->why, sizeof(c->why), "%.90s at %.150s", what,
		 c->path[0] != '\0' ? c->path : "the top");
	return VG_EFORMAT;
}

/* True if s[0..n) is valid UTF-8: shortest forms only, no surrogates,
 * nothing above U+10FFFF. */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], cp, min;
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* A string's bytes: valid UTF-8, no NUL, no control character (a raw
 * one would not be JSON, and escaping it would give a second encoding). */
static int
cj_string(struct cj *c, const char *s, size_t n, const char *what)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\0')
			return cj_fail(c, "%s with a NUL", what);
		if ((unsigned char)s[i] < 0x20)
			return cj_fail(c, "%s with control character 0x%02x",
				       what, (unsigned)(unsigned char)s[i]);
	}
	if (!utf8_valid((const unsigned char *)s, n))
		return cj_fail(c, "%s that is not valid UTF-8", what);
	if (cj_put(c, "\"", 1) != 0)
		return VG_ELIMIT;
	for (i = 0; i < n; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		if (cj_put(c, s + start, i - start) != 0 ||
		    cj_put(c, "\\", 1) != 0)
			return VG_ELIMIT;
		start = i;
	}
	if (cj_put(c, s + start, n - start) != 0 || cj_put(c, "\"", 1) != 0)
		return VG_ELIMIT;
	return 0;
}

struct member {
	const char *key;
	size_t klen;
	const json_t *value;
};

static int
member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int d = memcmp(x->key, y->key, n);

	if (d != 0)
		return d;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* The members of obj sorted by their names' bytes (the caller frees the
 * array); *n their number. */
static struct member *
sorted_members(const json_t *obj, size_t *n)
{
	json_t *o = (json_t *)obj; /* jansson's iterators take no const */
	size_t count = json_object_size(obj), i = 0;
	struct member *ms;

	ms = xcalloc(count == 0 ? 1 : count, sizeof(*ms));
	for (void *it = json_object_iter(o); it != NULL && i < count;
	     it = json_object_iter_next(o, it), i++) {
		ms[i].key = json_object_iter_key(it);
		ms[i].klen = json_object_iter_key_len(it);
		ms[i].value = json_object_iter_value(it);
	}
	*n = i;
	qsort(ms, i, sizeof(*ms), member_cmp);
	return ms;
}

static int cj_value(struct cj *c, const json_t *v, int depth);

static int
cj_object(struct cj *c, const json_t *v, int depth)
{
	size_t n, plen = strlen(c->path);
	struct member *ms = sorted_members(v, &n);
	int rc = 0;

	if ((rc = cj_put(c, "{", 1)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char name[80];

		/* Equal names can only come from an object built without
		 * jansson's checks; a parsed one refuses them. */
		if (i > 0 && member_cmp(&ms[i - 1], &ms[i]) == 0) {
			printable(ms[i].key, ms[i].klen, name, sizeof(name));
			rc = cj_fail(c, "a duplicate member \"%s\"", name);
			goto out;
		}
		if (i > 0 && (rc = cj_put(c, ",", 1)) != 0)
			goto out;
		if ((rc = cj_string(c, ms[i].key, ms[i].klen,
				    "a member name")) != 0)
			goto out;
		if ((rc = cj_put(c, ":", 1)) != 0)
			goto out;
		printable(ms[i].key, ms[i].klen, name, sizeof(name));
		snprintf(c->path + plen, sizeof(c->path) - plen, "%s%s",
			 plen > 0 ? "." : "", name);
		rc = cj_value(c, ms[i].value, depth + 1);
		c->path[plen] = '\0';
		if (rc != 0)
			goto out;
	}
	rc = cj_put(c, "}", 1);
out:
	free(ms);
	return rc;
}

static int
cj_value(struct cj *c, const json_t *v, int depth)
{
	char num[32];
	size_t plen;
	int rc;

	if (depth > CJSON_DEPTH_MAX)
		return cj_fail(c, "nesting deeper than %d", CJSON_DEPTH_MAX);
	switch (json_typeof(v)) {
	case JSON_OBJECT: return cj_object(c, v, depth);
	case JSON_ARRAY:
		if (cj_put(c, "[", 1) != 0)
			return VG_ELIMIT;
		plen = strlen(c->path);
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i > 0 && cj_put(c, ",", 1) != 0)
				return VG_ELIMIT;
			snprintf(c->path + plen, sizeof(c->path) - plen,
				 "[%zu]", i);
			rc = cj_value(c, json_array_get(v, i), depth + 1);
			c->path[plen] = '\0';
			if (rc != 0)
				return rc;
		}
		return cj_put(c, "]", 1);
	case JSON_STRING:
		return cj_string(c, json_string_value(v), json_string_length(v),
				 "a string");
	case JSON_INTEGER:
		if (json_integer_value(v) < 0)
			return cj_fail(c, "a negative integer (%lld)",
				       (long long)json_integer_value(v));
		if ((uint64_t)json_integer_value(v) > TUF_INT_MAX)
			return cj_fail(c, "an integer above 2^53-1 (%lld)",
				       (long long)json_integer_value(v));
		snprintf(num, sizeof(num), "%lld",
			 (long long)json_integer_value(v));
		return cj_put(c, num, strlen(num));
	case JSON_REAL:
		return cj_fail(c, "a real number (%g)", json_real_value(v));
	case JSON_TRUE: return cj_put(c, "true", 4);
	case JSON_FALSE: return cj_put(c, "false", 5);
	case JSON_NULL: return cj_put(c, "null", 4);
	}
	return cj_fail(c, "an unknown JSON type");
}

/* The canonical JSON of v into *out and *len, or a message in why that
 * names the place (from path0) and the value refused. */
static int
canonical(const json_t *v, const char *path0, char **out, size_t *len,
	  char *why, size_t whylen)
{
	struct cj c;
	int rc;

	memset(&c, 0, sizeof(c));
	*out = NULL;
	*len = 0;
	snprintf(c.path, sizeof(c.path), "%s", path0);
	if (v == NULL) {
		snprintf(why, whylen, "no value");
		return VG_EINVAL;
	}
	if ((rc = cj_value(&c, v, 0)) != 0) {
		snprintf(why, whylen, "%s", c.why);
		free(c.buf);
		return rc;
	}
	if (c.buf == NULL)
		c.buf = xstrdup("");
	*out = c.buf;
	*len = c.len;
	return 0;
}

int
tuf_cjson(const json_t *v, char **out, size_t *len)
{
	char why[256];

	return canonical(v, "", out, len, why, sizeof(why));
}

/* ---- keys ---- */

json_t *
tuf_key_json(const uint8_t pub[32])
{
	char hex[65];

	hex_encode(pub, 32, hex);
	return json_pack("{s:s, s:{s:s}, s:s}", "keytype", "ed25519", "keyval",
			 "public", hex, "scheme", "ed25519");
}

void
tuf_key_id(const uint8_t pub[32], char id[TUF_KEYID_LEN])
{
	char hex[65], text[128];
	uint8_t h[32];
	int n;

	/* The canonical JSON of tuf_key_json(pub), written directly: its
	 * members are fixed and its strings need no escape. */
	hex_encode(pub, 32, hex);
	n = snprintf(text, sizeof(text),
		     "{\"keytype\":\"ed25519\",\"keyval\":{\"public\":\"%s\"},"
		     "\"scheme\":\"ed25519\"}",
		     hex);
	crypto_hash_sha256(h, (const unsigned char *)text, (size_t)n);
	hex_encode(h, 32, id);
}

/* ---- schema checks ---- */

enum jt { T_OBJECT, T_ARRAY, T_STRING, T_INTEGER, T_BOOL };

static const char *const jt_names[] = {
	"an object", "an array", "a string", "an integer", "a boolean",
};

static bool
jt_is(const json_t *v, enum jt t)
{
	switch (t) {
	case T_OBJECT: return json_is_object(v);
	case T_ARRAY: return json_is_array(v);
	case T_STRING: return json_is_string(v);
	case T_INTEGER: return json_is_integer(v);
	case T_BOOL: return json_is_boolean(v);
	}
	return false;
}

static const char *
json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "unknown";
}

/* Refuses any member of obj (at where, in file) not named in names. */
static int
only_members(const json_t *obj, const char *const *names, const char *file,
	     const char *where, struct tuf_result *r)
{
	json_t *o = (json_t *)obj;

	for (void *it = json_object_iter(o); it != NULL;
	     it = json_object_iter_next(o, it)) {
		const char *k = json_object_iter_key(it);
		size_t klen = json_object_iter_key_len(it);
		bool known = false;
		char name[80];

		for (size_t i = 0; names[i] != NULL && !known; i++)
			known = strlen(names[i]) == klen &&
				memcmp(names[i], k, klen) == 0;
		if (!known) {
			printable(k, klen, name, sizeof(name));
			return fail(r, TUF_FAIL_FORMAT,
				    "%s: unknown member \"%s\" in %s", file,
				    name, where);
		}
	}
	return 0;
}

/* The member name of obj, of type t, into *out. */
static int
need(const json_t *obj, const char *name, enum jt t, const json_t **out,
     const char *file, const char *where, struct tuf_result *r)
{
	const json_t *v = json_object_get(obj, name);

	*out = NULL;
	if (v == NULL)
		return fail(r, TUF_FAIL_FORMAT, "%s: %s has no member \"%s\"",
			    file, where, name);
	if (!jt_is(v, t))
		return fail(r, TUF_FAIL_FORMAT, "%s: %s.%s is %s, not %s", file,
			    where, name, json_kind(v), jt_names[t]);
	*out = v;
	return 0;
}

/* An integer member from min to max. */
static int
need_uint(const json_t *obj, const char *name, uint64_t min, uint64_t max,
	  uint64_t *out, const char *file, const char *where,
	  struct tuf_result *r)
{
	const json_t *v;
	json_int_t i;
	int rc;

	if ((rc = need(obj, name, T_INTEGER, &v, file, where, r)) != 0)
		return rc;
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: %s.%s is %lld, not from %llu to %llu", file,
			    where, name, (long long)i, (unsigned long long)min,
			    (unsigned long long)max);
	*out = (uint64_t)i;
	return 0;
}

/* A string member of exactly 2n lowercase hex digits, decoded. */
static int
need_hex(const json_t *obj, const char *name, size_t n, uint8_t *out,
	 const char *file, const char *where, struct tuf_result *r)
{
	const json_t *v;
	int rc;

	if ((rc = need(obj, name, T_STRING, &v, file, where, r)) != 0)
		return rc;
	if (json_string_length(v) != 2 * n ||
	    !hex_decode_lower(json_string_value(v), n, out))
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: %s.%s is not %zu lowercase hex digits", file,
			    where, name, 2 * n);
	return 0;
}

/* {"sha256":"<64 hex>"} at obj.name. */
static int
need_hashes(const json_t *obj, uint8_t sha256[32], const char *file,
	    const char *where, struct tuf_result *r)
{
	static const char *const names[] = {"sha256", NULL};
	const json_t *h;
	char w[320];
	int rc;

	if ((rc = need(obj, "hashes", T_OBJECT, &h, file, where, r)) != 0)
		return rc;
	snprintf(w, sizeof(w), "%s.hashes", where);
	if ((rc = only_members(h, names, file, w, r)) != 0)
		return rc;
	return need_hex(h, "sha256", 32, sha256, file, w, r);
}

static int
key_parse(const json_t *key, uint8_t pub[32], const char *file,
	  const char *where, struct tuf_result *r)
{
	static const char *const names[] = {"keytype", "keyval", "scheme",
					    NULL};
	static const char *const valnames[] = {"public", NULL};
	const json_t *v;
	char w[320];
	int rc;

	if (!json_is_object(key))
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: %s is %s, not a key object", file, where,
			    key == NULL ? "missing" : json_kind(key));
	if ((rc = only_members(key, names, file, where, r)) != 0)
		return rc;
	if ((rc = need(key, "keytype", T_STRING, &v, file, where, r)) != 0)
		return rc;
	if (strcmp(json_string_value(v), "ed25519") != 0 ||
	    json_string_length(v) != 7)
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: %s.keytype is not \"ed25519\"", file, where);
	if ((rc = need(key, "scheme", T_STRING, &v, file, where, r)) != 0)
		return rc;
	if (strcmp(json_string_value(v), "ed25519") != 0 ||
	    json_string_length(v) != 7)
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: %s.scheme is not \"ed25519\"", file, where);
	if ((rc = need(key, "keyval", T_OBJECT, &v, file, where, r)) != 0)
		return rc;
	snprintf(w, sizeof(w), "%s.keyval", where);
	if ((rc = only_members(v, valnames, file, w, r)) != 0)
		return rc;
	return need_hex(v, "public", 32, pub, file, w, r);
}

int
tuf_key_parse(const json_t *key, uint8_t pub[32], struct tuf_result *r)
{
	int rc;

	if ((rc = key_parse(key, pub, "key", "the key object", r)) == 0)
		result_ok(r);
	return rc;
}

/* ---- target names ---- */

bool
tuf_target_name_valid(const char *name, size_t len)
{
	size_t start = 0;

	if (name == NULL || len < 1 || len > TUF_TARGET_NAME_MAX ||
	    name[0] == '/' || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-' || c == '/'))
			return false;
	}
	/* Every component names one thing: none empty, "." or "..". */
	for (size_t i = 0; i <= len; i++) {
		size_t n;

		if (i < len && name[i] != '/')
			continue;
		n = i - start;
		if (n == 0 || (n == 1 && name[start] == '.') ||
		    (n == 2 && name[start] == '.' && name[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

/* ---- manifests ---- */

static int
check_common(const json_t *s, enum tuf_role expect, const char *file,
	     uint64_t *version, int64_t *expires, struct tuf_result *r)
{
	const json_t *v;
	const char *str;
	char shown[80];
	size_t n, dots = 0, digits = 0;
	int rc;

	if ((rc = need(s, "_type", T_STRING, &v, file, "signed", r)) != 0)
		return rc;
	if (strcmp(json_string_value(v), role_names[expect]) != 0 ||
	    json_string_length(v) != strlen(role_names[expect])) {
		printable(json_string_value(v), json_string_length(v), shown,
			  sizeof(shown));
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: signed._type is \"%s\", not \"%s\"", file,
			    shown, role_names[expect]);
	}
	/* MAJOR.MINOR[.PATCH], digits only, major 1 (as python-tuf reads
	 * it): a client of 1.0 reads any 1.x manifest. */
	if ((rc = need(s, "spec_version", T_STRING, &v, file, "signed", r)) !=
	    0)
		return rc;
	str = json_string_value(v);
	n = json_string_length(v);
	for (size_t i = 0; i < n; i++) {
		if (str[i] == '.' && digits > 0) {
			dots++;
			digits = 0;
		} else if (str[i] >= '0' && str[i] <= '9' && digits < 9) {
			digits++;
		} else {
			dots = 99;
			break;
		}
	}
	if (digits == 0 || dots < 1 || dots > 2 || str[0] != '1' ||
	    str[1] != '.') {
		printable(str, n, shown, sizeof(shown));
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: signed.spec_version \"%s\" is not 1.x or "
			    "1.x.y (this client reads TUF %s)",
			    file, shown, TUF_SPEC_VERSION);
	}
	if ((rc = need_uint(s, "version", 1, TUF_INT_MAX, version, file,
			    "signed", r)) != 0)
		return rc;
	if ((rc = need(s, "expires", T_STRING, &v, file, "signed", r)) != 0)
		return rc;
	if (json_string_length(v) != 20 ||
	    tuf_time_parse(json_string_value(v), expires) != 0) {
		printable(json_string_value(v), json_string_length(v), shown,
			  sizeof(shown));
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: signed.expires \"%s\" is not a time "
			    "YYYY-MM-DDTHH:MM:SSZ",
			    file, shown);
	}
	return 0;
}

static bool
array_has_string(const json_t *a, const char *s, size_t upto)
{
	for (size_t i = 0; i < upto && i < json_array_size(a); i++) {
		const json_t *e = json_array_get(a, i);

		if (json_is_string(e) && strcmp(json_string_value(e), s) == 0)
			return true;
	}
	return false;
}

static int
check_root(const json_t *s, const char *file, struct tuf_result *r)
{
	static const char *const names[] = {
		"_type", "consistent_snapshot", "expires", "keys",
		"roles", "spec_version",        "version", NULL};
	static const char *const role_members[] = {"keyids", "threshold", NULL};
	const json_t *keys, *roles, *v;
	json_t *o;
	char w[320], shown[80];
	int rc;

	if ((rc = only_members(s, names, file, "signed", r)) != 0)
		return rc;
	if ((rc = need(s, "consistent_snapshot", T_BOOL, &v, file, "signed",
		       r)) != 0)
		return rc;
	if ((rc = need(s, "keys", T_OBJECT, &keys, file, "signed", r)) != 0)
		return rc;
	if (json_object_size(keys) > TUF_KEYS_MAX)
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: signed.keys has %zu keys, more than %d", file,
			    json_object_size(keys), TUF_KEYS_MAX);
	o = (json_t *)keys;
	for (void *it = json_object_iter(o); it != NULL;
	     it = json_object_iter_next(o, it)) {
		const char *id = json_object_iter_key(it);
		size_t idlen = json_object_iter_key_len(it);
		char want[TUF_KEYID_LEN];
		uint8_t pub[32];

		printable(id, idlen, shown, sizeof(shown));
		if (idlen != 64 || !hex_is_lower(id, idlen))
			return fail(r, TUF_FAIL_FORMAT,
				    "%s: signed.keys: \"%s\" is not a key ID "
				    "(64 lowercase hex digits)",
				    file, shown);
		snprintf(w, sizeof(w), "signed.keys.%.8s...", id);
		if ((rc = key_parse(json_object_iter_value(it), pub, file, w,
				    r)) != 0)
			return rc;
		tuf_key_id(pub, want);
		if (memcmp(want, id, 64) != 0)
			return fail(r, TUF_FAIL_FORMAT,
				    "%s: signed.keys: key ID %s is not the ID "
				    "of its key (which is %s)",
				    file, shown, want);
	}
	if ((rc = need(s, "roles", T_OBJECT, &roles, file, "signed", r)) != 0)
		return rc;
	if ((rc = only_members(roles, role_members_all, file, "signed.roles",
			       r)) != 0)
		return rc;
	for (int i = 0; i < TUF_NROLES; i++) {
		const json_t *role, *ids;
		size_t n;

		snprintf(w, sizeof(w), "signed.roles");
		if ((rc = need(roles, role_names[i], T_OBJECT, &role, file, w,
			       r)) != 0)
			return rc;
		snprintf(w, sizeof(w), "signed.roles.%s", role_names[i]);
		if ((rc = only_members(role, role_members, file, w, r)) != 0)
			return rc;
		if ((rc = need(role, "keyids", T_ARRAY, &ids, file, w, r)) != 0)
			return rc;
		n = json_array_size(ids);
		if (n > TUF_KEYS_MAX)
			return fail(r, TUF_FAIL_FORMAT,
				    "%s: %s.keyids has %zu keys, more than %d",
				    file, w, n, TUF_KEYS_MAX);
		for (size_t k = 0; k < n; k++) {
			const json_t *id = json_array_get(ids, k);

			if (!json_is_string(id))
				return fail(r, TUF_FAIL_FORMAT,
					    "%s: %s.keyids[%zu] is %s, not a "
					    "string",
					    file, w, k, json_kind(id));
			printable(json_string_value(id), json_string_length(id),
				  shown, sizeof(shown));
			if (json_string_length(id) != 64 ||
			    json_object_get(keys, json_string_value(id)) ==
				    NULL)
				return fail(r, TUF_FAIL_FORMAT,
					    "%s: %s.keyids[%zu] \"%s\" is not "
					    "a key of signed.keys",
					    file, w, k, shown);
			if (array_has_string(ids, json_string_value(id), k))
				return fail(r, TUF_FAIL_FORMAT,
					    "%s: %s.keyids names key %s twice",
					    file, w, shown);
		}
		if ((rc = need(role, "threshold", T_INTEGER, &v, file, w, r)) !=
		    0)
			return rc;
		if (json_integer_value(v) < 1 ||
		    (uint64_t)json_integer_value(v) > n)
			return fail(r, TUF_FAIL_FORMAT,
				    "%s: %s.threshold is %lld, not from 1 to "
				    "%zu (the number of its keyids)",
				    file, w, (long long)json_integer_value(v),
				    n);
	}
	return 0;
}

static int
check_targets(const json_t *s, const char *file, struct tuf_result *r)
{
	static const char *const names[] = {
		"_type", "expires", "spec_version", "targets", "version", NULL};
	static const char *const tnames[] = {"custom", "hashes", "length",
					     NULL};
	const json_t *targets, *v;
	json_t *o;
	int rc;

	if ((rc = only_members(s, names, file, "signed", r)) != 0)
		return rc;
	if ((rc = need(s, "targets", T_OBJECT, &targets, file, "signed", r)) !=
	    0)
		return rc;
	if (json_object_size(targets) > TUF_TARGETS_MAX)
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: signed.targets has %zu targets, more than %d",
			    file, json_object_size(targets), TUF_TARGETS_MAX);
	o = (json_t *)targets;
	for (void *it = json_object_iter(o); it != NULL;
	     it = json_object_iter_next(o, it)) {
		const char *name = json_object_iter_key(it);
		size_t nlen = json_object_iter_key_len(it);
		const json_t *t = json_object_iter_value(it);
		char shown[80], w[320];
		uint64_t length;
		uint8_t h[32];

		printable(name, nlen, shown, sizeof(shown));
		if (!tuf_target_name_valid(name, nlen))
			return fail(r, TUF_FAIL_FORMAT,
				    "%s: signed.targets: \"%s\" is not a "
				    "target name (1 to %d bytes of "
				    "[A-Za-z0-9._-/], not starting with '/' "
				    "or '.', no empty, . or .. component)",
				    file, shown, TUF_TARGET_NAME_MAX);
		snprintf(w, sizeof(w), "signed.targets[\"%s\"]", shown);
		if (!json_is_object(t))
			return fail(r, TUF_FAIL_FORMAT,
				    "%s: %s is %s, not an object", file, w,
				    json_kind(t));
		if ((rc = only_members(t, tnames, file, w, r)) != 0)
			return rc;
		if ((rc = need_uint(t, "length", 0, TUF_INT_MAX, &length, file,
				    w, r)) != 0)
			return rc;
		if ((rc = need_hashes(t, h, file, w, r)) != 0)
			return rc;
		if (json_object_get(t, "custom") != NULL &&
		    (rc = need(t, "custom", T_OBJECT, &v, file, w, r)) != 0)
			return rc;
	}
	return 0;
}

/* A snapshot's or a timestamp's "meta", naming exactly child. */
static int
check_metafile(const json_t *s, const char *child, const char *file,
	       struct tuf_result *r)
{
	static const char *const names[] = {"_type",        "expires", "meta",
					    "spec_version", "version", NULL};
	static const char *const enames[] = {"hashes", "length", "version",
					     NULL};
	const char *const mnames[] = {child, NULL};
	const json_t *meta, *e;
	uint64_t u;
	uint8_t h[32];
	char w[320];
	int rc;

	if ((rc = only_members(s, names, file, "signed", r)) != 0)
		return rc;
	if ((rc = need(s, "meta", T_OBJECT, &meta, file, "signed", r)) != 0)
		return rc;
	if ((rc = only_members(meta, mnames, file, "signed.meta", r)) != 0)
		return rc;
	if ((rc = need(meta, child, T_OBJECT, &e, file, "signed.meta", r)) != 0)
		return rc;
	snprintf(w, sizeof(w), "signed.meta[\"%s\"]", child);
	if ((rc = only_members(e, enames, file, w, r)) != 0)
		return rc;
	if ((rc = need_uint(e, "version", 1, TUF_INT_MAX, &u, file, w, r)) != 0)
		return rc;
	if ((rc = need_uint(e, "length", 0, TUF_INT_MAX, &u, file, w, r)) != 0)
		return rc;
	return need_hashes(e, h, file, w, r);
}

/* Rebuilds signed.targets with its members in name order, which
 * tuf_target_at() walks (jansson iterates in insertion order). */
static void
sort_targets(json_t *s)
{
	json_t *targets = json_object_get(s, "targets"), *sorted;
	struct member *ms;
	size_t n;

	ms = sorted_members(targets, &n);
	if ((sorted = json_object()) == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < n; i++)
		if (json_object_setn_nocheck(sorted, ms[i].key, ms[i].klen,
					     (json_t *)ms[i].value) != 0)
			fatal("out of memory");
	free(ms);
	if (json_object_set_new_nocheck(s, "targets", sorted) != 0)
		fatal("out of memory");
}

/* Checks doc (a reference the function takes) as a manifest of role
 * expect and fills m with it. */
static int
check_meta(json_t *doc, enum tuf_role expect, struct tuf_meta *m,
	   struct tuf_result *r)
{
	static const char *const names[] = {"signatures", "signed", NULL};
	static const char *const signames[] = {"keyid", "sig", NULL};
	const char *file = role_file(expect);
	const json_t *sigs, *sv;
	json_t *s;
	char why[256], *enc = NULL;
	uint64_t version;
	int64_t expires;
	size_t enclen;
	int rc;

	if (!json_is_object(doc)) {
		rc = fail(r, TUF_FAIL_FORMAT, "%s: %s, not an object", file,
			  json_kind(doc));
		goto out;
	}
	if ((rc = only_members(doc, names, file, "the manifest", r)) != 0)
		goto out;
	if ((rc = need(doc, "signatures", T_ARRAY, &sigs, file, "the manifest",
		       r)) != 0)
		goto out;
	if (json_array_size(sigs) > TUF_SIGS_MAX) {
		rc = fail(r, TUF_FAIL_FORMAT,
			  "%s: %zu signatures, more than %d", file,
			  json_array_size(sigs), TUF_SIGS_MAX);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(sigs); i++) {
		const json_t *sig = json_array_get(sigs, i);
		uint8_t id[32], bytes[64];
		char w[64];

		snprintf(w, sizeof(w), "signatures[%zu]", i);
		if (!json_is_object(sig)) {
			rc = fail(r, TUF_FAIL_FORMAT,
				  "%s: %s is %s, not an object", file, w,
				  json_kind(sig));
			goto out;
		}
		if ((rc = only_members(sig, signames, file, w, r)) != 0 ||
		    (rc = need_hex(sig, "keyid", 32, id, file, w, r)) != 0 ||
		    (rc = need_hex(sig, "sig", 64, bytes, file, w, r)) != 0)
			goto out;
	}
	if ((rc = need(doc, "signed", T_OBJECT, &sv, file, "the manifest",
		       r)) != 0)
		goto out;
	s = (json_t *)sv;
	if ((rc = check_common(s, expect, file, &version, &expires, r)) != 0)
		goto out;
	switch (expect) {
	case TUF_ROOT: rc = check_root(s, file, r); break;
	case TUF_TARGETS: rc = check_targets(s, file, r); break;
	case TUF_SNAPSHOT:
		rc = check_metafile(s, "targets.json", file, r);
		break;
	case TUF_TIMESTAMP:
		rc = check_metafile(s, "snapshot.json", file, r);
		break;
	default: rc = fail(r, TUF_FAIL_FORMAT, "no role %d", (int)expect);
	}
	if (rc != 0)
		goto out;
	/* What is signed must have one encoding, and a client must be able
	 * to read the manifest it makes. */
	if ((rc = canonical(s, "signed", &enc, &enclen, why, sizeof(why))) !=
	    0) {
		rc = fail(r, TUF_FAIL_FORMAT, "%s: not canonical JSON: %s",
			  file, why);
		goto out;
	}
	free(enc);
	if (enclen > TUF_META_MAX - SIGS_RESERVE) {
		rc = fail(r, TUF_FAIL_FORMAT,
			  "%s: signed is %zu bytes, more than a manifest of "
			  "%u bytes leaves for it",
			  file, enclen, TUF_META_MAX);
		goto out;
	}
	if (expect == TUF_TARGETS)
		sort_targets(s);
	m->role = expect;
	m->doc = doc;
	m->signed_ = s;
	m->version = version;
	m->expires = expires;
	doc = NULL;
	result_ok(r);
out:
	json_decref(doc);
	return rc;
}

int
tuf_meta_parse(const void *buf, size_t len, enum tuf_role expect,
	       struct tuf_meta *m, struct tuf_result *r)
{
	const char *file = role_file(expect);
	json_error_t jerr;
	json_t *doc;

	memset(m, 0, sizeof(*m));
	if ((unsigned)expect >= TUF_NROLES)
		return fail(r, TUF_FAIL_FORMAT, "no role %d", (int)expect);
	if (len > TUF_META_MAX)
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: %zu bytes, more than the %u a manifest may "
			    "have",
			    file, len, TUF_META_MAX);
	if ((doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: not JSON: %s (line %d, column %d)", file,
			    jerr.text, jerr.line, jerr.column);
	return check_meta(doc, expect, m, r);
}

int
tuf_meta_new(json_t *signed_, enum tuf_role expect, struct tuf_meta *m,
	     struct tuf_result *r)
{
	json_t *doc;

	memset(m, 0, sizeof(*m));
	if (signed_ == NULL)
		return fail(r, TUF_FAIL_FORMAT, "%s: no signed object",
			    role_file(expect));
	if ((unsigned)expect >= TUF_NROLES) {
		json_decref(signed_);
		return fail(r, TUF_FAIL_FORMAT, "no role %d", (int)expect);
	}
	doc = json_pack("{s:[], s:o}", "signatures", "signed", signed_);
	if (doc == NULL)
		fatal("out of memory");
	return check_meta(doc, expect, m, r);
}

void
tuf_meta_clear(struct tuf_meta *m)
{
	if (m == NULL)
		return;
	json_decref(m->doc);
	memset(m, 0, sizeof(*m));
}

int
tuf_meta_encode(const struct tuf_meta *m, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (m == NULL || m->doc == NULL)
		return VG_EINVAL;
	return tuf_cjson(m->doc, out, len);
}

/* The canonical "signed" of m, which signatures are over. */
static int
signed_bytes(const struct tuf_meta *m, char **out, size_t *len)
{
	char why[256];

	if (m == NULL || m->signed_ == NULL) {
		*out = NULL;
		*len = 0;
		return VG_EINVAL;
	}
	return canonical(m->signed_, "signed", out, len, why, sizeof(why));
}

static int
sign_here(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	crypto_sign_detached(sig, NULL, msg, len, ctx);
	return 0;
}

int
tuf_meta_sign(struct tuf_meta *m, const uint8_t sk[64])
{
	/* libsodium's secret key is the seed and then the public key. */
	return tuf_meta_sign_by(m, sk + 32, sign_here, (void *)sk);
}

int
tuf_meta_sign_by(struct tuf_meta *m, const uint8_t pub[32], tuf_sign_fn fn,
		 void *ctx)
{
	json_t *sigs, *entry;
	char id[TUF_KEYID_LEN], sighex[129], *msg;
	uint8_t sig[64];
	size_t len, i;
	int rc;

	if ((rc = signed_bytes(m, &msg, &len)) != 0)
		return rc;
	sigs = json_object_get(m->doc, "signatures");
	if (!json_is_array(sigs)) {
		free(msg);
		return VG_EINVAL;
	}
	rc = fn(ctx, (const uint8_t *)msg, len, sig);
	free(msg);
	if (rc != 0)
		return rc;
	hex_encode(sig, 64, sighex);
	tuf_key_id(pub, id);
	for (i = 0; i < json_array_size(sigs); i++) {
		const char *k = json_string_value(
			json_object_get(json_array_get(sigs, i), "keyid"));

		if (k != NULL && strcmp(k, id) == 0)
			break;
	}
	if (i == json_array_size(sigs) && i >= TUF_SIGS_MAX)
		return VG_ELIMIT;
	entry = json_pack("{s:s, s:s}", "keyid", id, "sig", sighex);
	if (entry == NULL)
		fatal("out of memory");
	if (i < json_array_size(sigs))
		rc = json_array_set_new(sigs, i, entry);
	else
		rc = json_array_append_new(sigs, entry);
	if (rc != 0)
		fatal("out of memory");
	return 0;
}

/* True if the signature sig (hex) by the key object key verifies over
 * msg[0..len). */
static bool
sig_verifies(const json_t *key, const char *sighex, const char *msg, size_t len)
{
	uint8_t pub[32], sig[64];

	if (key_parse(key, pub, "key", "key", NULL) != 0 || sighex == NULL ||
	    strlen(sighex) != 128 || !hex_decode_lower(sighex, 64, sig))
		return false;
	return crypto_sign_verify_detached(sig, (const unsigned char *)msg, len,
					   pub) == 0;
}

static bool
ids_have(char (*ids)[TUF_KEYID_LEN], size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

/* The IDs of the keys of keys (a root's "keys") whose signatures on m
 * verify. */
static int
signers(const json_t *keys, const struct tuf_meta *m,
	char (*ids)[TUF_KEYID_LEN], size_t max, size_t *n)
{
	const json_t *sigs;
	char *msg;
	size_t len;
	int rc;

	*n = 0;
	if (!json_is_object(keys))
		return VG_EINVAL;
	if ((rc = signed_bytes(m, &msg, &len)) != 0)
		return rc;
	sigs = json_object_get(m->doc, "signatures");
	for (size_t i = 0; i < json_array_size(sigs) && *n < max; i++) {
		const json_t *sig = json_array_get(sigs, i);
		const char *id =
			json_string_value(json_object_get(sig, "keyid"));
		const json_t *key;

		if (id == NULL || strlen(id) != 64 || ids_have(ids, *n, id) ||
		    (key = json_object_get(keys, id)) == NULL)
			continue;
		if (sig_verifies(key,
				 json_string_value(json_object_get(sig, "sig")),
				 msg, len))
			memcpy(ids[(*n)++], id, TUF_KEYID_LEN);
	}
	free(msg);
	return 0;
}

int
tuf_meta_signers(const struct tuf_meta *m, char (*ids)[TUF_KEYID_LEN],
		 size_t max, size_t *n)
{
	*n = 0;
	if (m == NULL || m->role != TUF_ROOT || m->signed_ == NULL)
		return VG_EINVAL;
	return signers(json_object_get(m->signed_, "keys"), m, ids, max, n);
}

int
tuf_meta_signers_in(const struct tuf_meta *root, const struct tuf_meta *m,
		    char (*ids)[TUF_KEYID_LEN], size_t max, size_t *n)
{
	*n = 0;
	if (root == NULL || root->role != TUF_ROOT || root->signed_ == NULL)
		return VG_EINVAL;
	return signers(json_object_get(root->signed_, "keys"), m, ids, max, n);
}

/* Counts the good signatures on m by distinct keys that root names for
 * role; refuses fewer than its threshold, naming m as file and root as
 * rootdesc ("" for the root in force). */
static int
verify_with(const struct tuf_meta *root, const char *rootdesc,
	    const struct tuf_meta *m, const char *file, struct tuf_result *r)
{
	const char *rname = tuf_role_name(m->role);
	const json_t *keys, *role, *keyids, *sigs;
	char counted[TUF_SIGS_MAX][TUF_KEYID_LEN], *msg;
	size_t ncounted = 0, len;
	json_int_t threshold;
	int rc;

	if (root == NULL || root->role != TUF_ROOT || root->signed_ == NULL)
		return fail(r, TUF_FAIL_FORMAT, "%s: no root to verify it with",
			    file);
	keys = json_object_get(root->signed_, "keys");
	role = json_object_get(json_object_get(root->signed_, "roles"), rname);
	keyids = json_object_get(role, "keyids");
	threshold = json_integer_value(json_object_get(role, "threshold"));
	if (!json_is_object(keys) || !json_is_array(keyids) || threshold < 1)
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: the root%s names no keys for role %s", file,
			    rootdesc, rname);
	if ((rc = signed_bytes(m, &msg, &len)) != 0)
		return fail(r, TUF_FAIL_FORMAT,
			    "%s: signed is not canonical JSON", file);
	sigs = json_object_get(m->doc, "signatures");
	for (size_t i = 0; i < json_array_size(sigs); i++) {
		const json_t *sig = json_array_get(sigs, i);
		const char *id =
			json_string_value(json_object_get(sig, "keyid"));

		if (id == NULL || strlen(id) != 64 ||
		    ncounted >= TUF_SIGS_MAX || ids_have(counted, ncounted, id))
			continue;
		if (!array_has_string(keyids, id, SIZE_MAX))
			continue;
		if (sig_verifies(json_object_get(keys, id),
				 json_string_value(json_object_get(sig, "sig")),
				 msg, len))
			memcpy(counted[ncounted++], id, TUF_KEYID_LEN);
	}
	if (ncounted >= (size_t)threshold) {
		free(msg);
		result_ok(r);
		return 0;
	}
	rc = fail(r, TUF_FAIL_SIGNATURE,
		  "%s: %zu good signature%s of the %lld needed (threshold of "
		  "role %s%s)",
		  file, ncounted, ncounted == 1 ? "" : "s",
		  (long long)threshold, rname, rootdesc);
	/* Say what became of every signature that did not count. */
	for (size_t i = 0; i < json_array_size(sigs); i++) {
		const json_t *sig = json_array_get(sigs, i);
		const char *id =
			json_string_value(json_object_get(sig, "keyid"));
		bool again = false;

		if (id == NULL)
			continue;
		for (size_t j = 0; j < i && !again; j++) {
			const char *prev = json_string_value(json_object_get(
				json_array_get(sigs, j), "keyid"));

			again = prev != NULL && strcmp(prev, id) == 0;
		}
		if (again)
			append(r,
			       "; key %.8s\xe2\x80\xa6 signed again "
			       "(counted once)",
			       id);
		else if (!array_has_string(keyids, id, SIZE_MAX))
			append(r,
			       "; key %.8s\xe2\x80\xa6 signed but is not "
			       "a key of role %s",
			       id, rname);
		else if (!ids_have(counted, ncounted, id))
			append(r, "; key %.8s\xe2\x80\xa6: bad signature", id);
	}
	free(msg);
	return rc;
}

int
tuf_verify_role(const struct tuf_meta *root, const struct tuf_meta *m,
		struct tuf_result *r)
{
	if (m == NULL || m->signed_ == NULL)
		return fail(r, TUF_FAIL_FORMAT, "no manifest to verify");
	return verify_with(root, "", m, role_file(m->role), r);
}

int
tuf_root_next(const struct tuf_meta *trusted, const struct tuf_meta *next,
	      struct tuf_result *r)
{
	char file[64], desc[64];
	int rc;

	if (trusted == NULL || trusted->role != TUF_ROOT ||
	    trusted->signed_ == NULL)
		return fail(r, TUF_FAIL_FORMAT, "no trusted root");
	if (next == NULL || next->role != TUF_ROOT || next->signed_ == NULL)
		return fail(r, TUF_FAIL_FORMAT,
			    "root.json: the new root is not a root manifest");
	snprintf(file, sizeof(file), "%llu.root.json",
		 (unsigned long long)next->version);
	if (next->version != trusted->version + 1)
		return fail(r, TUF_FAIL_ROLLBACK,
			    "%s: version %llu, but the root after trusted "
			    "version %llu must be version %llu",
			    file, (unsigned long long)next->version,
			    (unsigned long long)trusted->version,
			    (unsigned long long)trusted->version + 1);
	snprintf(desc, sizeof(desc), " in trusted root version %llu",
		 (unsigned long long)trusted->version);
	if ((rc = verify_with(trusted, desc, next, file, r)) != 0)
		return rc;
	snprintf(desc, sizeof(desc), " in the new root version %llu",
		 (unsigned long long)next->version);
	return verify_with(next, desc, next, file, r);
}

int
tuf_check_expiry(const struct tuf_meta *m, int64_t now, struct tuf_result *r)
{
	char at[21], then[21];

	if (m == NULL || m->signed_ == NULL)
		return fail(r, TUF_FAIL_FORMAT, "no manifest to check");
	if (m->expires <= now) {
		tuf_time_format(m->expires, at);
		tuf_time_format(now, then);
		return fail(r, TUF_FAIL_EXPIRED,
			    "%s: version %llu expired at %s (now %s)",
			    role_file(m->role), (unsigned long long)m->version,
			    at, then);
	}
	result_ok(r);
	return 0;
}

int
tuf_check_version(const struct tuf_meta *m, uint64_t trusted_version,
		  struct tuf_result *r)
{
	if (m == NULL || m->signed_ == NULL)
		return fail(r, TUF_FAIL_FORMAT, "no manifest to check");
	if (m->version < trusted_version)
		return fail(r, TUF_FAIL_ROLLBACK,
			    "%s: version %llu is older than the trusted "
			    "version %llu",
			    role_file(m->role), (unsigned long long)m->version,
			    (unsigned long long)trusted_version);
	result_ok(r);
	return 0;
}

/* The name of parent's one child manifest and its role. */
static const char *
child_of(const struct tuf_meta *parent, enum tuf_role *role)
{
	if (parent == NULL || parent->signed_ == NULL)
		return NULL;
	if (parent->role == TUF_TIMESTAMP) {
		*role = TUF_SNAPSHOT;
		return "snapshot.json";
	}
	if (parent->role == TUF_SNAPSHOT) {
		*role = TUF_TARGETS;
		return "targets.json";
	}
	return NULL;
}

int
tuf_meta_ref(const struct tuf_meta *parent, uint64_t *version, uint64_t *length,
	     uint8_t sha256[32])
{
	const json_t *e;
	enum tuf_role role;
	const char *child = child_of(parent, &role);
	const char *h;

	if (child == NULL)
		return VG_EINVAL;
	e = json_object_get(json_object_get(parent->signed_, "meta"), child);
	h = json_string_value(
		json_object_get(json_object_get(e, "hashes"), "sha256"));
	if (!json_is_integer(json_object_get(e, "version")) ||
	    !json_is_integer(json_object_get(e, "length")) || h == NULL ||
	    strlen(h) != 64 || !hex_decode_lower(h, 32, sha256))
		return VG_ECORRUPT;
	*version = (uint64_t)json_integer_value(json_object_get(e, "version"));
	*length = (uint64_t)json_integer_value(json_object_get(e, "length"));
	return 0;
}

int
tuf_check_meta_ref(const struct tuf_meta *parent, const void *child, size_t len,
		   const struct tuf_meta *child_meta, struct tuf_result *r)
{
	enum tuf_role role = TUF_ROOT;
	const char *name = child_of(parent, &role), *pfile;
	uint64_t version, length;
	uint8_t want[32], got[32];
	char wanthex[65], gothex[65];

	if (name == NULL)
		return fail(r, TUF_FAIL_FORMAT,
			    "%s names no manifest (only a timestamp or a "
			    "snapshot does)",
			    parent == NULL ? "nothing"
					   : role_file(parent->role));
	pfile = role_file(parent->role);
	if (child_meta == NULL || child_meta->role != role)
		return fail(r, TUF_FAIL_FORMAT, "%s: not the manifest %s names",
			    name, pfile);
	if (tuf_meta_ref(parent, &version, &length, want) != 0)
		return fail(r, TUF_FAIL_FORMAT, "%s: its meta is malformed",
			    pfile);
	if ((uint64_t)len != length)
		return fail(r, TUF_FAIL_MISMATCH,
			    "%s: %zu bytes, but %s says %llu", name, len, pfile,
			    (unsigned long long)length);
	crypto_hash_sha256(got, child, len);
	if (memcmp(got, want, 32) != 0) {
		hex_encode(got, 32, gothex);
		hex_encode(want, 32, wanthex);
		return fail(r, TUF_FAIL_MISMATCH,
			    "%s: SHA-256 %s, but %s says %s", name, gothex,
			    pfile, wanthex);
	}
	if (child_meta->version != version)
		return fail(r, TUF_FAIL_MISMATCH,
			    "%s: version %llu, but %s says %llu", name,
			    (unsigned long long)child_meta->version, pfile,
			    (unsigned long long)version);
	result_ok(r);
	return 0;
}

json_t *
tuf_meta_ref_json(uint64_t version, const void *file, size_t len)
{
	uint8_t h[32];
	char hex[65];

	crypto_hash_sha256(h, file, len);
	hex_encode(h, 32, hex);
	return json_pack("{s:{s:s}, s:I, s:I}", "hashes", "sha256", hex,
			 "length", (json_int_t)len, "version",
			 (json_int_t)version);
}

/* ---- targets ---- */

size_t
tuf_targets_count(const struct tuf_meta *targets)
{
	if (targets == NULL || targets->role != TUF_TARGETS)
		return 0;
	return json_object_size(json_object_get(targets->signed_, "targets"));
}

static int
target_fill(const char *name, const json_t *obj, struct tuf_target *t)
{
	const json_t *len = json_object_get(obj, "length");
	const char *h = json_string_value(
		json_object_get(json_object_get(obj, "hashes"), "sha256"));

	if (!json_is_integer(len) || json_integer_value(len) < 0 || h == NULL ||
	    strlen(h) != 64 || !hex_decode_lower(h, 32, t->sha256))
		return VG_ECORRUPT;
	t->name = name;
	t->length = (uint64_t)json_integer_value(len);
	t->custom = json_object_get(obj, "custom");
	return 0;
}

int
tuf_target_at(const struct tuf_meta *targets, size_t i, struct tuf_target *t)
{
	json_t *o;
	size_t k = 0;

	if (targets == NULL || targets->role != TUF_TARGETS)
		return VG_EINVAL;
	o = json_object_get(targets->signed_, "targets");
	for (void *it = json_object_iter(o); it != NULL;
	     it = json_object_iter_next(o, it), k++)
		if (k == i)
			return target_fill(json_object_iter_key(it),
					   json_object_iter_value(it), t);
	return VG_ENOENT;
}

int
tuf_target_get(const struct tuf_meta *targets, const char *name,
	       struct tuf_target *t)
{
	json_t *o;
	void *it;

	if (targets == NULL || targets->role != TUF_TARGETS || name == NULL)
		return VG_EINVAL;
	o = json_object_get(targets->signed_, "targets");
	if ((it = json_object_iter_at(o, name)) == NULL)
		return VG_ENOENT;
	return target_fill(json_object_iter_key(it), json_object_iter_value(it),
			   t);
}

json_t *
tuf_target_json(const void *file, size_t len, json_t *custom)
{
	uint8_t h[32];
	char hex[65];
	json_t *t;

	if (custom != NULL && !json_is_object(custom)) {
		json_decref(custom);
		return NULL;
	}
	crypto_hash_sha256(h, file, len);
	hex_encode(h, 32, hex);
	t = json_pack("{s:{s:s}, s:I}", "hashes", "sha256", hex, "length",
		      (json_int_t)len);
	if (t == NULL)
		fatal("out of memory");
	if (custom != NULL && json_object_set_new(t, "custom", custom) != 0)
		fatal("out of memory");
	return t;
}

int
tuf_check_artifact(const struct tuf_target *t, const void *data, size_t len,
		   struct tuf_result *r)
{
	uint8_t h[32];
	char got[65], want[65];

	if (t == NULL || t->name == NULL)
		return fail(r, TUF_FAIL_FORMAT, "no target to check against");
	if ((uint64_t)len > t->length)
		return fail(r, TUF_FAIL_ARTIFACT,
			    "%s: more than the %llu bytes targets.json "
			    "declares",
			    t->name, (unsigned long long)t->length);
	if ((uint64_t)len < t->length)
		return fail(r, TUF_FAIL_ARTIFACT,
			    "%s: %zu bytes, but targets.json declares %llu",
			    t->name, len, (unsigned long long)t->length);
	crypto_hash_sha256(h, data, len);
	if (memcmp(h, t->sha256, 32) != 0) {
		hex_encode(h, 32, got);
		hex_encode(t->sha256, 32, want);
		return fail(r, TUF_FAIL_ARTIFACT,
			    "%s: SHA-256 %s, but targets.json declares %s",
			    t->name, got, want);
	}
	result_ok(r);
	return 0;
}

/* ---- key files ---- */

int
tuf_keyfile_create(const char *base, uint8_t pub[32], char *err, size_t errlen)
{
	char *keypath = xasprintf("%s.key", base);
	char *pubpath = xasprintf("%s.pub", base);
	char line[KEYFILE_LEN + 1], *text = NULL;
	uint8_t pk[32], sk[64];
	bool key_made = false;
	struct stat st;
	json_t *key;
	size_t len;
	int fd = -1, rc;

	if (lstat(keypath, &st) == 0 || lstat(pubpath, &st) == 0) {
		snprintf(err, errlen, "%s: exists; a key is never overwritten",
			 lstat(keypath, &st) == 0 ? keypath : pubpath);
		rc = VG_EINVAL;
		goto out;
	}
	crypto_sign_keypair(pk, sk);
	memcpy(line, KEYFILE_MAGIC, sizeof(KEYFILE_MAGIC) - 1);
	hex_encode(sk, 32, line + sizeof(KEYFILE_MAGIC) - 1);
	line[KEYFILE_LEN - 1] = '\n';
	line[KEYFILE_LEN] = '\0';
	rc = secret_file_create(keypath, line, KEYFILE_LEN, err, errlen);
	sodium_memzero(line, sizeof(line));
	sodium_memzero(sk, sizeof(sk));
	if (rc != 0)
		goto out;
	key_made = true;

	if ((key = tuf_key_json(pk)) == NULL)
		fatal("out of memory");
	rc = tuf_cjson(key, &text, &len);
	json_decref(key);
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot encode the key", pubpath);
		goto out;
	}
	if ((fd = open(pubpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		       0644)) < 0) {
		snprintf(err, errlen, "%s: %s", pubpath, strerror(errno));
		rc = errno == EEXIST ? VG_EINVAL : VG_EIO;
		goto out;
	}
	if (io_write_all(fd, text, len) != 0 ||
	    io_write_all(fd, "\n", 1) != 0 || io_fsync(fd) != 0) {
		snprintf(err, errlen, "%s: cannot write: %s", pubpath,
			 strerror(errno));
		rc = VG_EIO;
	}
	if (close(fd) != 0 && rc == 0) {
		snprintf(err, errlen, "%s: cannot write: %s", pubpath,
			 strerror(errno));
		rc = VG_EIO;
	}
	if (rc == 0 && io_fsync_parent(pubpath) != 0) {
		snprintf(err, errlen, "%s: cannot sync its directory", pubpath);
		rc = VG_EIO;
	}
	if (rc != 0)
		unlink(pubpath);
	else
		memcpy(pub, pk, 32);
out:
	/* Half a key pair is no key: the secret half goes too. */
	if (rc != 0 && key_made)
		unlink(keypath);
	free(text);
	free(keypath);
	free(pubpath);
	return rc;
}

int
tuf_keyfile_load(const char *path, uint8_t sk[64], char *err, size_t errlen)
{
	const size_t magic = sizeof(KEYFILE_MAGIC) - 1;
	uint8_t seed[32], pk[32];
	char *text = NULL;
	size_t len;
	int rc;

	if ((rc = secret_file_read(path, 256, &text, &len, err, errlen)) != 0)
		return rc;
	if (len != KEYFILE_LEN || memcmp(text, KEYFILE_MAGIC, magic) != 0 ||
	    text[KEYFILE_LEN - 1] != '\n' ||
	    !hex_decode_lower(text + magic, 32, seed)) {
		snprintf(err, errlen,
			 "%s: not a release key (one line \"%s<64 lowercase "
			 "hex>\")",
			 path, KEYFILE_MAGIC);
		rc = VG_EINVAL;
	} else {
		crypto_sign_seed_keypair(pk, sk, seed);
	}
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(text, len);
	free(text);
	return rc;
}

int
tuf_pubfile_load(const char *path, uint8_t pub[32], char *err, size_t errlen)
{
	struct tuf_result r;
	json_error_t jerr;
	json_t *key;
	uint8_t *buf;
	size_t n;
	int rc;

	rc = io_read_file(path, PUBFILE_MAX, &buf, &n);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path,
			 rc == VG_ELIMIT  ? "too large for a public key"
			 : rc == VG_ETYPE ? "not a regular file"
					  : strerror(errno));
		return rc;
	}
	key = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (key == NULL) {
		snprintf(err, errlen, "%s: not JSON: %s (line %d)", path,
			 jerr.text, jerr.line);
		return VG_EFORMAT;
	}
	rc = tuf_key_parse(key, pub, &r);
	json_decref(key);
	if (rc != 0)
		snprintf(err, errlen, "%s: %s", path, r.msg);
	return rc;
}

/* ---- time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

void
tuf_time_format(int64_t t, char out[21])
{
	int64_t days, secs, y;
	int m, d;

	/* Four-digit years only, as tuf_time_parse() reads them. */
	if (t < TIME_MIN)
		t = TIME_MIN;
	if (t > TIME_MAX)
		t = TIME_MAX;
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	/* The clamp above keeps every field in range; the modulos say so
	 * to the compiler. */
	snprintf(out, 21, "%04u-%02u-%02uT%02u:%02u:%02uZ",
		 (unsigned)(y % 10000), (unsigned)m % 100u, (unsigned)d % 100u,
		 (unsigned)(secs / 3600 % 100), (unsigned)(secs / 60 % 60),
		 (unsigned)(secs % 60));
}

static bool
digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

int
tuf_time_parse(const char *s, int64_t *t)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, dim;

	if (s == NULL || strnlen(s, 21) != 20 || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' ||
	    !digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
	    !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
	    !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
		return VG_EFORMAT;
	if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59)
		return VG_EFORMAT;
	dim = mdays[mo - 1];
	if (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		dim = 29;
	if (d < 1 || d > dim)
		return VG_EFORMAT;
	*t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}
