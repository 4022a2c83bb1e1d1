/*
 * engine.c - decomposition with libclamav, and analysis of every object.
 *
 * libclamav does the decomposition: archives, packers, documents, mail and
 * encodings. It loads no signatures here; we use it only for its parsers.
 * Its file-inspection callback hands us every object it meets, the file
 * itself first, each with its depth, name and type, and a buffer of its
 * bytes. In that callback we fingerprint the object (digest.c), type it
 * (libmagic), match it against the YARA rules and the hash signatures, and
 * enforce our limits (limits.h). Three further callbacks tell us what
 * libclamav did *not* analyse: the archive meta callback announces every
 * member with its declared size before extraction, the virus-found
 * callback reports libclamav's own limit and encryption heuristics, and
 * the scan's return code tells us when a parser failed.
 *
 * gzip, bzip2 and xz we take apart ourselves (streams.h), member by
 * member, as well as the bytes after the end of a zip or tar archive.
 * What they yield is copied into a bounded queue and, once libclamav's
 * scan has returned, each queued object is scanned in turn as a child of
 * the object it came from, with its depth and parent carried in the scan
 * context; libclamav is never re-entered from its own callbacks.
 */
#include "engine/engine.h"

#include <clamav.h>
#include <errno.h>
#include <fcntl.h>
#include <magic.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yara.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/text.h"
#include "common/xmalloc.h"
#include "engine/digest.h"
#include "engine/elf.h"
#include "engine/hashdb.h"
#include "engine/rules.h"
#include "engine/streams.h"

/* libmagic sees at most this much of an object: types are decided by
 * headers, and a hostile object must not make libmagic walk 400 MB. */
#define MAGIC_PREFIX (1024 * 1024)

struct engine {
	struct cl_engine *cl;
	struct ruleset rs;
	struct hashdb *hdb;
	struct vg_limits limits;
	bool fuzzy;
	bool match_only;
};

/* A scanner keeps its read buffer between files up to this size. */
#define SCANNER_KEEP_BUFFER (64 * 1024 * 1024)

struct scanner {
	struct engine *e;
	uint8_t *buf; /* the current file's bytes (engine_scan_fd) */
	size_t cap;
	YR_SCANNER *yr;
	magic_t magic_mime, magic_desc;
	struct digest *dg;
};

/* An object found by our own decomposition, waiting for its scan. */
struct pending {
	uint8_t *data; /* owned */
	size_t len;
	char *name;     /* sanitised; owned; may be NULL */
	int32_t parent; /* the object it came from */
	uint32_t depth; /* its own depth */
};

/* The state of one file's scan, passed to every libclamav callback. */
struct scan_ctx {
	struct scanner *s;
	struct report *r;
	uint64_t t0_ms;
	/* stack[d] is the index of the latest object at depth d. */
	int32_t stack[VG_LIMIT_MAX_DEPTH_CEILING + 2];
	struct object *cur; /* the object YARA is matching, for its callback */
	/* The object the inspection callback saw last; libclamav calls the
	 * pre-scan callback for the same object right after. */
	const uint8_t *last_buf;
	size_t last_len;
	const char *last_type;
	/* Archive members announced by the meta callback, to be ticked off
	 * as their objects arrive; any left over were never analysed. */
	struct member *members;
	size_t n_members;
	/* The pass being run: libclamav numbers depths from 0 in every
	 * cl_scanmap_callback(), so a queued object's scan adds its depth,
	 * and its root hangs under root_parent with root_name. */
	uint32_t depth_base;
	int32_t root_parent;
	const char *root_name;
	int32_t scan_root; /* the object this pass began with, or -1 */
	/* Objects our own decomposition found, scanned after libclamav's
	 * pass: queue[head..n_queue), holding queued_bytes. */
	struct pending *queue;
	size_t head, n_queue;
	uint64_t queued_bytes;
};

struct member {
	char *base; /* last path component of the member's name */
	uint64_t size, container_size;
	unsigned int pos;
	int32_t container; /* the object announcing it */
	bool seen;
};

/* libclamav does not call back for objects this small (it returns early);
 * a member this small is not missing when it does not arrive. */
#define CL_SMALL_OBJECT 5

/* Records limit k on the object whose contents it concerns (-1: the
 * file) and on the file. */
static void
hit_at(struct scan_ctx *c, int32_t obj, enum vg_limit_kind k)
{
	report_hit_limit_at(c->r, obj, k);
}

