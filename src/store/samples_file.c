/*
 * samples_file.c - the sample store's records in segment files; see
 * samples.h (the store's contract) and samples_impl.h (what a backend
 * does).
 *
 * Owns the store's root directory descriptor and the writer's state: the
 * open segment, its number and size, and the records gathered for one
 * write. Readers use only the root descriptor and the base, which open
 * fixes, so they share one struct samples with the writer. Records are
 * sealed and verified by samples.c; here they only go to and come from
 * files, <dir>/<NNNNNNNNNNNNNNNN>.seg.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "store/samples.h"
#include "store/samples_impl.h"

/* "%016llu.seg" */
#define SEG_NAME_LEN 20
#define SEG_DIGITS   16
#define SEG_SUFFIX   ".seg"

struct samples_file {
	struct samples base;
	int root; /* O_DIRECTORY descriptor of the store */
	/* The writer's: the open segment (-1: none yet, or abandoned), its
	 * number, its size, and whether it holds unsynced records. */
	int seg_fd;
	uint64_t seg_no, seg_size;
	bool seg_dirty;
	/* Records appended since the last sync were lost with an abandoned
	 * segment: the next samples_sync() must say so. */
	bool seg_lost;
	/* Records appended but not yet written: wlen bytes that belong at
	 * offset wat of the open segment (wat + wlen == seg_size). A batch
	 * of small records goes out in one write at samples_sync(). */
	uint8_t *wbuf;
	size_t wlen, wcap;
	uint64_t wat;
};

/* Records up to this size are gathered in wbuf, which is written out
 * when it reaches it; larger ones are written as they are encrypted. */
#define WBUF_MAX (1u << 20)

/* Maps an openat() failure on a store path to a VG_E* code. */
static int
open_errno(void)
{
	switch (errno) {
	case ENOENT:
	case ENOTDIR: return VG_ENOENT;
	case ELOOP: return VG_ETYPE; /* a symlink where the store has none */
	default: return VG_EIO;
	}
}

