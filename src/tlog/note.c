/*
 * note.c - signed notes, their keys, and cosignatures; see note.h.
 *
 * A parsed note is one allocation: the struct, its signature array, a copy
 * of the text, and each signature's name and decoded bytes, all bounded
 * by the input's length. Signer keys live in sodium_malloc'd memory made
 * read-only once set up.
 */
#include "tlog/note.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/text.h"
#include "common/xmalloc.h"
#include "tlog/util.h"

#define SIG_PREFIX     "\xe2\x80\x94 " /* U+2014 EM DASH, space */
#define SIG_PREFIX_LEN 4
#define PRIVATE_PREFIX "PRIVATE+KEY+"
#define PRIVATE_LEN    12
#define KEY_RAW        33 /* type byte and a 32-byte key or seed */
#define ID_LEN         4
#define TIME_LEN       8
#define SIG_LEN        crypto_sign_BYTES
#define COSIG_LEN      (TIME_LEN + SIG_LEN)
#define COSIG_HEADER   "cosignature/v1\ntime "
#define TIME_MAX       ((uint64_t)INT64_MAX)

_Static_assert(crypto_sign_PUBLICKEYBYTES == 32, "Ed25519 public key");
_Static_assert(crypto_sign_SEEDBYTES == 32, "Ed25519 seed");

struct note_signer {
	struct note_verifier pub;
	uint8_t sk[crypto_sign_SECRETKEYBYTES]; /* zero if remote */
	note_sign_fn remote;                    /* NULL: sk signs */
	void *ctx;
};

bool
note_name_valid(const char *name, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t l = text_utf8_decode(name + i, len - i, &cp);

		if (l == 0 || cp < 0x20 || cp == '+' || tlog_is_space(cp))
			return false;
		i += l;
	}
	return true;
}

int
note_key_id(const char *name, uint8_t type, const uint8_t *pub, size_t pub_len,
	    uint32_t *id)
{
	static const uint8_t nl = '\n';
	struct tlog_bytes parts[] = {
		{name, strlen(name)}, {&nl, 1}, {&type, 1}, {pub, pub_len}};
	uint8_t sum[TLOG_SHA256_LEN];
	int rc;

	if ((rc = tlog_sha256(parts, 4, sum)) != 0)
		return rc;
	*id = tlog_be32(sum);
	return 0;
}

static bool
parse_hex8(const char *s, uint32_t *out)
{
	uint8_t b[4];

	if (!hex_decode_lower(s, sizeof(b), b))
		return false;
	*out = tlog_be32(b);
	return true;
}

/*
 * Parses "<name>+<hex key ID>+<base64>" into name, *id and raw (a type
 * byte 0x01 or 0x04 and 32 bytes). The key ID is not checked here.
 */
static int
parse_key_text(const char *s, size_t len, char name[NOTE_NAME_MAX + 1],
	       uint32_t *id, uint8_t raw[KEY_RAW], char *err, size_t errlen)
{
	const char *plus = tlog_memchr(s, len, '+'), *b64;
	size_t nlen, blen, rawlen;
	int rc;

	if (plus == NULL) {
		vg_seterr(err, errlen, "key has no '+' after its name");
		return VG_EFORMAT;
	}
	nlen = (size_t)(plus - s);
	if (!note_name_valid(s, nlen)) {
		vg_seterr(err, errlen, "invalid key name");
		return VG_EFORMAT;
	}
	if (nlen > NOTE_NAME_MAX) {
		vg_seterr(err, errlen, "key name longer than %d bytes",
			  NOTE_NAME_MAX);
		return VG_ELIMIT;
	}
	if (len - nlen - 1 < 9 || plus[9] != '+' || !parse_hex8(plus + 1, id)) {
		vg_seterr(err, errlen,
			  "key ID is not 8 lowercase hex digits and '+'");
		return VG_EFORMAT;
	}
	b64 = plus + 10;
	blen = len - nlen - 10;
	rc = tlog_b64_decode(b64, blen, raw, KEY_RAW, &rawlen);
	if (rc == VG_ELIMIT) {
		/* Too long for us: name the type if the start decodes. */
		if (tlog_b64_decode(b64, 4, raw, 3, &rawlen) == 0)
			rawlen = 1;
		else
			rc = VG_EFORMAT;
	}
	if (rc == VG_EFORMAT || rawlen == 0) {
		vg_seterr(err, errlen, "key is not valid base64");
		return VG_EFORMAT;
	}
	if (raw[0] != NOTE_ED25519 && raw[0] != NOTE_COSIGNATURE) {
		vg_seterr(err, errlen, "unsupported key type 0x%02x", raw[0]);
		return VG_EINVAL;
	}
	if (rc == VG_ELIMIT || rawlen != KEY_RAW) {
		vg_seterr(err, errlen, "key is not 32 bytes of Ed25519");
		return VG_EFORMAT;
	}
	memcpy(name, s, nlen);
	name[nlen] = '\0';
	return 0;
}