static void problem_at(struct scan_ctx *c, int32_t obj, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records a problem met while taking object obj apart. */
static void
problem_at(struct scan_ctx *c, int32_t obj, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	report_add_problem_at(c->r, obj, msg ? msg : fmt);
	free(msg);
}

/* The object that contains the object about to be made at depth d of
 * this pass (libclamav's numbering), or -1 for the file itself. Only
 * depths within the limit have a stack entry. */
static int32_t
parent_of(const struct scan_ctx *c, uint32_t d)
{
	uint32_t at = c->depth_base + d - 1;
	uint32_t top = c->s->e->limits.max_depth;

	if (d == 0)
		return c->root_parent;
	return c->stack[at < top ? at : top];
}

/* Checks the limits that forbid analysing one more object of size bytes
 * at depth (in the file); records the first one hit on parent, the
 * container that could not be taken apart in full. */
static bool
over_limits(struct scan_ctx *c, uint32_t depth, uint64_t size, int32_t parent)
{
	const struct vg_limits *l = &c->s->e->limits;
	enum vg_limit_kind k;

	if (depth > l->max_depth)
		k = VG_LIMIT_DEPTH;
	else if (c->r->n_objects >= l->max_objects)
		k = VG_LIMIT_OBJECTS;
	else if (size > l->max_file_size)
		k = VG_LIMIT_FILE_SIZE;
	else if (c->r->bytes_scanned + size > l->max_scan_bytes)
		k = VG_LIMIT_SCAN_BYTES;
	else if (clock_ms() - c->t0_ms > l->max_scan_ms)
		k = VG_LIMIT_TIME;
	else
		return false;
	hit_at(c, parent, k);
	return true;
}

static int
yara_cb(YR_SCAN_CONTEXT *yctx, int message, void *data, void *ud)
{
	struct scan_ctx *c = ud;

	(void)yctx;
	if (message == CALLBACK_MSG_RULE_MATCHING) {
		const YR_RULE *rule = data;
		const struct rule_info *ri = ruleset_info(&c->s->e->rs, rule);

		if (ri != NULL)
			object_add_match(c->cur, MATCH_YARA, ri->name, ri->id,
					 ri->category, ri->description,
					 ri->score);
	} else if (message == CALLBACK_MSG_TOO_MANY_MATCHES) {
		problem_at(c, c->cur ? (int32_t)c->cur->index : -1,
			   "yara: too many string matches; a rule may have "
			   "missed");
	}
	return CALLBACK_CONTINUE;
}

static void
magic_type(struct scanner *s, const uint8_t *buf, size_t len, struct object *o)
{
	const char *t;
	size_t n = len < MAGIC_PREFIX ? len : MAGIC_PREFIX;

	if ((t = magic_buffer(s->magic_mime, buf, n)) != NULL)
		o->mime = xstrdup(t);
	if ((t = magic_buffer(s->magic_desc, buf, n)) != NULL)
		o->magic = text_sanitize(t, false);
}

static void
match_hashes(struct scan_ctx *c, struct object *o)
{
	const struct hashdb *db = c->s->e->hdb;
	const uint8_t *d[HASH_KIND_COUNT] = {o->md5, o->sha1, o->sha256};

	if (hashdb_count(db) == 0)
		return;
	for (int k = 0; k < HASH_KIND_COUNT; k++) {
		const char *name = hashdb_lookup(db, k, d[k], o->size);

		if (name != NULL)
			object_add_match(o, MATCH_HASH, name, NULL, "hash",
					 "hash signature", 100);
	}
}

/* Analyses one object's bytes: fingerprints, type, rules, hashes. */
static void
analyse(struct scan_ctx *c, struct object *o, const uint8_t *buf, size_t len)
{
	struct scanner *s = c->s;
	struct digest_result dr;
	uint64_t left_ms;
	int rc;

	o->size = len;
	c->r->bytes_scanned += len;
	if (s->e->match_only) {
		/* The file's name is its SHA-256; objects inside need none. */
		if (o->index == 0 && EVP_Digest(buf, len, o->sha256, NULL,
						EVP_sha256(), NULL) != 1)
			report_add_problem(c->r, "digest: OpenSSL failed");
		goto rules;
	}
	if (digest_buffer(s->dg, buf, len, s->e->fuzzy, &dr) == 0) {
		memcpy(o->md5, dr.md5, sizeof(o->md5));
		memcpy(o->sha1, dr.sha1, sizeof(o->sha1));
		memcpy(o->sha256, dr.sha256, sizeof(o->sha256));
		o->entropy = dr.entropy;
		if (dr.ssdeep[0] != '\0')
			o->ssdeep = xstrdup(dr.ssdeep);
	} else {
		problem_at(c, (int32_t)o->index, "digest: OpenSSL failed");
	}
	magic_type(s, buf, len, o);
	match_hashes(c, o);
rules:
	if (s->e->rs.n_rules == 0)
		return;
	left_ms = s->e->limits.max_scan_ms - (clock_ms() - c->t0_ms);
	yr_scanner_set_timeout(s->yr, (int)(left_ms / 1000) + 1);
	c->cur = o;
	rc = yr_scanner_scan_mem(s->yr, buf, len);
	c->cur = NULL;
	if (rc == ERROR_SCAN_TIMEOUT)
		hit_at(c, (int32_t)o->index, VG_LIMIT_TIME);
	else if (rc != ERROR_SUCCESS)
		problem_at(c, (int32_t)o->index, "yara: scan failed");
}

static const char *
basename_of(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *bslash = strrchr(name, '\\');

	if (bslash != NULL && (slash == NULL || bslash > slash))
		slash = bslash;
	return slash ? slash + 1 : name;
}

static void
tick_member(struct scan_ctx *c, const char *name, uint64_t size)
{
	const char *base = name ? basename_of(name) : NULL;

	for (size_t i = 0; i < c->n_members; i++) {
		struct member *m = &c->members[i];

		if (m->seen || m->size != size)
			continue;
		if (base == NULL || strcmp(m->base, base) == 0) {
			m->seen = true;
			return;
		}
	}
}

static void
note_member(struct scan_ctx *c, const char *name, uint64_t size,
	    uint64_t container_size, unsigned int pos, int32_t container)
{
	const char *base = basename_of(name ? name : "");
	const size_t cap = 4 * (size_t)c->s->e->limits.max_objects;

	if (size <= CL_SMALL_OBJECT)
		return;
	/* zip members are announced twice: from the central directory and
	 * from the local header. */
	for (size_t i = 0; i < c->n_members; i++) {
		struct member *m = &c->members[i];

		if (m->pos == pos && m->size == size &&
		    m->container_size == container_size &&
		    strcmp(m->base, base) == 0)
			return;
	}
	if (c->n_members >= cap) {
		hit_at(c, container, VG_LIMIT_OBJECTS);
		return;
	}
	c->members = xreallocarray(c->members, c->n_members + 1,
				   sizeof(*c->members));
	c->members[c->n_members++] = (struct member){
		.base = xstrdup(base),
		.size = size,
		.container_size = container_size,
		.pos = pos,
		.container = container,
	};
}

/* Bytes the file may still have analysed, queued objects counted. */
static uint64_t
budget_left(const struct scan_ctx *c)
{
	uint64_t used = c->r->bytes_scanned + c->queued_bytes;
	uint64_t max = c->s->e->limits.max_scan_bytes;

	return used < max ? max - used : 0;
}

/*
 * Queues an object found by our own decomposition, as a child of parent
 * at depth; takes data and name (raw, sanitised here). Refused, with the
 * limit recorded on parent, when it would pass a limit.
 */
static void
queue_take(struct scan_ctx *c, int32_t parent, uint32_t depth, char *name,
	   uint8_t *data, size_t len)
{
	const struct vg_limits *l = &c->s->e->limits;
	size_t waiting = c->n_queue - c->head;
	enum vg_limit_kind k = 0;

	if (depth > l->max_depth)
		k = VG_LIMIT_DEPTH;
	else if (c->r->n_objects + waiting >= l->max_objects)
		k = VG_LIMIT_OBJECTS;
	else if (len > l->max_file_size)
		k = VG_LIMIT_FILE_SIZE;
	else if (len > budget_left(c))
		k = VG_LIMIT_SCAN_BYTES;
	if (k != 0) {
		hit_at(c, parent, k);
		free(data);
		free(name);
		return;
	}
	c->queue = xreallocarray(c->queue, c->n_queue + 1, sizeof(*c->queue));
	c->queue[c->n_queue++] = (struct pending){
		.data = data,
		.len = len,
		.name = name ? text_sanitize(name, false) : NULL,
		.parent = parent,
		.depth = depth,
	};
	free(name);
	c->queued_bytes += len;
}

/* Takes a gzip, bzip2 or xz object apart, member by member. */
static void
split_stream(struct scan_ctx *c, struct object *o, enum stream_format f,
	     const uint8_t *buf, size_t len)
{
	const struct vg_limits *l = &c->s->e->limits;
	struct stream_bounds b = {
		.max_member = l->max_file_size,
		.max_total = budget_left(c),
		.max_ratio = l->max_ratio,
		.deadline_ms = c->t0_ms + l->max_scan_ms,
	};
	struct stream_result sr;

	memset(&sr, 0, sizeof(sr));
	stream_split(f, buf, len, &b, &sr);
	for (size_t i = 0; i < sr.n_parts; i++) {
		struct stream_part *p = &sr.parts[i];

		queue_take(c, (int32_t)o->index, o->depth + 1, p->name, p->data,
			   p->len);
		p->data = NULL;
		p->name = NULL;
	}
	for (int k = 0; k < VG_LIMIT_KIND_COUNT; k++)
		if (sr.limits_hit & (1u << k))
			hit_at(c, (int32_t)o->index, 1u << k);
	if (sr.problem != NULL)
		problem_at(c, (int32_t)o->index, "object %u: %s", o->index,
			   sr.problem);
	stream_result_free(&sr);
}

/* Queues the bytes after the end of a zip or tar archive's data, unless
 * they are zero padding: they are an object of their own. */
static void
split_trailer(struct scan_ctx *c, struct object *o, const char *type,
	      const uint8_t *buf, size_t len)
{
	size_t end;
	uint8_t *copy;
	int truncated = 0;

	if (strcmp(type, "CL_TYPE_ZIP") == 0 && len >= 4 &&
	    memcmp(buf, "PK\x03\x04", 4) == 0) {
		if ((end = stream_zip_end(buf, len)) == 0) {
			/* Without its end record libclamav walks the local
			 * headers and silently drops what it cannot read. */
			problem_at(c, (int32_t)o->index,
				   "zip object %u has no whole end of central "
				   "directory record that matches its central "
				   "directory (truncated or corrupt?)",
				   o->index);
			return;
		}
	} else if (strcmp(type, "CL_TYPE_POSIX_TAR") == 0 ||
		   strcmp(type, "CL_TYPE_OLD_TAR") == 0)
		end = stream_tar_end(buf, len, &truncated);
	else
		return;
	if (truncated)
		problem_at(c, (int32_t)o->index,
			   "tar object %u: an entry's data runs past the end "
			   "(truncated)",
			   o->index);
	/* Zero padding (tar pads to its record size) is not data. */
	while (end < len && buf[end] == 0)
		end++;
	if (end >= len)
		return;
	copy = xmalloc(len - end);
	memcpy(copy, buf + end, len - end);
	queue_take(c, (int32_t)o->index, o->depth + 1, xstrdup("#appended"),
		   copy, len - end);
}

static cl_error_t
inspect_cb(int fd, const char *type, const char **ancestors, size_t parent_size,
	   const char *name, size_t size, const char *buffer, uint32_t depth,
	   uint32_t attrs, void *ctx)
{
	struct scan_ctx *c = ctx;
	uint32_t d = c->depth_base + depth; /* depth in the file */
	int32_t parent = parent_of(c, depth);
	enum stream_format f;
	struct object *o;
	void *map = NULL;

	(void)ancestors;
	(void)parent_size;
	if (type == NULL)
		type = "CL_TYPE_ANY";
	if (over_limits(c, d, size, parent)) {
		/* The file itself refused: it still needs an object 0 for
		 * the limit's detection to sit on. */
		if (c->r->n_objects == 0) {
			o = report_add_object(c->r);
			o->size = size;
			o->cl_type = xstrdup(type);
		}
		return CL_BREAK;
	}
	o = report_add_object(c->r);
	o->depth = d;
	o->parent = parent;
	c->stack[d] = (int32_t)o->index;
	if (depth == 0)
		c->scan_root = (int32_t)o->index;
	if (d == 0)
		o->name = NULL; /* the file itself: its path is the report's */
	else if (depth == 0)
		o->name = c->root_name ? xstrdup(c->root_name) : NULL;
	else
		o->name = name ? text_sanitize(name, false) : NULL;
	o->cl_type = xstrdup(type);
	o->layer_attributes = attrs;
	if (depth > 0)
		tick_member(c, name, size);
	if (buffer == NULL && size > 0) {
		/* libclamav gave no buffer: map the descriptor ourselves. */
		map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			problem_at(c, (int32_t)o->index,
				   "object %u could not be read", o->index);
			return CL_CLEAN;
		}
		buffer = map;
	}
	analyse(c, o, (const uint8_t *)buffer, size);
	c->last_buf = map != NULL ? NULL : (const uint8_t *)buffer;
	c->last_len = size;
	c->last_type = type;
	if (stream_format_of(type, &f) == 0)
		split_stream(c, o, f, (const uint8_t *)buffer, size);
	else
		split_trailer(c, o, type, (const uint8_t *)buffer, size);
	if (map != NULL)
		munmap(map, size);
	return CL_CLEAN;
}