/* Parses a segment file name; false for anything else in the directory. */
static bool
parse_seg_name(const char *name, uint64_t *no)
{
	uint64_t v = 0;

	if (strlen(name) != SEG_NAME_LEN ||
	    strcmp(name + SEG_DIGITS, SEG_SUFFIX) != 0)
		return false;
	for (int i = 0; i < SEG_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*no = v;
	return v > 0;
}

static void
seg_name(uint64_t no, char out[SEG_NAME_LEN + 1])
{
	snprintf(out, SEG_NAME_LEN + 1, "%016llu" SEG_SUFFIX,
		 (unsigned long long)no);
}

int
samples_file_scan(int root, uint64_t *last, bool *used)
{
	struct dirent *de;
	int fd;
	DIR *d;

	*last = 0;
	*used = false;
	/* A fresh open file description, not dup(): readdir moves the
	 * offset. */
	if ((fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return VG_EIO;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return VG_EIO;
	}
	while ((de = readdir(d)) != NULL) {
		uint64_t no;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		*used = true;
		if (parse_seg_name(de->d_name, &no) && no > *last)
			*last = no;
	}
	closedir(d);
	return 0;
}

/* Closes the open segment; its unsynced records, if any, are lost to the
 * caller (who was told so by a failed samples_sync or append). */
static void
seg_abandon(struct samples_file *s)
{
	if (s->seg_fd >= 0)
		close(s->seg_fd);
	if (s->seg_dirty)
		s->seg_lost = true;
	s->seg_fd = -1;
	s->seg_dirty = false;
	s->wlen = 0;
}

/* Writes out the gathered records; VG_EIO (the caller abandons the
 * segment) if that fails. */
static int
wbuf_flush(struct samples_file *s)
{
	int rc;

	if (s->wlen == 0)
		return 0;
	rc = io_pwrite_all(s->seg_fd, s->wbuf, s->wlen, s->wat);
	s->wat += s->wlen;
	s->wlen = 0;
	return rc;
}

/*
 * Makes sure a segment with room for need more bytes is open: the first
 * append after open, after an abandoned segment, or once the current one
 * is full starts the next segment. A new segment's directory entry is
 * made durable before any record in it can be referred to.
 */
static int
seg_ready(struct samples_file *s, uint64_t need)
{
	char name[SEG_NAME_LEN + 1];
	int fd;

	if (s->seg_fd >= 0 &&
	    (s->seg_size == 0 || s->seg_size + need <= SAMPLES_SEGMENT_MAX))
		return 0;
	if (s->seg_fd >= 0) {
		/* Full: what is in it must be durable before it is closed,
		 * since samples_sync only flushes the open segment. */
		if (s->seg_dirty &&
		    (wbuf_flush(s) != 0 || io_fdatasync(s->seg_fd) != 0)) {
			seg_abandon(s);
			return VG_EIO;
		}
		s->seg_dirty = false;
		seg_abandon(s);
	}
	/* The number is used up whatever happens next: a file left by a
	 * failed attempt (or put there by someone else) is skipped, not
	 * retried forever. */
	s->seg_no++;
	seg_name(s->seg_no, name);
	fd = openat(s->root, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return VG_EIO;
	if (io_fsync(s->root) != 0) {
		close(fd);
		return VG_EIO;
	}
	s->seg_fd = fd;
	s->seg_size = 0;
	return 0;
}

/* Where samples_rec_seal() puts a record: the gather buffer (the record's
 * place there is reserved), or the segment file as it is encrypted. */
struct file_sink {
	struct samples_file *s;
	uint8_t *out; /* the record's place in wbuf, or NULL */
	uint64_t at;  /* segment offset of the next byte */
};

static int
file_put(void *ctx, const uint8_t *p, size_t n)
{
	struct file_sink *k = ctx;
	int rc = 0;

	if (k->out != NULL)
		memcpy(k->out + (k->at - k->s->seg_size), p, n);
	else
		rc = io_pwrite_all(k->s->seg_fd, p, n, k->at);
	k->at += n;
	return rc;
}

static int
file_append(struct samples *base, const uint8_t sha[32], const void *buf,
	    size_t len, struct sample_loc *loc)
{
	struct samples_file *s = (struct samples_file *)base;
	struct file_sink k = {s, NULL, 0};
	uint64_t rec = samples_record_size(len);
	int rc;

	if ((rc = seg_ready(s, rec)) != 0)
		return rc;
	k.at = s->seg_size;
	if (rec <= WBUF_MAX) {
		if (s->wlen == 0)
			s->wat = k.at;
		if (s->wcap - s->wlen < rec) {
			s->wcap = s->wlen + rec > 2 * s->wcap ? s->wlen + rec
							      : 2 * s->wcap;
			s->wbuf = xreallocarray(s->wbuf, s->wcap, 1);
		}
		k.out = s->wbuf + s->wlen;
	} else if (wbuf_flush(s) != 0) {
		/* Records gathered before this one are lost with it. */
		seg_abandon(s);
		return VG_EIO;
	}
	/* On failure the size does not move: the next record overwrites
	 * whatever part of this one reached the file (or the buffer). */
	if ((rc = samples_rec_seal(base, sha, buf, len, file_put, &k)) != 0)
		return rc;
	if (k.out != NULL)
		s->wlen += rec;
	loc->segment = s->seg_no;
	loc->offset = s->seg_size;
	loc->length = rec;
	s->seg_size += rec;
	s->seg_dirty = true;
	if (s->wlen >= WBUF_MAX && wbuf_flush(s) != 0) {
		/* This record and those gathered with it are lost: the next
		 * samples_sync() says so. */
		seg_abandon(s);
		return VG_EIO;
	}
	return 0;
}

static int
file_sync(struct samples *base, bool ordered)
{
	struct samples_file *s = (struct samples_file *)base;

	/* A file's records are durable at its fdatasync, whatever the
	 * caller commits after. */
	(void)ordered;
	if (s->seg_lost) {
		s->seg_lost = false;
		return VG_EIO;
	}
	if (s->seg_fd < 0 || !s->seg_dirty)
		return 0;
	/* A failed sync gives the segment up (fileio.h says why). */
	if (wbuf_flush(s) != 0 || io_fdatasync(s->seg_fd) != 0) {
		seg_abandon(s);
		s->seg_lost = false;
		return VG_EIO;
	}
	s->seg_dirty = false;
	return 0;
}

/* Where samples_rec_open() reads a record from: the segment, at the
 * record's offset. */
struct file_source {
	int fd;
	uint64_t base;
};

static int
file_get(void *ctx, uint64_t off, uint8_t *p, size_t n)
{
	struct file_source *src = ctx;

	return io_pread_all(src->fd, p, n, src->base + off);
}

static int
file_read(struct samples *base, const struct sample_loc *loc,
	  const uint8_t sha[32], uint8_t **out, size_t *len)
{
	struct samples_file *s = (struct samples_file *)base;
	char name[SEG_NAME_LEN + 1];
	struct file_source src;
	struct stat sb;
	int fd, rc;

	seg_name(loc->segment, name);
	fd = openat(s->root, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return open_errno();
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return VG_ETYPE;
	}
	/* A record the segment does not hold whole is truncated: known
	 * before its claimed length is allocated (up to SAMPLES_MAX_SIZE). */
	if ((uint64_t)sb.st_size < loc->offset + loc->length) {
		close(fd);
		return VG_ECORRUPT;
	}
	src.fd = fd;
	src.base = loc->offset;
	rc = samples_rec_open(base, loc, sha, file_get, &src, out, len);
	close(fd);
	return rc;
}

/*
 * Punches the record's range out of its segment. The writer may be
 * appending to the same segment meanwhile: a hole punched below its end
 * does not disturb that, and gathered records not yet written are past
 * any location already handed out.
 */
static int
file_erase(struct samples *base, const struct sample_loc *loc)
{
	struct samples_file *s = (struct samples_file *)base;
	char name[SEG_NAME_LEN + 1];
	struct stat sb;
	uint64_t end;
	int fd, rc = 0;

	seg_name(loc->segment, name);
	fd = openat(s->root, name,
		    O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = open_errno();
		/* Nothing left to erase. */
		return rc == VG_ENOENT ? 0 : rc;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rc = VG_ETYPE;
		goto out;
	}
	/* Only what the segment holds: a range past its end is nothing. */
	end = loc->offset + loc->length;
	if (end > (uint64_t)sb.st_size)
		end = (uint64_t)sb.st_size;
	if (loc->offset < end &&
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)loc->offset, (off_t)(end - loc->offset)) != 0) {
		log_event(LOG_WARN, "samples_erase_failed", "segment=%s err=%s",
			  name, strerror(errno));
		rc = VG_EIO;
		goto out;
	}
	if (io_fdatasync(fd) != 0)
		rc = VG_EIO;
out:
	close(fd);
	return rc;
}

static void
file_close(struct samples *base)
{
	struct samples_file *s = (struct samples_file *)base;

	seg_abandon(s);
	free(s->wbuf);
	if (s->root >= 0)
		close(s->root);
}

static const struct samples_ops file_ops = {
	.append = file_append,
	.sync = file_sync,
	.read = file_read,
	.erase = file_erase,
	.close = file_close,
};

int
samples_open_keysrc(const char *dir, const struct samples_keysrc *src,
		    struct samples **out, char *err, size_t errlen)
{
	struct samples_file *s;
	bool used;
	int rc;

	*out = NULL;
	s = xcalloc(1, sizeof(*s));
	s->root = -1;
	s->seg_fd = -1;
	if ((rc = samples_base_init(&s->base, &file_ops, src, err, errlen)) !=
	    0)
		goto out;
	if ((rc = io_dir_open(dir, NULL, &s->root, err, errlen)) != 0)
		goto out;
	/* Appends go to a new segment after the last one: a tail a crash
	 * left in it is never written over or read. */
	if (samples_file_scan(s->root, &s->seg_no, &used) != 0) {
		vg_seterr(err, errlen, "%s: cannot list: %s", dir,
			  strerror(errno));
		rc = VG_EIO;
		goto out;
	}
	*out = &s->base;
	return 0;
out:
	samples_close(&s->base);
	return rc;
}