/* Fills v from its parts, computing the key ID. */
static int
make_verifier(const char *name, uint8_t type, const uint8_t pub[32],
	      struct note_verifier *v)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->type = type;
	memcpy(v->pub, pub, sizeof(v->pub));
	return note_key_id(v->name, type, pub, sizeof(v->pub), &v->key_id);
}

int
note_verifier_parse(const char *vkey, size_t len, struct note_verifier *v,
		    char *err, size_t errlen)
{
	struct note_verifier k;
	char name[NOTE_NAME_MAX + 1];
	uint8_t raw[KEY_RAW];
	uint32_t id;
	int rc;

	if (len >= NOTE_KEY_MAX) {
		vg_seterr(err, errlen, "verifier key longer than %d bytes",
			  NOTE_KEY_MAX - 1);
		return VG_ELIMIT;
	}
	if ((rc = parse_key_text(vkey, len, name, &id, raw, err, errlen)))
		return rc;
	if (sodium_init() < 0 || make_verifier(name, raw[0], raw + 1, &k)) {
		vg_seterr(err, errlen, "hashing failed");
		return VG_ELIB;
	}
	if (k.key_id != id) {
		vg_seterr(err, errlen,
			  "key ID %08" PRIx32
			  " does not match the key (%08" PRIx32 ")",
			  id, k.key_id);
		return VG_EFORMAT;
	}
	if (!crypto_core_ed25519_is_valid_point(k.pub)) {
		vg_seterr(err, errlen, "not a valid Ed25519 public key");
		return VG_EFORMAT;
	}
	*v = k;
	return 0;
}

int
note_verifier_new(const char *name, uint8_t type, const uint8_t pub[32],
		  struct note_verifier *v, char *err, size_t errlen)
{
	size_t nlen = strlen(name);

	if (!note_name_valid(name, nlen) || nlen > NOTE_NAME_MAX) {
		vg_seterr(err, errlen, "invalid key name");
		return VG_EINVAL;
	}
	if (type != NOTE_ED25519 && type != NOTE_COSIGNATURE) {
		vg_seterr(err, errlen, "unsupported key type 0x%02x", type);
		return VG_EINVAL;
	}
	if (sodium_init() < 0 || !crypto_core_ed25519_is_valid_point(pub)) {
		vg_seterr(err, errlen, "not a valid Ed25519 public key");
		return VG_EINVAL;
	}
	if (make_verifier(name, type, pub, v) != 0) {
		vg_seterr(err, errlen, "hashing failed");
		return VG_ELIB;
	}
	return 0;
}

void
note_verifier_format(const struct note_verifier *v, char buf[NOTE_KEY_MAX])
{
	uint8_t raw[KEY_RAW];
	char b64[64];

	raw[0] = v->type;
	memcpy(raw + 1, v->pub, 32);
	tlog_b64_encode(raw, sizeof(raw), b64);
	snprintf(buf, NOTE_KEY_MAX, "%s+%08" PRIx32 "+%s", v->name, v->key_id,
		 b64);
}

/* Allocates a signer in guarded memory from a seed (or a new key if seed
 * is NULL), checking its key ID against want_id unless want_id is NULL. */
