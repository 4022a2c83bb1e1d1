/*
 * container.c - reading and writing the release container; see
 * container.h and docs/RELEASES.md, "The release container".
 *
 * The reader advances an offset over the caller's buffer and checks every
 * length against what is left before it looks at the bytes, so a
 * truncated container is an error at the offset where it stops, never a
 * read past the end.
 */
#include "release/container.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/xmalloc.h"

#define MAGIC_LEN (sizeof(CONTAINER_MAGIC) - 1)
/* A length of at most CONTAINER_BYTES_MAX has at most 10 digits. */
#define LENGTH_DIGITS_MAX 10

enum { W_FILE = 1, W_FD, W_MEM };

bool
container_path_ok(const char *path, size_t len)
{
	size_t comp = 0; /* length of the current component */

	if (len == 0 || len > CONTAINER_PATH_MAX || path[0] == '/' ||
	    path[0] == '.' || path[len - 1] == '/')
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || path[i] == '/') {
			const char *c = path + i - comp;

			if (comp == 0 || (comp == 1 && c[0] == '.') ||
			    (comp == 2 && c[0] == '.' && c[1] == '.'))
				return false;
			comp = 0;
			continue;
		}
		if (!((path[i] >= 'a' && path[i] <= 'z') ||
		      (path[i] >= 'A' && path[i] <= 'Z') ||
		      (path[i] >= '0' && path[i] <= '9') || path[i] == '.' ||
		      path[i] == '_' || path[i] == '-'))
			return false;
		comp++;
	}
	return true;
}

void
container_reader_init(struct container_reader *r, const void *buf, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = len;
}

