/*
 * hashdb.c - loading and matching ClamAV hash signatures; see hashdb.h.
 *
 * Every line is parsed by advancing over a bounded span and failing closed:
 * a signature file is input from outside the engine, and a bad line must be
 * named, never half-loaded.
 */
#include "engine/hashdb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/xmalloc.h"

#define HASHDB_MAX_FILE (1024L * 1024 * 1024)

static const size_t digest_len[HASH_KIND_COUNT] = {16, 20, 32};

struct sig {
	uint8_t digest[32];
	uint64_t size;
	char *name;
};

struct sigset {
	struct sig *v;
	size_t n, cap;
};

struct hashdb {
	struct sigset set[HASH_KIND_COUNT];
};

struct hashdb *
hashdb_new(void)
{
	return xcalloc(1, sizeof(struct hashdb));
}

void
hashdb_free(struct hashdb *db)
{
	if (db == NULL)
		return;
	for (int k = 0; k < HASH_KIND_COUNT; k++) {
		for (size_t i = 0; i < db->set[k].n; i++)
			free(db->set[k].v[i].name);
		free(db->set[k].v);
	}
	free(db);
}

size_t
hashdb_count(const struct hashdb *db)
{
	size_t n = 0;

	for (int k = 0; k < HASH_KIND_COUNT; k++)
		n += db->set[k].n;
	return n;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The fields of one line, as spans into the buffer. */
struct field {
	const char *p;
	size_t n;
};

/* Splits [p, p+n) at ':' into at most max fields; returns the count, or
 * max + 1 when there are more. */
static size_t
split(const char *p, size_t n, struct field *f, size_t max)
{
	size_t nf = 0;
	const char *start = p, *end = p + n;

	for (const char *q = p;; q++) {
		if (q == end || *q == ':') {
			if (nf == max)
				return max + 1;
			f[nf].p = start;
			f[nf].n = (size_t)(q - start);
			nf++;
			if (q == end)
				break;
			start = q + 1;
		}
	}
	return nf;
}

static bool
parse_u64(const struct field *f, uint64_t *out)
{
	uint64_t v = 0;

	if (f->n == 0 || f->n > 20)
		return false;
	for (size_t i = 0; i < f->n; i++) {
		if (f->p[i] < '0' || f->p[i] > '9')
			return false;
		uint64_t d = (uint64_t)(f->p[i] - '0');
		if (v > (UINT64_MAX - 1 - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* Parses one line; on error returns a static reason. */
static const char *
parse_line(const char *p, size_t n, bool md5_only, enum hash_kind *kind,
	   struct sig *sig)
{
	struct field f[5];
	size_t nf = split(p, n, f, 5);
	uint64_t flevel;

	if (nf < 3)
		return "expected HASH:SIZE:NAME";
	if (nf > 5)
		return "too many fields";
	switch (f[0].n) {
	case 32: *kind = HASH_MD5; break;
	case 40: *kind = HASH_SHA1; break;
	case 64: *kind = HASH_SHA256; break;
	default: return "hash must be 32, 40 or 64 hex digits";
	}
	if (md5_only && *kind != HASH_MD5)
		return ".hdb signatures must be MD5 (32 hex digits)";
	for (size_t i = 0; i < f[0].n; i += 2) {
		int hi = hexval(f[0].p[i]), lo = hexval(f[0].p[i + 1]);
		if (hi < 0 || lo < 0)
			return "hash is not hexadecimal";
		sig->digest[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	if (f[1].n == 1 && f[1].p[0] == '*')
		sig->size = HASHDB_SIZE_ANY;
	else if (!parse_u64(&f[1], &sig->size))
		return "size must be a decimal number or *";
	if (f[2].n == 0)
		return "empty signature name";
	if (f[2].n > HASHDB_MAX_NAME)
		return "signature name too long";
	for (size_t i = 0; i < f[2].n; i++) {
		unsigned char c = (unsigned char)f[2].p[i];
		if (c <= 0x20 || c >= 0x7f)
			return "signature name must be printable ASCII without "
			       "spaces";
	}
	for (size_t i = 3; i < nf; i++)
		if (!parse_u64(&f[i], &flevel))
			return "functionality level must be a number";
	return NULL;
}

static int
sig_cmp(const struct sig *a, const struct sig *b, size_t dlen)
{
	int c = memcmp(a->digest, b->digest, dlen);

	if (c != 0)
		return c;
	return a->size < b->size ? -1 : a->size > b->size;
}

static int cmp_len; /* set only during hashdb_finish's sorts */

static int
qsort_cmp(const void *a, const void *b)
{
	return sig_cmp(a, b, (size_t)cmp_len);
}

int
hashdb_load_buffer(struct hashdb *db, const char *buf, size_t len,
		   const char *origin, char *err, size_t errlen)
{
	const char *ext = strrchr(origin, '.');
	bool md5_only = ext != NULL && strcmp(ext, ".hdb") == 0;
	size_t before[HASH_KIND_COUNT];
	const char *p = buf, *end = buf + len;
	unsigned long lineno = 0;

	for (int k = 0; k < HASH_KIND_COUNT; k++)
		before[k] = db->set[k].n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t n = (size_t)(eol - p);
		const char *why = NULL;
		enum hash_kind kind;
		struct sig sig;

		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > HASHDB_MAX_LINE)
			why = "line too long";
		else if (memchr(p, '\0', n) != NULL)
			why = "NUL byte in line";
		else if (n == 0 || p[0] == '#')
			goto next;
		else
			why = parse_line(p, n, md5_only, &kind, &sig);
		if (why != NULL) {
			snprintf(err, errlen, "%s:%lu: %s", origin, lineno,
				 why);
			/* Roll back: a file loads whole or not at all. */
			for (int k = 0; k < HASH_KIND_COUNT; k++) {
				for (size_t i = before[k]; i < db->set[k].n;
				     i++)
					free(db->set[k].v[i].name);
				db->set[k].n = before[k];
			}
			return VG_EFORMAT;
		}
		{
			struct sigset *s = &db->set[kind];
			const struct field *name;
			struct field f[5];

			split(p, n, f, 5);
			name = &f[2];
			if (s->n == s->cap) {
				s->cap = s->cap ? s->cap * 2 : 64;
				s->v = xreallocarray(s->v, s->cap,
						     sizeof(*s->v));
			}
			sig.name = xmalloc(name->n + 1);
			memcpy(sig.name, name->p, name->n);
			sig.name[name->n] = '\0';
			s->v[s->n++] = sig;
		}
	next:
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int
hashdb_load_file(struct hashdb *db, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VG_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return VG_EIO;
	}
	if (st.st_size > HASHDB_MAX_FILE) {
		snprintf(err, errlen, "%s: larger than 1 GiB", path);
		close(fd);
		return VG_ELIMIT;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		snprintf(err, errlen, "%s: short read", path);
		free(buf);
		return VG_EIO;
	}
	rc = hashdb_load_buffer(db, buf, got, path, err, errlen);
	free(buf);
	return rc;
}

void
hashdb_finish(struct hashdb *db)
{
	for (int k = 0; k < HASH_KIND_COUNT; k++) {
		if (db->set[k].n == 0)
			continue;
		cmp_len = (int)digest_len[k];
		qsort(db->set[k].v, db->set[k].n, sizeof(struct sig),
		      qsort_cmp);
	}
}

/* Finds digest with exactly size, then with any size. */
const char *
hashdb_lookup(const struct hashdb *db, enum hash_kind kind,
	      const uint8_t *digest, uint64_t size)
{
	const struct sigset *s = &db->set[kind];
	size_t dlen = digest_len[kind];
	uint64_t sizes[2] = {size, HASHDB_SIZE_ANY};

	for (int t = 0; t < 2; t++) {
		struct sig key;
		size_t lo = 0, hi = s->n;

		memcpy(key.digest, digest, dlen);
		key.size = sizes[t];
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = sig_cmp(&s->v[mid], &key, dlen);
			if (c == 0)
				return s->v[mid].name;
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return NULL;
}