static int
new_signer(const char *name, uint8_t type, const uint8_t *seed,
	   const uint32_t *want_id, struct note_signer **out, char *err,
	   size_t errlen)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	struct note_signer *s;

	if (sodium_init() < 0 || (s = sodium_malloc(sizeof(*s))) == NULL) {
		vg_seterr(err, errlen, "libsodium: cannot allocate a key");
		return VG_ELIB;
	}
	s->remote = NULL;
	s->ctx = NULL;
	if (seed != NULL)
		crypto_sign_seed_keypair(pk, s->sk, seed);
	else
		crypto_sign_keypair(pk, s->sk);
	if (make_verifier(name, type, pk, &s->pub) != 0) {
		sodium_free(s);
		vg_seterr(err, errlen, "hashing failed");
		return VG_ELIB;
	}
	if (want_id != NULL && *want_id != s->pub.key_id) {
		vg_seterr(err, errlen,
			  "key ID %08" PRIx32
			  " does not match the key (%08" PRIx32 ")",
			  *want_id, s->pub.key_id);
		sodium_free(s);
		return VG_EFORMAT;
	}
	sodium_mprotect_readonly(s);
	*out = s;
	return 0;
}

int
note_signer_parse(const char *skey, size_t len, struct note_signer **out,
		  char *err, size_t errlen)
{
	char name[NOTE_NAME_MAX + 1];
	uint8_t raw[KEY_RAW];
	uint32_t id;
	int rc;

	if (len >= NOTE_KEY_MAX) {
		vg_seterr(err, errlen, "signer key longer than %d bytes",
			  NOTE_KEY_MAX - 1);
		return VG_ELIMIT;
	}
	if (len < PRIVATE_LEN || memcmp(skey, PRIVATE_PREFIX, PRIVATE_LEN)) {
		vg_seterr(err, errlen, "signer key does not start with %s",
			  PRIVATE_PREFIX);
		return VG_EFORMAT;
	}
	rc = parse_key_text(skey + PRIVATE_LEN, len - PRIVATE_LEN, name, &id,
			    raw, err, errlen);
	if (rc == 0)
		rc = new_signer(name, raw[0], raw + 1, &id, out, err, errlen);
	sodium_memzero(raw, sizeof(raw));
	return rc;
}

int
note_signer_generate(const char *name, uint8_t type, struct note_signer **out,
		     char *err, size_t errlen)
{
	size_t nlen = strlen(name);

	if (!note_name_valid(name, nlen) || nlen > NOTE_NAME_MAX) {
		vg_seterr(err, errlen, "invalid key name");
		return VG_EINVAL;
	}
	if (type != NOTE_ED25519 && type != NOTE_COSIGNATURE) {
		vg_seterr(err, errlen, "unsupported key type 0x%02x", type);
		return VG_EINVAL;
	}
	return new_signer(name, type, NULL, NULL, out, err, errlen);
}

int
note_signer_remote(const struct note_verifier *pub, note_sign_fn fn, void *ctx,
		   struct note_signer **out, char *err, size_t errlen)
{
	struct note_signer *s;

	if (fn == NULL ||
	    (pub->type != NOTE_ED25519 && pub->type != NOTE_COSIGNATURE)) {
		vg_seterr(err, errlen, "no signing function, or a bad type");
		return VG_EINVAL;
	}
	if (sodium_init() < 0 || (s = sodium_malloc(sizeof(*s))) == NULL) {
		vg_seterr(err, errlen, "libsodium: cannot allocate a key");
		return VG_ELIB;
	}
	memset(s, 0, sizeof(*s));
	s->pub = *pub;
	s->remote = fn;
	s->ctx = ctx;
	sodium_mprotect_readonly(s);
	*out = s;
	return 0;
}

void
note_signer_format(const struct note_signer *s, char buf[NOTE_KEY_MAX])
{
	uint8_t raw[KEY_RAW];
	char b64[64];

	if (s->remote != NULL) {
		buf[0] = '\0';
		return;
	}
	raw[0] = s->pub.type;
	crypto_sign_ed25519_sk_to_seed(raw + 1, s->sk);
	tlog_b64_encode(raw, sizeof(raw), b64);
	snprintf(buf, NOTE_KEY_MAX, PRIVATE_PREFIX "%s+%08" PRIx32 "+%s",
		 s->pub.name, s->pub.key_id, b64);
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(b64, sizeof(b64));
}

int
note_signer_rename(const struct note_signer *s, const char *name,
		   struct note_signer **out, char *err, size_t errlen)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	size_t nlen = strlen(name);
	int rc;

	if (s->remote != NULL || !note_name_valid(name, nlen) ||
	    nlen > NOTE_NAME_MAX) {
		vg_seterr(err, errlen, "invalid key name, or a remote key");
		return VG_EINVAL;
	}
	crypto_sign_ed25519_sk_to_seed(seed, s->sk);
	rc = new_signer(name, s->pub.type, seed, NULL, out, err, errlen);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

