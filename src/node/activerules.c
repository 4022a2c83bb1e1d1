/*
 * activerules.c - the node's active rule directory and its quarantine
 * list; see activerules.h and docs/RULES.md.
 *
 * A build lists the operator's files, copies each into a staging
 * directory (DATA/rules-active.new), then compiles the staging directory
 * with the engine's own ruleset_compile(), the very code the workers run.
 * Each file it quarantines is replaced by its copy in the current active
 * directory (its last good version) or, if there is none or that one
 * fails too, removed; then the set is compiled again. Every round takes
 * one step for at least one file (source -> last good -> left out), so a
 * build ends after at most 2n + 1 compiles of n files. The staging
 * directory then takes the active one's place in one rename
 * (RENAME_EXCHANGE), and the old one is removed.
 */
#include "node/activerules.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yara.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/xmalloc.h"

#define HASH_LEN 32

/* A quarantined file, with the text a crash quarantine applies to. */
struct qent {
	struct activerules_entry e;
	uint8_t hash[HASH_LEN]; /* crash only: BLAKE2b of the text */
};

struct activerules {
	pthread_mutex_t mu; /* guards everything below and the directory */
	char *src, *active, *stage;
	struct qent *q;
	size_t nq;
};

/* What a build does with one operator file. */
enum cand_state { CAND_SOURCE, CAND_KEPT, CAND_OUT };

struct cand {
	char *name;
	enum cand_state state;
	bool crash;
	char reason[RULES_REASON_MAX];
	uint8_t hash[HASH_LEN];
};

static void
hash_text(const uint8_t *p, size_t len, uint8_t out[HASH_LEN])
{
	crypto_generichash(out, HASH_LEN, p, len, NULL, 0);
}

static bool
is_rule_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n <= ACTIVERULES_NAME_MAX &&
	       ((n > 4 && strcmp(name + n - 4, ".yar") == 0) ||
		(n > 5 && strcmp(name + n - 5, ".yara") == 0));
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rule file names in dir, sorted, into *names (*n of them). */
static int
list_rules(const char *dir, char ***names, size_t *n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	*names = NULL;
	*n = 0;
	if (d == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return VG_EIO;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_rule_name(de->d_name))
			continue;
		if (*n >= RULES_MAX_FILES) {
			closedir(d);
			snprintf(err, errlen, "%s: more than %d rule files",
				 dir, RULES_MAX_FILES);
			return VG_ELIMIT;
		}
		*names = xreallocarray(*names, *n + 1, sizeof(**names));
		(*names)[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(*names, *n, sizeof(**names), cmp_str);
	return 0;
}

static void
free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Removes the files of the flat directory dir, then dir. Best effort. */
static void
remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static struct qent *
find_crash(struct activerules *ar, const char *name)
{
	for (size_t i = 0; i < ar->nq; i++)
		if (ar->q[i].e.crash && strcmp(ar->q[i].e.file, name) == 0)
			return &ar->q[i];
	return NULL;
}

/* c could not stay as it is, for reason: its last good version in its
 * place if it has one and was not tried yet, otherwise left out. */
static int
step_back(struct activerules *ar, struct cand *c, const char *reason)
{
	char *from = xasprintf("%s/%s", ar->active, c->name);
	char *to = xasprintf("%s/%s", ar->stage, c->name);
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = 0;

	if (c->state == CAND_SOURCE) {
		snprintf(c->reason, sizeof(c->reason), "%s", reason);
		if (io_read_file(from, ACTIVERULES_FILE_MAX, &data, &len) ==
		    0) {
			rc = io_write_file(to, data, len, 0600);
			c->state = CAND_KEPT;
			goto out;
		}
	}
	c->state = CAND_OUT;
	if (unlink(to) != 0 && errno != ENOENT)
		rc = VG_EIO;
out:
	free(data);
	free(from);
	free(to);
	return rc;
}

static struct cand *
find_cand(struct cand *c, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].name, name) == 0)
			return &c[i];
	return NULL;
}