int
container_next(struct container_reader *r, struct container_file *f, char *err,
	       size_t errlen)
{
	const uint8_t *p;
	size_t left, i, plen, dlen = 0, ndig, rec;

	memset(f, 0, sizeof(*f));
	if (r->state == 2)
		return 0;
	if (r->state == 0) {
		if (r->len < MAGIC_LEN ||
		    memcmp(r->buf, CONTAINER_MAGIC, MAGIC_LEN) != 0)
			return vg_fail(err, errlen, VG_EFORMAT,
				       "offset 0: not a release container (no "
				       "\"vigil.release-bundle/v1\" line)");
		r->off = MAGIC_LEN;
		r->state = 1;
	}
	rec = r->record + 1;
	p = r->buf + r->off;
	left = r->len - r->off;
	if (left >= 4 && memcmp(p, "end\n", 4) == 0) {
		if (left > 4)
			return vg_fail(err, errlen, VG_EFORMAT,
				       "offset %zu: %zu bytes after \"end\"",
				       r->off + 4, left - 4);
		r->off += 4;
		r->state = 2;
		return 0;
	}
	if (left < 5 || memcmp(p, "file ", 5) != 0) {
		if ((left < 4 && memcmp(p, "end\n", left) == 0) ||
		    (left < 5 && memcmp(p, "file ", left) == 0))
			return vg_fail(err, errlen, VG_EFORMAT,
				       "offset %zu: the container is truncated "
				       "(no \"end\" line)",
				       r->off);
		return vg_fail(err, errlen, VG_EFORMAT,
			       "offset %zu: record %zu: expected \"file \" or "
			       "\"end\"",
			       r->off, rec);
	}
	if (rec > CONTAINER_FILES_MAX)
		return vg_fail(err, errlen, VG_ELIMIT,
			       "offset %zu: record %zu: more than %d files",
			       r->off, rec, CONTAINER_FILES_MAX);
	p += 5;
	left -= 5;
	/* The path: up to the space before the length. */
	for (plen = 0; plen < left && plen <= CONTAINER_PATH_MAX; plen++)
		if (p[plen] == ' ' || p[plen] == '\n')
			break;
	if (plen == left)
		return vg_fail(err, errlen, VG_EFORMAT,
			       "offset %zu: record %zu: truncated in its path",
			       r->off + 5 + plen, rec);
	if (plen > CONTAINER_PATH_MAX)
		return vg_fail(
			err, errlen, VG_ELIMIT,
			"offset %zu: record %zu: path longer than %d bytes",
			r->off + 5, rec, CONTAINER_PATH_MAX);
	if (p[plen] != ' ' || !container_path_ok((const char *)p, plen))
		return vg_fail(err, errlen, VG_EFORMAT,
			       "offset %zu: record %zu: bad path \"%.*s\"",
			       r->off + 5, rec, (int)(plen > 80 ? 80 : plen),
			       (const char *)p);
	/* The length: decimal, no leading zero, then a newline. */
	i = plen + 1;
	for (ndig = 0; i + ndig < left && ndig <= LENGTH_DIGITS_MAX; ndig++) {
		uint8_t c = p[i + ndig];

		if (c < '0' || c > '9')
			break;
		dlen = dlen * 10 + (size_t)(c - '0');
	}
	if (i + ndig == left)
		return vg_fail(
			err, errlen, VG_EFORMAT,
			"offset %zu: record %zu: truncated in its length",
			r->off + 5 + i + ndig, rec);
	if (ndig > LENGTH_DIGITS_MAX && p[i] != '0')
		return vg_fail(err, errlen, VG_ELIMIT,
			       "offset %zu: record %zu: length over the "
			       "container's limit of %llu bytes",
			       r->off + 5 + i, rec,
			       (unsigned long long)CONTAINER_BYTES_MAX);
	if (ndig == 0 || p[i + ndig] != '\n' || (ndig > 1 && p[i] == '0'))
		return vg_fail(
			err, errlen, VG_EFORMAT,
			"offset %zu: record %zu (%.*s): the length is "
			"not a decimal without leading zero and a newline",
			r->off + 5 + i, rec, (int)(plen > 80 ? 80 : plen),
			(const char *)p);
	if (ndig > LENGTH_DIGITS_MAX || dlen > CONTAINER_BYTES_MAX)
		return vg_fail(err, errlen, VG_ELIMIT,
			       "offset %zu: record %zu: length over the "
			       "container's limit of %llu bytes",
			       r->off + 5 + i, rec,
			       (unsigned long long)CONTAINER_BYTES_MAX);
	i += ndig + 1; /* the data starts at p + i */
	/* The data, its newline, and "end\n" after it must fit the limit. */
	if ((uint64_t)(r->off + 5 + i) + dlen + 1 + 4 > CONTAINER_BYTES_MAX)
		return vg_fail(err, errlen, VG_ELIMIT,
			       "offset %zu: record %zu: the container would be "
			       "over %llu bytes",
			       r->off, rec,
			       (unsigned long long)CONTAINER_BYTES_MAX);
	if (dlen > left - i || left - i - dlen < 1)
		return vg_fail(
			err, errlen, VG_EFORMAT,
			"offset %zu: record %zu (%.*s) declares %zu bytes "
			"but only %zu remain",
			r->off + 5 + i, rec, (int)(plen > 80 ? 80 : plen),
			(const char *)p, dlen, left - i);
	if (p[i + dlen] != '\n')
		return vg_fail(
			err, errlen, VG_EFORMAT,
			"offset %zu: record %zu (%.*s): no newline after "
			"its %zu bytes",
			r->off + 5 + i + dlen, rec,
			(int)(plen > 80 ? 80 : plen), (const char *)p, dlen);
	f->path = xmalloc(plen + 1);
	memcpy(f->path, p, plen);
	f->path[plen] = '\0';
	f->path_len = plen;
	f->data = p + i;
	f->len = dlen;
	f->record = rec;
	r->off += 5 + i + dlen + 1;
	r->record = rec;
	return 1;
}

static int
by_path(const void *a, const void *b)
{
	const struct container_file *x =
		*(const struct container_file *const *)a;
	const struct container_file *y =
		*(const struct container_file *const *)b;

	return strcmp(x->path, y->path);
}

int
container_parse(const void *buf, size_t len, struct container *c, char *err,
		size_t errlen)
{
	struct container_reader r;
	struct container_file f, **sorted = NULL;
	size_t cap = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	container_reader_init(&r, buf, len);
	while ((rc = container_next(&r, &f, err, errlen)) == 1) {
		if (c->n == cap) {
			cap = cap ? cap * 2 : 16;
			c->files =
				xreallocarray(c->files, cap, sizeof(*c->files));
		}
		c->files[c->n++] = f;
	}
	if (rc != 0)
		goto out;
	/* No path twice: sorted, a duplicate sits next to its twin. */
	if (c->n > 1) {
		sorted = xcalloc(c->n, sizeof(*sorted));
		for (size_t i = 0; i < c->n; i++)
			sorted[i] = &c->files[i];
		qsort(sorted, c->n, sizeof(*sorted), by_path);
		for (size_t i = 1; i < c->n; i++)
			if (strcmp(sorted[i - 1]->path, sorted[i]->path) == 0) {
				size_t a = sorted[i - 1]->record,
				       b = sorted[i]->record;

				rc = vg_fail(
					err, errlen, VG_EFORMAT,
					"record %zu: path \"%s\" is already "
					"record %zu",
					a > b ? a : b, sorted[i]->path,
					a > b ? b : a);
				goto out;
			}
	}
out:
	free(sorted);
	if (rc != 0)
		container_free(c);
	return rc;
}