void
note_signer_verifier(const struct note_signer *s, struct note_verifier *v)
{
	*v = s->pub;
}

void
note_signer_free(struct note_signer *s)
{
	if (s != NULL)
		sodium_free(s); /* makes it writable and wipes it first */
}

/* Parses one signature line, line[0..len) without its newline, into sig,
 * copying the decoded bytes and the name to *store. Returns 0, or
 * VG_EFORMAT with the reason in *why. */
static int
parse_sig_line(const char *line, size_t len, struct note_sig *sig, char **store,
	       const char **why)
{
	const char *name = line + SIG_PREFIX_LEN, *sp, *b64;
	size_t nlen, blen, n;
	uint8_t *raw = (uint8_t *)*store;

	if (len < SIG_PREFIX_LEN || memcmp(line, SIG_PREFIX, SIG_PREFIX_LEN)) {
		*why = "does not start with an em dash and a space";
		return VG_EFORMAT;
	}
	if ((sp = tlog_memchr(name, len - SIG_PREFIX_LEN, ' ')) == NULL) {
		*why = "no space after the key name";
		return VG_EFORMAT;
	}
	nlen = (size_t)(sp - name);
	if (!note_name_valid(name, nlen)) {
		*why = "invalid key name";
		return VG_EFORMAT;
	}
	b64 = sp + 1;
	blen = (size_t)(line + len - b64);
	/* The decoded bytes, the name and its terminator take no more room
	 * than the line and its newline: blen / 4 * 3 + nlen + 1. */
	if (tlog_b64_decode(b64, blen, raw, blen, &n) != 0) {
		*why = "signature is not valid base64";
		return VG_EFORMAT;
	}
	if (n <= ID_LEN) {
		*why = "signature has no bytes after its key ID";
		return VG_EFORMAT;
	}
	sig->key_id = tlog_be32(raw);
	sig->sig = raw + ID_LEN;
	sig->sig_len = n - ID_LEN;
	memcpy(*store + n, name, nlen);
	(*store)[n + nlen] = '\0';
	sig->name = *store + n;
	sig->key = NULL;
	sig->timestamp = 0;
	*store += n + nlen + 1;
	return 0;
}

int
note_parse(const char *msg, size_t len, struct note **out, char *err,
	   size_t errlen)
{
	size_t bad, split, text_len, nsigs = 0, i;
	const char *sigs, *end = msg + len, *p;
	struct note *n;
	char *store;
	int rc;

	if (len > NOTE_MAX_SIZE) {
		vg_seterr(err, errlen, "note longer than %d bytes",
			  NOTE_MAX_SIZE);
		return VG_ELIMIT;
	}
	if (!tlog_text_valid(msg, len, &bad)) {
		vg_seterr(err, errlen,
			  "byte %zu is not UTF-8 or a control character", bad);
		return VG_EFORMAT;
	}
	if (len == 0 || msg[len - 1] != '\n') {
		vg_seterr(err, errlen, "note does not end in a newline");
		return VG_EFORMAT;
	}
	/* The text ends at the last blank line. */
	for (split = len - 1; split > 0; split--)
		if (msg[split - 1] == '\n' && msg[split] == '\n')
			break;
	if (split == 0) {
		vg_seterr(err, errlen,
			  "no blank line between text and signatures");
		return VG_EFORMAT;
	}
	text_len = split; /* up to and including the text's newline */
	sigs = msg + split + 1;
	if (sigs == end) {
		vg_seterr(err, errlen, "note has no signature lines");
		return VG_EFORMAT;
	}
	for (p = sigs; p < end; p++)
		nsigs += *p == '\n';
	if (nsigs > NOTE_MAX_SIGS) {
		vg_seterr(err, errlen, "more than %d signatures",
			  NOTE_MAX_SIGS);
		return VG_ELIMIT;
	}

	n = xmalloc(sizeof(*n) + nsigs * sizeof(struct note_sig) + text_len +
		    1 + (size_t)(end - sigs));
	n->sigs = (struct note_sig *)(n + 1);
	n->nsigs = nsigs;
	store = (char *)(n->sigs + nsigs);
	memcpy(store, msg, text_len);
	store[text_len] = '\0';
	n->text = store;
	n->text_len = text_len;
	store += text_len + 1;
	for (i = 0, p = sigs; i < nsigs; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *why = "";

		rc = parse_sig_line(p, (size_t)(nl - p), &n->sigs[i], &store,
				    &why);
		if (rc != 0) {
			vg_seterr(err, errlen, "signature line %zu: %s", i + 1,
				  why);
			free(n);
			return rc;
		}
		p = nl + 1;
	}
	*out = n;
	return 0;
}