/* Copies the operator's files into the staging directory, except those a
 * crash quarantined whose text has not changed since. */
static int
stage_sources(struct activerules *ar, struct cand *c, size_t n, char *err,
	      size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		char *src = xasprintf("%s/%s", ar->src, c[i].name);
		char *to = xasprintf("%s/%s", ar->stage, c[i].name);
		struct qent *q = find_crash(ar, c[i].name);
		uint8_t *data = NULL;
		size_t len = 0;
		int rc = io_read_file(src, ACTIVERULES_FILE_MAX, &data, &len);

		if (rc != 0) {
			char why[RULES_REASON_MAX];

			snprintf(why, sizeof(why), "cannot read: %s",
				 rc == VG_ELIMIT ? "too large"
						 : vg_strerror(rc));
			rc = step_back(ar, &c[i], why);
		} else {
			hash_text(data, len, c[i].hash);
			if (q != NULL &&
			    memcmp(q->hash, c[i].hash, HASH_LEN) == 0) {
				c[i].state = CAND_OUT;
				c[i].crash = true;
				snprintf(c[i].reason, sizeof(c[i].reason), "%s",
					 q->e.reason);
			} else if ((rc = io_write_file(to, data, len, 0600)) !=
				   0) {
				snprintf(err, errlen, "%s: %s", to,
					 strerror(errno));
			}
		}
		free(data);
		free(src);
		free(to);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Compiles the staging directory until every file in it compiles. */
static int
settle(struct activerules *ar, struct cand *c, size_t n, char *err,
       size_t errlen)
{
	const char *paths[] = {ar->stage};

	for (size_t round = 0; round <= 2 * n + 1; round++) {
		struct ruleset rs;
		size_t nq;
		int rc = ruleset_compile(paths, 1, &rs, err, errlen);

		if (rc != 0)
			return rc;
		nq = rs.n_quarantined;
		for (size_t i = 0; rc == 0 && i < nq; i++) {
			struct cand *k = find_cand(
				c, n, base_name(rs.quarantined[i].file));

			if (k == NULL) /* not ours: cannot happen */
				rc = VG_EIO;
			else
				rc = step_back(ar, k, rs.quarantined[i].reason);
		}
		ruleset_free(&rs);
		if (rc != 0) {
			snprintf(err, errlen, "%s: cannot write", ar->stage);
			return rc;
		}
		if (nq == 0)
			return 0;
	}
	snprintf(err, errlen, "%s: the rules do not settle", ar->stage);
	return VG_EIO;
}

/* For a file system without RENAME_EXCHANGE: two renames, and a worker
 * starting between them finds no rules directory, fails to start and is
 * started again (analysis.c). 0, or -1 with errno. */
static int
swap_by_two(struct activerules *ar)
{
	char *old = xasprintf("%s.old", ar->active);
	int rc = -1, e;

	remove_dir(old);
	if (rename(ar->active, old) == 0) {
		if (rename(ar->stage, ar->active) == 0)
			rc = rename(old, ar->stage);
		else if ((e = errno, rename(old, ar->active)) == 0)
			errno = e;
	}
	free(old);
	return rc;
}

/* Puts the staging directory in the active one's place. */
static int
swap_in(struct activerules *ar, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(ar->active, &st) == 0) {
		int rc = renameat2(AT_FDCWD, ar->stage, AT_FDCWD, ar->active,
				   RENAME_EXCHANGE);

		if (rc != 0 && (errno == EINVAL || errno == ENOSYS))
			rc = swap_by_two(ar);
		if (rc != 0) {
			snprintf(err, errlen, "%s: %s", ar->active,
				 strerror(errno));
			return VG_EIO;
		}
		remove_dir(ar->stage); /* the old active directory */
	} else if (rename(ar->stage, ar->active) != 0) {
		snprintf(err, errlen, "%s: %s", ar->active, strerror(errno));
		return VG_EIO;
	}
	return io_fsync_parent(ar->active);
}