/* The latest object of libclamav's type, or -1 if there is none. */
static int32_t
latest_of_type(const struct scan_ctx *c, const char *type)
{
	if (type == NULL)
		return -1;
	for (size_t i = c->r->n_objects; i-- > 0;)
		if (strcmp(c->r->objects[i].cl_type, type) == 0)
			return (int32_t)i;
	return -1;
}

/*
 * Called for each object after the inspection callback, before libclamav
 * parses it. An ELF file whose headers account for all its bytes has
 * nothing embedded for libclamav to find (elf.h); it was analysed in full
 * by inspect_cb, so libclamav's own pass over it is skipped. So is its
 * pass over a gzip, bzip2 or xz object: inspect_cb took it apart.
 */
static cl_error_t
prescan_cb(int fd, const char *type, void *ctx)
{
	struct scan_ctx *c = ctx;
	enum stream_format f;
	struct stat st;

	if (stream_format_of(type, &f) == 0)
		return CL_BREAK;
	if (type == NULL || strcmp(type, "CL_TYPE_ELF") != 0 ||
	    c->last_buf == NULL || c->last_type == NULL ||
	    strcmp(c->last_type, type) != 0)
		return CL_CLEAN;
	if (fd >= 0 &&
	    (fstat(fd, &st) != 0 || (uint64_t)st.st_size != c->last_len))
		return CL_CLEAN; /* not the object we saw: take no shortcut */
	return elf_fully_described(c->last_buf, c->last_len) ? CL_BREAK
							     : CL_CLEAN;
}