void
note_free(struct note *n)
{
	free(n);
}

/* Returns "cosignature/v1\ntime <t>\n" and text, malloc'd, in *len. */
static uint8_t *
cosignature_message(uint64_t t, const char *text, size_t text_len, size_t *len)
{
	char head[sizeof(COSIG_HEADER) + TLOG_U64_DIGITS + 1];
	int h = snprintf(head, sizeof(head), COSIG_HEADER "%" PRIu64 "\n", t);
	uint8_t *m = xmalloc((size_t)h + text_len);

	memcpy(m, head, (size_t)h);
	memcpy(m + h, text, text_len);
	*len = (size_t)h + text_len;
	return m;
}

int
note_cosignature_time(const struct note_sig *sig, uint64_t *t)
{
	if (sig->sig_len != COSIG_LEN || tlog_be64(sig->sig) > TIME_MAX)
		return VG_EFORMAT;
	*t = tlog_be64(sig->sig);
	return 0;
}

/* Checks sig against key k. Returns 0 or VG_EVERIFY with a message. */
static int
verify_sig(const struct note *n, struct note_sig *sig,
	   const struct note_verifier *k, char *err, size_t errlen)
{
	uint8_t *msg;
	size_t len;
	int ok;

	if (k->type == NOTE_ED25519) {
		ok = sig->sig_len == SIG_LEN &&
		     crypto_sign_verify_detached(sig->sig,
						 (const uint8_t *)n->text,
						 n->text_len, k->pub) == 0;
	} else if (note_cosignature_time(sig, &sig->timestamp) != 0) {
		ok = 0;
	} else {
		msg = cosignature_message(sig->timestamp, n->text, n->text_len,
					  &len);
		ok = crypto_sign_verify_detached(sig->sig + TIME_LEN, msg, len,
						 k->pub) == 0;
		free(msg);
	}
	if (!ok) {
		vg_seterr(err, errlen,
			  "invalid signature by known key %s+%08" PRIx32,
			  k->name, k->key_id);
		return VG_EVERIFY;
	}
	sig->key = k;
	return 0;
}

static bool
same_key(const struct note_verifier *a, const struct note_verifier *b)
{
	return a->key_id == b->key_id && a->type == b->type &&
	       strcmp(a->name, b->name) == 0 &&
	       memcmp(a->pub, b->pub, sizeof(a->pub)) == 0;
}

int
note_verify(struct note *n, const struct note_verifier *keys, size_t nkeys,
	    size_t *nverified, char *err, size_t errlen)
{
	size_t count = 0;
	int rc;

	if (sodium_init() < 0) {
		vg_seterr(err, errlen, "libsodium failed to initialise");
		return VG_ELIB;
	}
	for (size_t i = 0; i < n->nsigs; i++) {
		struct note_sig *sig = &n->sigs[i];
		const struct note_verifier *k = NULL;

		sig->key = NULL;
		sig->timestamp = 0;
		for (size_t j = 0; j < nkeys; j++) {
			if (keys[j].key_id != sig->key_id ||
			    strcmp(keys[j].name, sig->name) != 0)
				continue;
			if (k != NULL) {
				vg_seterr(err, errlen,
					  "key %s+%08" PRIx32 " is known twice",
					  sig->name, sig->key_id);
				return VG_EINVAL;
			}
			k = &keys[j];
		}
		if (k != NULL && (rc = verify_sig(n, sig, k, err, errlen)) != 0)
			return rc;
	}
	for (size_t j = 0; j < nkeys; j++)
		count += note_verified_by(n, &keys[j]);
	if (count == 0) {
		vg_seterr(err, errlen, "no signature by a known key");
		return VG_EVERIFY;
	}
	if (nverified != NULL)
		*nverified = count;
	return 0;
}