static void
log_quarantine(const struct activerules_entry *e)
{
	char f[ACTIVERULES_NAME_MAX + 3], r[RULES_REASON_MAX + 2];

	log_event(LOG_WARN, "rule_quarantined",
		  "file=%s reason=%s last_good=%s cause=%s",
		  log_value(e->file, f, sizeof(f)),
		  log_value(e->reason, r, sizeof(r)), e->kept ? "kept" : "none",
		  e->crash ? "analysis" : "compile");
}

/* Builds the active directory from the operator's; ar->mu held. */
static int
build(struct activerules *ar, char *err, size_t errlen)
{
	char **names = NULL;
	struct cand *c = NULL;
	struct qent *q = NULL;
	size_t n = 0, nq = 0, active = 0;
	int rc;

	if ((rc = list_rules(ar->src, &names, &n, err, errlen)) != 0)
		goto out;
	remove_dir(ar->stage); /* a build that died half-way */
	if (mkdir(ar->stage, 0700) != 0) {
		snprintf(err, errlen, "%s: %s", ar->stage, strerror(errno));
		rc = VG_EIO;
		goto out;
	}
	c = xcalloc(n ? n : 1, sizeof(*c));
	for (size_t i = 0; i < n; i++)
		c[i].name = names[i];
	if ((rc = stage_sources(ar, c, n, err, errlen)) != 0 ||
	    (rc = settle(ar, c, n, err, errlen)) != 0 ||
	    (rc = swap_in(ar, err, errlen)) != 0) {
		remove_dir(ar->stage);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct qent *e;

		if (c[i].state != CAND_OUT)
			active++;
		if (c[i].state == CAND_SOURCE)
			continue;
		q = xreallocarray(q, nq + 1, sizeof(*q));
		e = &q[nq++];
		memset(e, 0, sizeof(*e));
		snprintf(e->e.file, sizeof(e->e.file), "%s", c[i].name);
		snprintf(e->e.reason, sizeof(e->e.reason), "%s", c[i].reason);
		e->e.kept = c[i].state == CAND_KEPT;
		e->e.crash = c[i].crash;
		memcpy(e->hash, c[i].hash, HASH_LEN);
		log_quarantine(&e->e);
	}
	free(ar->q);
	ar->q = q;
	ar->nq = nq;
	q = NULL;
	log_event(LOG_INFO, "rules_active", "files=%zu quarantined=%zu", active,
		  nq);
out:
	free(q);
	free(c);
	free_names(names, n);
	return rc;
}

int
activerules_open(const char *src_dir, const char *data_dir,
		 struct activerules **out, char *err, size_t errlen)
{
	struct activerules *ar = xcalloc(1, sizeof(*ar));
	int rc;

	*out = NULL;
	if (yr_initialize() != ERROR_SUCCESS) {
		free(ar);
		snprintf(err, errlen, "cannot initialise libyara");
		return VG_ELIB;
	}
	pthread_mutex_init(&ar->mu, NULL);
	ar->src = xstrdup(src_dir);
	ar->active = xasprintf("%s/rules-active", data_dir);
	ar->stage = xasprintf("%s/rules-active.new", data_dir);
	if ((rc = build(ar, err, errlen)) != 0) {
		activerules_free(ar);
		return rc;
	}
	*out = ar;
	return 0;
}

int
activerules_reload(struct activerules *ar, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&ar->mu);
	rc = build(ar, err, errlen);
	pthread_mutex_unlock(&ar->mu);
	return rc;
}

const char *
activerules_dir(const struct activerules *ar)
{
	return ar->active;
}

int
activerules_files(struct activerules *ar, char ***paths, size_t *n)
{
	char err[256];
	int rc;

	pthread_mutex_lock(&ar->mu);
	rc = list_rules(ar->active, paths, n, err, sizeof(err));
	pthread_mutex_unlock(&ar->mu);
	if (rc != 0)
		return VG_EIO;
	for (size_t i = 0; i < *n; i++) {
		char *p = xasprintf("%s/%s", ar->active, (*paths)[i]);

		free((*paths)[i]);
		(*paths)[i] = p;
	}
	return 0;
}