/*
 * Every archive member is announced here with its declared size and its
 * compressed size (container_size, despite libclamav's name) before
 * libclamav extracts it. A member over the size or ratio limit is
 * recorded on its container, and the scan is stopped there: libclamav
 * would otherwise inflate it up to its own size limit into a temporary
 * file, and every sibling after it (a 42-style bomb). Returning CL_VIRUS
 * makes libclamav record "Detected.By.Callback", a strong indicator that
 * ends the whole scan because the scan options leave out ALLMATCHES.
 */
static cl_error_t
meta_cb(const char *container_type, unsigned long container_size,
	const char *name, unsigned long real_size, int encrypted,
	unsigned int pos, void *ctx)
{
	struct scan_ctx *c = ctx;
	const struct vg_limits *l = &c->s->e->limits;
	int32_t container = latest_of_type(c, container_type);
	uint64_t csize = container_size ? container_size : 1;

	/* libclamav also parses archive headers it finds embedded in other
	 * files (a zip signature in a library's code): those are not
	 * containers we analysed, and their "members" are noise. */
	if (container < 0)
		return CL_CLEAN;
	note_member(c, name, real_size, container_size, pos, container);
	if (encrypted)
		problem_at(c, container,
			   "an encrypted archive member could not be "
			   "analysed");
	if (real_size > l->max_file_size) {
		hit_at(c, container, VG_LIMIT_FILE_SIZE);
		return CL_VIRUS;
	}
	if (real_size > VG_LIMIT_RATIO_FLOOR &&
	    real_size / csize > l->max_ratio) {
		hit_at(c, container, VG_LIMIT_RATIO);
		return CL_VIRUS;
	}
	return CL_CLEAN;
}