bool
note_verified_by(const struct note *n, const struct note_verifier *k)
{
	for (size_t i = 0; i < n->nsigs; i++)
		if (n->sigs[i].key != NULL && same_key(n->sigs[i].key, k))
			return true;
	return false;
}

static int
check_text(const char *text, size_t len, char *err, size_t errlen)
{
	size_t bad;

	if (len == 0 || text[len - 1] != '\n') {
		vg_seterr(err, errlen, "note text does not end in a newline");
		return VG_EFORMAT;
	}
	if (len > NOTE_MAX_SIZE) {
		vg_seterr(err, errlen, "note text longer than %d bytes",
			  NOTE_MAX_SIZE);
		return VG_ELIMIT;
	}
	if (!tlog_text_valid(text, len, &bad)) {
		vg_seterr(err, errlen,
			  "note text: byte %zu is not UTF-8 or a control "
			  "character",
			  bad);
		return VG_EFORMAT;
	}
	return 0;
}

int
note_sign_bytes(const struct note_signer *s, const uint8_t *msg, size_t len,
		uint8_t sig[SIG_LEN], char *err, size_t errlen)
{
	if (s->remote != NULL)
		return s->remote(s->ctx, msg, len, sig, err, errlen);
	crypto_sign_detached(sig, NULL, msg, len, s->sk);
	return 0;
}

int
note_sign_line(const struct note_signer *s, const char *text, size_t len,
	       uint64_t timestamp, char line[NOTE_LINE_MAX], size_t *line_len,
	       char *err, size_t errlen)
{
	uint8_t sig[ID_LEN + COSIG_LEN], *msg;
	char b64[sodium_base64_ENCODED_LEN(ID_LEN + COSIG_LEN,
					   sodium_base64_VARIANT_ORIGINAL)];
	size_t n = ID_LEN, mlen;
	int rc;

	if ((rc = check_text(text, len, err, errlen)) != 0)
		return rc;
	tlog_put_be32(sig, s->pub.key_id);
	if (s->pub.type == NOTE_COSIGNATURE) {
		if (timestamp > TIME_MAX) {
			vg_seterr(err, errlen, "cosignature time above 2^63-1");
			return VG_EINVAL;
		}
		tlog_put_be64(sig + n, timestamp);
		n += TIME_LEN;
		msg = cosignature_message(timestamp, text, len, &mlen);
		rc = note_sign_bytes(s, msg, mlen, sig + n, err, errlen);
		free(msg);
	} else {
		rc = note_sign_bytes(s, (const uint8_t *)text, len, sig + n,
				     err, errlen);
	}
	if (rc != 0)
		return rc;
	n += SIG_LEN;
	tlog_b64_encode(sig, n, b64);
	*line_len = (size_t)snprintf(line, NOTE_LINE_MAX, SIG_PREFIX "%s %s\n",
				     s->pub.name, b64);
	return 0;
}

int
note_sign(const char *text, size_t len,
	  const struct note_signer *const *signers, size_t n,
	  uint64_t timestamp, char **out, size_t *out_len, char *err,
	  size_t errlen)
{
	size_t o;
	char *buf;
	int rc;

	if (n < 1 || n > NOTE_MAX_SIGS) {
		vg_seterr(err, errlen, "%zu signers, not 1..%d", n,
			  NOTE_MAX_SIGS);
		return VG_EINVAL;
	}
	if ((rc = check_text(text, len, err, errlen)) != 0)
		return rc;
	buf = xmalloc(len + 1 + n * NOTE_LINE_MAX);
	memcpy(buf, text, len);
	buf[len] = '\n';
	o = len + 1;
	for (size_t i = 0; i < n; i++) {
		size_t l;

		rc = note_sign_line(signers[i], text, len, timestamp, buf + o,
				    &l, err, errlen);
		if (rc != 0) {
			free(buf);
			return rc;
		}
		o += l;
	}
	if (o > NOTE_MAX_SIZE) {
		free(buf);
		vg_seterr(err, errlen, "signed note longer than %d bytes",
			  NOTE_MAX_SIZE);
		return VG_ELIMIT;
	}
	*out = buf;
	*out_len = o;
	return 0;
}