int
activerules_quarantine(struct activerules *ar, const char *name,
		       const char *reason)
{
	const char *base = base_name(name);
	char *path;
	uint8_t *data = NULL;
	size_t len = 0;
	struct qent *e;
	int rc;

	if (!is_rule_name(base))
		return VG_EINVAL;
	path = xasprintf("%s/%s", ar->active, base);
	pthread_mutex_lock(&ar->mu);
	if ((rc = io_read_file(path, ACTIVERULES_FILE_MAX, &data, &len)) != 0) {
		rc = VG_ENOENT;
		goto out;
	}
	if (unlink(path) != 0 || io_fsync_parent(path) != 0) {
		rc = VG_EIO;
		goto out;
	}
	/* A compile quarantine of the same file (its last good version was
	 * the active one) becomes this one. */
	for (size_t i = 0; i < ar->nq; i++)
		if (strcmp(ar->q[i].e.file, base) == 0) {
			ar->q[i] = ar->q[--ar->nq];
			break;
		}
	ar->q = xreallocarray(ar->q, ar->nq + 1, sizeof(*ar->q));
	e = &ar->q[ar->nq++];
	memset(e, 0, sizeof(*e));
	snprintf(e->e.file, sizeof(e->e.file), "%s", base);
	snprintf(e->e.reason, sizeof(e->e.reason), "%s", reason);
	e->e.crash = true;
	hash_text(data, len, e->hash);
	log_quarantine(&e->e);
out:
	pthread_mutex_unlock(&ar->mu);
	free(data);
	free(path);
	return rc;
}

/* Feeds one rule file's name, size and contents to the hash. */
static int
hash_rule_file(crypto_hash_sha256_state *h, int dfd, const char *name)
{
	uint8_t buf[65536], len[8];
	struct stat st;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return VG_EIO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0; /* not a file the compiler would read either */
	}
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)((uint64_t)st.st_size >> (56 - 8 * i));
	crypto_hash_sha256_update(h, (const uint8_t *)name, strlen(name) + 1);
	crypto_hash_sha256_update(h, len, sizeof(len));
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = VG_EIO;
		if (n <= 0)
			break;
		crypto_hash_sha256_update(h, buf, (size_t)n);
	}
	close(fd);
	return rc;
}

int
activerules_generation(struct activerules *ar, char out[65])
{
	crypto_hash_sha256_state h;
	uint8_t md[crypto_hash_sha256_BYTES];
	char **names = NULL, err[256];
	size_t n = 0;
	int dfd, rc;

	pthread_mutex_lock(&ar->mu);
	if ((rc = list_rules(ar->active, &names, &n, err, sizeof(err))) != 0)
		goto out;
	if ((dfd = open(ar->active, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = VG_EIO;
		goto out;
	}
	crypto_hash_sha256_init(&h);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = hash_rule_file(&h, dfd, names[i]);
	crypto_hash_sha256_final(&h, md);
	close(dfd);
	if (rc == 0)
		sodium_bin2hex(out, 65, md, sizeof(md));
out:
	pthread_mutex_unlock(&ar->mu);
	free_names(names, n);
	return rc == 0 ? 0 : VG_EIO;
}

size_t
activerules_quarantined(struct activerules *ar, struct activerules_entry **out)
{
	size_t n;

	*out = NULL;
	pthread_mutex_lock(&ar->mu);
	n = ar->nq;
	if (n > 0) {
		*out = xcalloc(n, sizeof(**out));
		for (size_t i = 0; i < n; i++)
			(*out)[i] = ar->q[i].e;
	}
	pthread_mutex_unlock(&ar->mu);
	return n;
}

void
activerules_free(struct activerules *ar)
{
	if (ar == NULL)
		return;
	pthread_mutex_destroy(&ar->mu);
	free(ar->src);
	free(ar->active);
	free(ar->stage);
	free(ar->q);
	free(ar);
	yr_finalize();
}