/* libclamav's own heuristics: with no signatures loaded, every name it
 * reports is a limit or a part it could not open. */
static void
virus_cb(int fd, const char *virname, void *ctx)
{
	struct scan_ctx *c = ctx;
	static const struct {
		const char *suffix;
		enum vg_limit_kind kind;
	} map[] = {
		{"MaxFileSize", VG_LIMIT_FILE_SIZE},
		{"MaxScanSize", VG_LIMIT_SCAN_BYTES},
		{"MaxRecursion", VG_LIMIT_DEPTH},
		{"MaxFiles", VG_LIMIT_OBJECTS},
		{"MaxScanTime", VG_LIMIT_TIME},
	};
	const char *pfx = "Heuristics.Limits.Exceeded.";
	/* libclamav reports at the end of a pass, with no descriptor: the
	 * most precise object it can concern is the pass's first. */
	int32_t at = c->scan_root;

	(void)fd;
	if (virname == NULL)
		return;
	/* Our own meta_cb stopping the scan: its limit is recorded. */
	if (strncmp(virname, "Detected.By.Callback", 20) == 0)
		return;
	if (strncmp(virname, pfx, strlen(pfx)) == 0) {
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strncmp(virname + strlen(pfx), map[i].suffix,
				    strlen(map[i].suffix)) == 0) {
				hit_at(c, at, map[i].kind);
				return;
			}
	}
	if (strstr(virname, "Encrypted") != NULL) {
		problem_at(c, at, "encrypted content could not be analysed");
		return;
	}
	char *safe = text_sanitize(virname, false);
	problem_at(c, at, "libclamav: %s", safe);
	free(safe);
}

int
engine_global_init(void)
{
	if (cl_init(CL_INIT_DEFAULT) != CL_SUCCESS)
		return VG_ELIB;
	if (yr_initialize() != ERROR_SUCCESS)
		return VG_ELIB;
	return digest_global_init();
}

void
engine_config_default(struct engine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	limits_default(&cfg->limits);
	cfg->fuzzy = true;
}

static int
cl_setup(struct engine *e, const char *tmpdir, char *err, size_t errlen)
{
	const struct vg_limits *l = &e->limits;
	struct cl_engine *cl = cl_engine_new();
	cl_error_t rc = CL_SUCCESS;

	if (cl == NULL)
		return VG_ENOMEM;
	e->cl = cl;
	/* One level beyond ours, so that our callback sees the object past
	 * the limit and records it, rather than libclamav dropping it. */
	rc |= cl_engine_set_num(cl, CL_ENGINE_MAX_RECURSION, l->max_depth + 1);
	rc |= cl_engine_set_num(cl, CL_ENGINE_MAX_FILES, l->max_objects);
	rc |= cl_engine_set_num(cl, CL_ENGINE_MAX_FILESIZE,
				(long long)l->max_file_size);
	rc |= cl_engine_set_num(cl, CL_ENGINE_MAX_SCANSIZE,
				(long long)l->max_scan_bytes);
	rc |= cl_engine_set_num(cl, CL_ENGINE_MAX_SCANTIME, l->max_scan_ms);
	rc |= cl_engine_set_num(cl, CL_ENGINE_MAX_EMBEDDEDPE,
				(long long)l->max_file_size);
	/* No signatures are loaded, so the Boyer-Moore pass would scan every
	 * byte for nothing; Aho-Corasick alone still finds embedded files. */
	rc |= cl_engine_set_num(cl, CL_ENGINE_AC_ONLY, 1);
	/* The clean-file cache would MD5 every file a second time. */
	rc |= cl_engine_set_num(cl, CL_ENGINE_DISABLE_CACHE, 1);
	rc |= cl_engine_set_num(cl, CL_ENGINE_DISABLE_PE_STATS, 1);
	rc |= cl_engine_set_num(cl, CL_ENGINE_DISABLE_PE_CERTS, 1);
	if (tmpdir != NULL)
		rc |= cl_engine_set_str(cl, CL_ENGINE_TMPDIR, tmpdir);
	if (rc != CL_SUCCESS) {
		snprintf(err, errlen, "libclamav: cannot apply limits");
		return VG_ELIB;
	}
	cl_engine_set_clcb_file_inspection(cl, inspect_cb);
	cl_engine_set_clcb_meta(cl, meta_cb);
	cl_engine_set_clcb_pre_scan(cl, prescan_cb);
	cl_engine_set_clcb_virus_found(cl, virus_cb);
	if ((rc = cl_engine_compile(cl)) != CL_SUCCESS) {
		snprintf(err, errlen, "libclamav: %s", cl_strerror(rc));
		return VG_ELIB;
	}
	return 0;
}

