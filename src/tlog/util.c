/*
 * util.c - SHA-256, strict base64 and decimal, text checks for src/tlog;
 * see util.h.
 */
#include "tlog/util.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/text.h"

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
/* Written once under sha256_once, then only read. */
static EVP_MD *sha256_md;
static pthread_key_t sha256_key; /* frees a thread's context at its exit */
static bool sha256_key_ok;
/*
 * The calling thread's context, made on its first hash and reused. A new
 * context per hash cost an allocation and a free of the context and an
 * increment and a decrement of sha256_md's reference count, a cache line
 * every hashing thread wrote. (OpenSSL 3.0 still allocates the digest's
 * own small state at every EVP_DigestInit_ex2(); libsodium's SHA-256,
 * which would not, is plain C, about 3x slower here than OpenSSL's
 * SHA-NI code for the 65-byte input of a node.)
 */
static _Thread_local EVP_MD_CTX *sha256_ctx;

/* Runs in the exiting thread: a later hash there makes a new context. */
static void
sha256_ctx_free(void *ctx)
{
	sha256_ctx = NULL;
	EVP_MD_CTX_free(ctx);
}

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	sha256_key_ok = pthread_key_create(&sha256_key, sha256_ctx_free) == 0;
}

int
tlog_sha256(const struct tlog_bytes *parts, size_t n,
	    uint8_t out[TLOG_SHA256_LEN])
{
	EVP_MD_CTX *ctx = sha256_ctx;
	int ok;

	if (ctx == NULL) {
		if (pthread_once(&sha256_once, sha256_fetch) != 0 ||
		    sha256_md == NULL || !sha256_key_ok)
			return VG_ELIB;
		if ((ctx = EVP_MD_CTX_new()) == NULL)
			return VG_ELIB;
		if (pthread_setspecific(sha256_key, ctx) != 0) {
			EVP_MD_CTX_free(ctx);
			return VG_ELIB;
		}
		sha256_ctx = ctx;
	}
	/* Initialising with the digest the context already has resets it
	 * without touching sha256_md's reference count. */
	ok = EVP_DigestInit_ex2(ctx, sha256_md, NULL);
	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].n);
	ok = ok && EVP_DigestFinal_ex(ctx, out, NULL);
	if (!ok) {
		/* Whatever state the failure left is not reused. */
		EVP_MD_CTX_reset(ctx);
		return VG_ELIB;
	}
	return 0;
}

int
tlog_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap,
		size_t *outlen)
{
	size_t pad = 0, want, got = 0;
	const char *end = NULL;

	if (len % 4 != 0)
		return VG_EFORMAT;
	if (len > 0 && s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	want = len / 4 * 3 - pad;
	if (want > cap)
		return VG_ELIMIT;
	/* libsodium 1.0.18 decodes every byte above 0x7f as '/', so the
	 * alphabet is checked here; of ASCII input it refuses misplaced
	 * padding and spare bits, stopping early on some of them, hence the
	 * end check. */
	for (size_t i = 0; i < len - pad; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return VG_EFORMAT;
	}
	if (sodium_base642bin(out, cap, s, len, NULL, &got, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + len || got != want)
		return VG_EFORMAT;
	*outlen = got;
	return 0;
}

size_t
tlog_b64_size(size_t n)
{
	return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
}

size_t
tlog_b64_encode(const uint8_t *in, size_t n, char *out)
{
	sodium_bin2base64(out, tlog_b64_size(n), in, n,
			  sodium_base64_VARIANT_ORIGINAL);
	return strlen(out);
}

int
tlog_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > TLOG_U64_DIGITS || (s[0] == '0' && len > 1))
		return VG_EFORMAT;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return VG_EFORMAT;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

bool
tlog_text_valid(const char *s, size_t len, size_t *bad)
{
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t l = text_utf8_decode(s + i, len - i, &cp);

		if (l == 0 || (cp < 0x20 && cp != '\n')) {
			*bad = i;
			return false;
		}
		i += l;
	}
	return true;
}

bool
tlog_is_space(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 ||
	       cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
	       cp == 0x3000;
}

const char *
tlog_memchr(const char *s, size_t len, char c)
{
	return len == 0 ? NULL : memchr(s, c, len);
}

uint32_t
tlog_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

uint64_t
tlog_be64(const uint8_t *p)
{
	return (uint64_t)tlog_be32(p) << 32 | tlog_be32(p + 4);
}

void
tlog_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
tlog_put_be64(uint8_t *p, uint64_t v)
{
	tlog_put_be32(p, (uint32_t)(v >> 32));
	tlog_put_be32(p + 4, (uint32_t)v);
}