const struct container_file *
container_find(const struct container *c, const char *path)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->files[i].path, path) == 0)
			return &c->files[i];
	return NULL;
}

void
container_free(struct container *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->files[i].path);
	free(c->files);
	memset(c, 0, sizeof(*c));
}

/* ---- writing ---- */

static int
emit(struct container_writer *w, const void *p, size_t n)
{
	if (w->err != 0)
		return w->err;
	switch (w->kind) {
	case W_FILE:
		if (n > 0 && fwrite(p, 1, n, w->f) != n)
			w->err = VG_EIO;
		break;
	case W_FD:
		if (io_write_all(w->fd, p, n) != 0)
			w->err = VG_EIO;
		break;
	case W_MEM:
		if (n > w->mem_cap - w->mem_len) {
			size_t cap = w->mem_cap ? w->mem_cap : 4096;

			while (cap - w->mem_len < n)
				cap *= 2;
			w->mem = xreallocarray(w->mem, cap, 1);
			w->mem_cap = cap;
		}
		memcpy(w->mem + w->mem_len, p, n);
		w->mem_len += n;
		break;
	default: w->err = VG_EINVAL;
	}
	if (w->err == 0)
		w->total += n;
	return w->err;
}

static int
writer_start(struct container_writer *w, int kind, FILE *f, int fd)
{
	memset(w, 0, sizeof(*w));
	w->kind = kind;
	w->f = f;
	w->fd = fd;
	return emit(w, CONTAINER_MAGIC, MAGIC_LEN);
}

int
container_writer_file(struct container_writer *w, FILE *f)
{
	return writer_start(w, W_FILE, f, -1);
}

int
container_writer_fd(struct container_writer *w, int fd)
{
	return writer_start(w, W_FD, NULL, fd);
}

int
container_writer_mem(struct container_writer *w)
{
	return writer_start(w, W_MEM, NULL, -1);
}

int
container_writer_add(struct container_writer *w, const char *path,
		     const void *data, size_t len)
{
	char head[CONTAINER_PATH_MAX + 40];
	size_t plen = strlen(path);
	int n;

	if (w->err != 0)
		return w->err;
	if (w->ended)
		return VG_EINVAL;
	if (!container_path_ok(path, plen))
		return VG_EINVAL;
	n = snprintf(head, sizeof(head), "file %s %zu\n", path, len);
	if (w->nfiles == CONTAINER_FILES_MAX ||
	    w->total + (uint64_t)n + len + 1 + 4 > CONTAINER_BYTES_MAX)
		return VG_ELIMIT;
	if (emit(w, head, (size_t)n) != 0 || emit(w, data, len) != 0 ||
	    emit(w, "\n", 1) != 0)
		return w->err;
	w->nfiles++;
	return 0;
}

int
container_writer_end(struct container_writer *w)
{
	if (emit(w, "end\n", 4) != 0)
		return w->err;
	if (w->kind == W_FILE && fflush(w->f) != 0)
		w->err = VG_EIO;
	w->ended = w->err == 0;
	return w->err;
}

uint8_t *
container_writer_take(struct container_writer *w, size_t *len)
{
	uint8_t *m;

	if (w->kind != W_MEM || w->err != 0 || !w->ended || w->mem == NULL)
		return NULL;
	m = w->mem;
	*len = w->mem_len;
	w->mem = NULL;
	w->mem_len = w->mem_cap = 0;
	return m;
}

void
container_writer_clear(struct container_writer *w)
{
	if (w == NULL)
		return;
	free(w->mem);
	w->mem = NULL;
	w->mem_len = w->mem_cap = 0;
}