int
engine_new(const struct engine_config *cfg, struct engine **out, char *err,
	   size_t errlen)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	int rc;

	*out = NULL;
	e->limits = cfg->limits;
	e->fuzzy = cfg->fuzzy;
	e->match_only = cfg->match_only;
	if (limits_check(&e->limits) != 0) {
		snprintf(err, errlen, "limits out of range");
		rc = VG_EINVAL;
		goto fail;
	}
	rc = ruleset_compile(cfg->rule_paths, cfg->n_rule_paths, &e->rs, err,
			     errlen);
	if (rc != 0)
		goto fail;
	e->hdb = hashdb_new();
	for (size_t i = 0; i < cfg->n_hash_paths; i++)
		if ((rc = hashdb_load_file(e->hdb, cfg->hash_paths[i], err,
					   errlen)) != 0)
			goto fail;
	hashdb_finish(e->hdb);
	if ((rc = cl_setup(e, cfg->tmpdir, err, errlen)) != 0)
		goto fail;
	*out = e;
	return 0;
fail:
	engine_free(e);
	return rc;
}

void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	if (e->cl != NULL)
		cl_engine_free(e->cl);
	ruleset_free(&e->rs);
	hashdb_free(e->hdb);
	free(e);
}

size_t
engine_rule_count(const struct engine *e)
{
	return e->rs.n_rules;
}

size_t
engine_hash_count(const struct engine *e)
{
	return hashdb_count(e->hdb);
}

size_t
engine_rules_quarantined(const struct engine *e,
			 const struct rule_quarantine **q)
{
	*q = e->rs.quarantined;
	return e->rs.n_quarantined;
}

static magic_t
magic_new(int flags)
{
	magic_t m = magic_open(flags | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS);

	if (m == NULL)
		return NULL;
	if (magic_load(m, NULL) != 0) {
		magic_close(m);
		return NULL;
	}
	return m;
}

int
scanner_new(struct engine *e, struct scanner **out)
{
	struct scanner *s = xcalloc(1, sizeof(*s));

	*out = NULL;
	s->e = e;
	if (e->rs.n_rules > 0) {
		if (yr_scanner_create(e->rs.rules, &s->yr) != ERROR_SUCCESS)
			goto fail;
		yr_scanner_set_flags(s->yr, SCAN_FLAGS_FAST_MODE);
	}
	s->magic_mime = magic_new(MAGIC_MIME_TYPE);
	s->magic_desc = magic_new(MAGIC_NONE);
	s->dg = digest_new();
	if (s->magic_mime == NULL || s->magic_desc == NULL || s->dg == NULL)
		goto fail;
	*out = s;
	return 0;
fail:
	scanner_free(s);
	return VG_ELIB;
}

int
engine_load_rules_text(struct engine *e, struct scanner *s, const char *text,
		       size_t len, char *err, size_t errlen)
{
	struct ruleset rs;
	YR_SCANNER *yr = NULL;
	int rc;

	if (s->e != e)
		return VG_EINVAL;
	if ((rc = ruleset_compile_text(text, len, &rs, err, errlen)) != 0)
		return rc;
	if (rs.n_rules > 0) {
		if (yr_scanner_create(rs.rules, &yr) != ERROR_SUCCESS) {
			ruleset_free(&rs);
			snprintf(err, errlen, "yara: cannot create a scanner");
			return VG_ELIB;
		}
		yr_scanner_set_flags(yr, SCAN_FLAGS_FAST_MODE);
	}
	if (s->yr != NULL)
		yr_scanner_destroy(s->yr);
	s->yr = yr;
	ruleset_free(&e->rs);
	e->rs = rs;
	return 0;
}

void
scanner_free(struct scanner *s)
{
	if (s == NULL)
		return;
	if (s->yr != NULL)
		yr_scanner_destroy(s->yr);
	if (s->magic_mime != NULL)
		magic_close(s->magic_mime);
	if (s->magic_desc != NULL)
		magic_close(s->magic_desc);
	digest_free(s->dg);
	free(s->buf);
	free(s);
}

static struct cl_scan_options
scan_options(void)
{
	struct cl_scan_options o;

	memset(&o, 0, sizeof(o));
	/* Not ALLMATCHES: with no signatures loaded the only strong
	 * indicator is meta_cb's, which must end the scan (a bomb). */
	o.general = CL_SCAN_GENERAL_HEURISTICS;
	o.parse = ~0u;
	o.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX |
		      CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE |
		      CL_SCAN_HEURISTIC_ENCRYPTED_DOC;
	o.mail = 0;
	return o;
}

/*
 * libclamav returns early, without any callback, for tiny inputs (five
 * bytes or fewer); such a file is still analysed, here, as itself.
 */
static void
analyse_root_if_skipped(struct scan_ctx *c, const uint8_t *buf, size_t len)
{
	struct object *o;

	if (c->r->n_objects > 0 || c->r->limits_hit != 0)
		return;
	o = report_add_object(c->r);
	o->cl_type = xstrdup("CL_TYPE_ANY");
	analyse(c, o, buf, len);
}

/*
 * Containers that show they were cut short. Compressed containers that
 * yielded nothing: libclamav gives up on a truncated or corrupt 7z, RAR,
 * CAB or ARJ archive without a word (gzip, bzip2 and xz are ours, and
 * streams.c says exactly what it could not read). Below these sizes a
 * container may legitimately hold only objects too small for libclamav
 * to hand over.
 */
static void
check_empty_containers(struct scan_ctx *c)
{
	static const struct {
		const char *type;
		uint64_t min;
	} archives[] = {
		{"CL_TYPE_7Z", 32},
		{"CL_TYPE_RAR", 64},
		{"CL_TYPE_MSCAB", 64},
		{"CL_TYPE_ARJ", 64},
	};
	struct report *r = c->r;

	if (r->limits_hit != 0)
		return;
	for (size_t i = 0; i < r->n_objects; i++) {
		const struct object *o = &r->objects[i];
		bool parent = false;

		for (size_t k = 0; k < sizeof(archives) / sizeof(archives[0]);
		     k++) {
			if (strcmp(o->cl_type, archives[k].type) != 0 ||
			    o->size <= archives[k].min)
				continue;
			for (size_t j = i + 1; j < r->n_objects && !parent; j++)
				parent = r->objects[j].parent == (int32_t)i;
			if (!parent)
				problem_at(c, (int32_t)i,
					   "%s object %zu yielded no members "
					   "(truncated or corrupt?)",
					   o->cl_type, i);
		}
	}
}

/* Turns libclamav's result for one pass into report entries, on the
 * object the pass began with. */
static void
note_scan_result(struct scan_ctx *c, cl_error_t rc)
{
	int32_t at = c->scan_root;

	if (rc == CL_ETIMEOUT)
		hit_at(c, at, VG_LIMIT_TIME);
	else if (rc == CL_EMAXREC)
		hit_at(c, at, VG_LIMIT_DEPTH);
	else if (rc == CL_EMAXSIZE)
		hit_at(c, at, VG_LIMIT_SCAN_BYTES);
	else if (rc == CL_EMAXFILES)
		hit_at(c, at, VG_LIMIT_OBJECTS);
	else if (rc != CL_CLEAN && rc != CL_VIRUS && rc != CL_BREAK)
		problem_at(c, at, "libclamav: %s", cl_strerror(rc));
}

/* Completes the report: members that never arrived, containers cut
 * short, and the verdict. */
static void
finish(struct scan_ctx *c)
{
	for (size_t i = 0; i < c->n_members; i++) {
		struct member *m = &c->members[i];

		/* A limit already explains members that were skipped. */
		if (!m->seen && c->r->limits_hit == 0) {
			char *safe = text_sanitize(m->base, false);

			problem_at(c, m->container,
				   "archive member '%s' (%llu bytes) could "
				   "not be extracted",
				   safe, (unsigned long long)m->size);
			free(safe);
		}
		free(m->base);
	}
	free(c->members);
	c->members = NULL;
	c->n_members = 0;
	check_empty_containers(c);
	c->r->elapsed_ms = (double)(clock_ms() - c->t0_ms);
	report_decide(c->r);
}

/* Analyses, without libclamav, a queued object too small for it to call
 * back for. */
static void
analyse_small(struct scan_ctx *c, const struct pending *p)
{
	struct object *o;

	if (over_limits(c, p->depth, p->len, p->parent))
		return;
	o = report_add_object(c->r);
	o->depth = p->depth;
	o->parent = p->parent;
	o->name = p->name ? xstrdup(p->name) : NULL;
	o->cl_type = xstrdup("CL_TYPE_ANY");
	analyse(c, o, p->data ? p->data : (const uint8_t *)"", p->len);
}

/*
 * Scans the objects our own decomposition queued, oldest first, each as a
 * child of the object it came from; their scans may queue more. Once the
 * time is up, each remaining one is recorded as a limit on its parent.
 */
static void
scan_queue(struct scan_ctx *c)
{
	struct scanner *s = c->s;
	struct cl_scan_options opts = scan_options();

	while (c->head < c->n_queue) {
		struct pending p = c->queue[c->head++];
		unsigned long scanned = 0;
		const char *virname = NULL;
		cl_fmap_t *map;
		cl_error_t rc;

		c->queued_bytes -= p.len;
		if (clock_ms() - c->t0_ms > s->e->limits.max_scan_ms) {
			hit_at(c, p.parent, VG_LIMIT_TIME);
		} else if (p.len <= CL_SMALL_OBJECT) {
			analyse_small(c, &p);
		} else if ((map = cl_fmap_open_memory(p.data, p.len)) == NULL) {
			problem_at(c, p.parent, "out of memory");
		} else {
			c->depth_base = p.depth;
			c->root_parent = p.parent;
			c->root_name = p.name;
			c->scan_root = -1;
			c->last_buf = NULL;
			rc = cl_scanmap_callback(map, p.name, &virname,
						 &scanned, s->e->cl, &opts, c);
			cl_fmap_close(map);
			note_scan_result(c, rc);
		}
		free(p.data);
		free(p.name);
	}
	free(c->queue);
	c->queue = NULL;
	c->head = c->n_queue = 0;
}

static void
ctx_init(struct scan_ctx *c, struct scanner *s, const char *name)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->root_parent = -1;
	c->scan_root = -1;
	c->r = report_new(name);
	c->t0_ms = clock_ms();
	if (s->yr != NULL)
		yr_scanner_set_callback(s->yr, yara_cb, c);
}

/* The file is over a size limit: report it, unopened, as such. */
static struct report *
too_large(struct scan_ctx *c, uint64_t size)
{
	struct object *o = report_add_object(c->r);

	o->size = size;
	o->cl_type = xstrdup("CL_TYPE_ANY");
	hit_at(c, 0,
	       size > c->s->e->limits.max_file_size ? VG_LIMIT_FILE_SIZE
						    : VG_LIMIT_SCAN_BYTES);
	c->r->elapsed_ms = (double)(clock_ms() - c->t0_ms);
	report_decide(c->r);
	return c->r;
}

/*
 * Reads the whole file into the scanner's buffer. A buffer reused across
 * files, rather than a fresh mapping per file (libclamav's own fd path
 * maps anonymous memory and pread()s into it), spares every file the page
 * zeroing, the faults and the cross-CPU TLB flushes of mmap/munmap, which
 * serialised the worker threads on the kernel's mm lock. It also means a
 * file truncated under us gives a short read, never a SIGBUS.
 */
static int
read_whole(struct scanner *s, int fd, size_t size, size_t *got)
{
	if (size > s->cap) {
		free(s->buf);
		s->buf = malloc(size);
		s->cap = s->buf ? size : 0;
		if (s->buf == NULL)
			return VG_ENOMEM;
	}
	*got = 0;
	while (*got < size) {
		ssize_t n = pread(fd, s->buf + *got, size - *got, (off_t)*got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return VG_EIO;
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

/* Gives back a buffer grown for an unusually large file. */
static void
trim_buffer(struct scanner *s)
{
	if (s->cap > SCANNER_KEEP_BUFFER) {
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
}

int
engine_scan_fd(struct scanner *s, int fd, const char *display_name,
	       struct report **out)
{
	struct stat st;
	size_t got;
	int rc;

	*out = NULL;
	if (fstat(fd, &st) != 0)
		return VG_EIO;
	if (!S_ISREG(st.st_mode))
		return VG_ETYPE;
	if ((uint64_t)st.st_size > s->e->limits.max_file_size ||
	    (uint64_t)st.st_size > s->e->limits.max_scan_bytes)
		return engine_scan_buffer(s, NULL, (size_t)st.st_size,
					  display_name, out);
	if ((rc = read_whole(s, fd, (size_t)st.st_size, &got)) != 0)
		return rc;
	rc = engine_scan_buffer(s, got ? s->buf : (const uint8_t *)"", got,
				display_name, out);
	if (rc == 0 && got < (size_t)st.st_size) {
		report_add_problem_at(*out, 0,
				      "the file shrank while it was read");
		report_decide(*out);
	}
	trim_buffer(s);
	return rc;
}

int
engine_scan_buffer(struct scanner *s, const void *buf, size_t len,
		   const char *display_name, struct report **out)
{
	struct cl_scan_options opts = scan_options();
	struct scan_ctx c;
	unsigned long scanned = 0;
	const char *virname = NULL;
	cl_fmap_t *map;
	cl_error_t rc;

	*out = NULL;
	ctx_init(&c, s, display_name);
	if (len > s->e->limits.max_file_size ||
	    len > s->e->limits.max_scan_bytes) {
		*out = too_large(&c, len);
		return 0;
	}
	if ((map = cl_fmap_open_memory(buf, len)) == NULL) {
		report_free(c.r);
		return VG_ENOMEM;
	}
	rc = cl_scanmap_callback(map, display_name, &virname, &scanned,
				 s->e->cl, &opts, &c);
	cl_fmap_close(map);
	analyse_root_if_skipped(&c, buf, len);
	note_scan_result(&c, rc);
	scan_queue(&c);
	finish(&c);
	*out = c.r;
	return 0;
}
