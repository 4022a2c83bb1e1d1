/*
 * cmd_update.c - `vigil update`: the endpoint installs a rule release
 * only after it has checked all of it (docs/RELEASES.md, "The endpoint").
 *
 * The order is TUF's client workflow, then the log:
 *   1. roots: N+1.root.json, N+2... each signed by the threshold of the
 *      one before and of its own, each version exactly one more; then the
 *      newest trusted root must not have expired;
 *   2. timestamp: signed by the timestamp role, not older than the last
 *      one trusted, not expired;
 *   3. snapshot: read only up to the length the timestamp gives, its
 *      hash and version as the timestamp says, signed, not older, not
 *      expired; 4. targets: the same against the snapshot;
 *   5. the rule bundle: read only up to its declared length (an endless
 *      answer is cut there), its hash as targets says, its version not
 *      below the one installed;
 *   6. the log: a checkpoint signed by the log's key and cosigned by the
 *      quorum of witnesses, consistent with every checkpoint this
 *      endpoint saw before (kept in $VIGIL_HOME/logs, shared with `vigil
 *      log`), and an entry of that tree, proved from its tiles, that is
 *      the rule-release of exactly this bundle;
 *   7. install: rules_install() writes the rules aside, compiles them
 *      again, and switches to them atomically; a running scanner is told
 *      with SIGHUP.
 * Each manifest is kept as trusted as soon as it is verified. Any failure
 * leaves the installed rules as they are and exits with the code of its
 * class (the table in docs/RELEASES.md).
 *
 * A bundle (--from-bundle) is read through the same two fetchers as the
 * node: nothing else differs, so an air-gapped endpoint checks exactly
 * what an online one does.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/logclient.h"
#include "cli/release.h"
#include "cli/userconf.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/xmalloc.h"
#include "release/container.h"
#include "release/rules.h"
#include "release/tuf.h"
#include "tlog/entry.h"
#include "tlog/merkle.h"
#include "tlog/note.h"
#include "tlog/proof.h"

/* Exit codes (docs/RELEASES.md). */
enum {
	UPD_OK = 0,
	UPD_SOON = 1, /* --check: a trusted manifest expires soon */
	UPD_USAGE = 2,
	UPD_FETCH = 4,
	UPD_FORMAT = 10,
	UPD_SIGNATURE = 11,
	UPD_ROLLBACK = 12,
	UPD_EXPIRED = 13,
	UPD_MISMATCH = 14,
	UPD_ARTIFACT = 15,
	UPD_NOT_LOGGED = 16,
	UPD_SPLIT_VIEW = 17,
	UPD_WITNESSES = 18,
	UPD_INSTALL = 19,
	UPD_LOG_KEY = 20, /* the log's key is not the one recorded */
};

#define MAX_WITNESSES 16
#define POLICY_MAX    (16 * 1024)
#define BUNDLE_MAX    (1ULL << 30)
#define WARN_DAYS     30

static const char *const fail_class[] = {
	[TUF_OK] = "ok",
	[TUF_FAIL_FORMAT] = "malformed",
	[TUF_FAIL_SIGNATURE] = "signature",
	[TUF_FAIL_ROLLBACK] = "rollback",
	[TUF_FAIL_EXPIRED] = "expired",
	[TUF_FAIL_MISMATCH] = "mix-and-match",
	[TUF_FAIL_ARTIFACT] = "artifact",
};

static int
exit_of(enum tuf_fail f)
{
	switch (f) {
	case TUF_FAIL_SIGNATURE: return UPD_SIGNATURE;
	case TUF_FAIL_ROLLBACK: return UPD_ROLLBACK;
	case TUF_FAIL_EXPIRED: return UPD_EXPIRED;
	case TUF_FAIL_MISMATCH: return UPD_MISMATCH;
	case TUF_FAIL_ARTIFACT: return UPD_ARTIFACT;
	default: return UPD_FORMAT;
	}
}

static int
refuse(const struct tuf_result *r)
{
	fprintf(stderr, "vigil: update refused (%s): %s\n",
		fail_class[r->fail <= TUF_FAIL_ARTIFACT ? r->fail : 0], r->msg);
	fprintf(stderr, "vigil: the installed rules are unchanged\n");
	return exit_of(r->fail);
}

static int refuse_code(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
refuse_code(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vigil: update refused: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nvigil: the installed rules are unchanged\n");
	return code;
}

/* ---- where the release comes from ---- */

struct source {
	const char *name; /* for messages */
	struct logclient_http *rel, *log;
	uint8_t *buf; /* a bundle's bytes */
	struct container c;
};

/* A bundle's file, copied: 0, VG_ENOENT, VG_ELIMIT. */
static int
bundle_get(const struct source *s, const char *path, size_t max, uint8_t **data,
	   size_t *len)
{
	const struct container_file *f = container_find(&s->c, path);

	if (f == NULL)
		return VG_ENOENT;
	if (f->len > max)
		return VG_ELIMIT;
	*data = xmalloc(f->len + 1);
	memcpy(*data, f->data, f->len);
	(*data)[f->len] = '\0';
	*len = f->len;
	return 0;
}

/* The release file rel ("timestamp.json", "3.root.json", "targets/x"),
 * at most max bytes. */
static int
get_release(const struct source *s, const char *rel, size_t max, uint8_t **data,
	    size_t *len, char *err, size_t errlen)
{
	char *path;
	int rc;

	if (s->rel != NULL)
		return logclient_http_get(s->rel, rel, max, data, len, err,
					  errlen);
	path = strstr(rel, ".root.json") != NULL ? xasprintf("root/%s", rel)
						 : xstrdup(rel);
	rc = bundle_get(s, path, max, data, len);
	if (rc == VG_ENOENT)
		snprintf(err, errlen, "%s: the bundle has no %s", s->name,
			 path);
	else if (rc == VG_ELIMIT)
		snprintf(err, errlen, "%s: %s is more than %zu bytes", s->name,
			 path, max);
	free(path);
	return rc;
}

/* The log's files, for logclient. */
static int
get_log(void *ud, const char *relpath, size_t max, uint8_t **data, size_t *len,
	char *err, size_t errlen)
{
	const struct source *s = ud;
	char *path;
	int rc;

	if (s->log != NULL)
		return logclient_http_get(s->log, relpath, max, data, len, err,
					  errlen);
	path = xasprintf("log/%s", relpath);
	rc = bundle_get(s, path, max, data, len);
	if (rc != 0)
		snprintf(err, errlen, "%s: %s %s", s->name,
			 rc == VG_ENOENT ? "the bundle has no" : "too large:",
			 path);
	free(path);
	return rc;
}

static int
source_open(struct source *s, const char *server, const char *bundle)
{
	char err[512], *base;
	size_t len;
	int rc;

	memset(s, 0, sizeof(*s));
	if (bundle != NULL) {
		s->name = bundle;
		rc = io_read_file(bundle, BUNDLE_MAX, &s->buf, &len);
		if (rc != 0) {
			fprintf(stderr, "vigil: %s: %s\n", bundle,
				rc == VG_ELIMIT ? "more than 1 GiB"
						: strerror(errno));
			return UPD_USAGE;
		}
		if (container_parse(s->buf, len, &s->c, err, sizeof(err)) != 0)
			return refuse_code(UPD_FORMAT, "%s: %s", bundle, err);
		return 0;
	}
	s->name = server;
	base = xasprintf("%s/v1/releases", server);
	s->rel = logclient_http_new(base);
	free(base);
	base = xasprintf("%s/log", server);
	s->log = logclient_http_new(base);
	free(base);
	if (s->rel == NULL || s->log == NULL) {
		fprintf(stderr, "vigil: not an http(s) URL: %s\n", server);
		return UPD_USAGE;
	}
	return 0;
}

static void
source_close(struct source *s)
{
	logclient_http_free(s->rel);
	logclient_http_free(s->log);
	container_free(&s->c);
	free(s->buf);
}

/* ---- the endpoint's state ---- */

struct policy {
	char server[512];
	char origin[NOTE_NAME_MAX + 1];
	struct note_verifier log_key;
	struct note_verifier witnesses[MAX_WITNESSES];
	size_t nwitnesses, quorum;
};

struct state {
	char home[1024];
	char dir[1100];  /* home/update */
	char logs[1100]; /* home/logs */
	struct policy pol;
};

static char *
state_file(const struct state *st, const char *name)
{
	return xasprintf("%s/%s", st->dir, name);
}

static int
parse_vkey(const char *s, const char *what, struct note_verifier *v)
{
	char err[256];

	if (note_verifier_parse(s, strlen(s), v, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigil: %s: not a verifier key: %s\n", what,
			err);
		return UPD_USAGE;
	}
	return 0;
}

static int
state_init(struct state *st)
{
	memset(st, 0, sizeof(*st));
	if (userconf_dir(st->home, sizeof(st->home)) != 0) {
		fprintf(stderr, "vigil: set VIGIL_HOME or HOME\n");
		return UPD_USAGE;
	}
	snprintf(st->dir, sizeof(st->dir), "%s/update", st->home);
	snprintf(st->logs, sizeof(st->logs), "%s/logs", st->home);
	return 0;
}

/* Reads home/update/policy: "server URL", "origin O", "log-key VKEY",
 * "witness VKEY" lines, "quorum N". */
static int
policy_load(struct state *st)
{
	char *path = state_file(st, "policy"), *line, *save, *arg;
	uint8_t *buf;
	size_t len;
	int rc;

	rc = io_read_file(path, POLICY_MAX, &buf, &len);
	if (rc != 0) {
		fprintf(stderr,
			"vigil: %s: %s; run vigil update --init first\n", path,
			rc == VG_ENOENT ? "no policy" : strerror(errno));
		free(path);
		return UPD_USAGE;
	}
	rc = 0;
	for (line = strtok_r((char *)buf, "\n", &save); rc == 0 && line;
	     line = strtok_r(NULL, "\n", &save)) {
		if ((arg = strchr(line, ' ')) == NULL) {
			rc = UPD_USAGE;
			break;
		}
		*arg++ = '\0';
		if (strcmp(line, "server") == 0)
			snprintf(st->pol.server, sizeof(st->pol.server), "%s",
				 arg);
		else if (strcmp(line, "origin") == 0)
			snprintf(st->pol.origin, sizeof(st->pol.origin), "%s",
				 arg);
		else if (strcmp(line, "log-key") == 0)
			rc = parse_vkey(arg, path, &st->pol.log_key);
		else if (strcmp(line, "witness") == 0 &&
			 st->pol.nwitnesses < MAX_WITNESSES)
			rc = parse_vkey(
				arg, path,
				&st->pol.witnesses[st->pol.nwitnesses++]);
		else if (strcmp(line, "quorum") == 0)
			st->pol.quorum = (size_t)strtoul(arg, NULL, 10);
		else
			rc = UPD_USAGE;
	}
	free(buf);
	if (rc == 0 &&
	    (st->pol.origin[0] == '\0' || st->pol.log_key.name[0] == '\0' ||
	     st->pol.quorum > st->pol.nwitnesses))
		rc = UPD_USAGE;
	if (rc != 0)
		fprintf(stderr,
			"vigil: %s: damaged; run vigil update --init "
			"again\n",
			path);
	free(path);
	return rc;
}

/* Loads a trusted manifest; *m stays zeroed when there is none yet. */
static int
trusted_load(const struct state *st, const char *name, enum tuf_role role,
	     struct tuf_meta *m)
{
	char *path = state_file(st, name);
	struct tuf_result r = {0};
	uint8_t *buf;
	size_t len;
	int rc = io_read_file(path, TUF_META_MAX, &buf, &len);

	if (rc == VG_ENOENT) {
		free(path);
		return 0;
	}
	if (rc == 0) {
		rc = tuf_meta_parse(buf, len, role, m, &r);
		free(buf);
	}
	if (rc != 0)
		fprintf(stderr, "vigil: %s: the trusted copy is damaged: %s\n",
			path, r.msg[0] ? r.msg : strerror(errno));
	free(path);
	return rc == 0 ? 0 : UPD_USAGE;
}

static int
trusted_save(const struct state *st, const char *name, const void *data,
	     size_t len)
{
	char *path = state_file(st, name);
	int rc = io_write_file(path, data, len, 0644);

	if (rc != 0)
		fprintf(stderr, "vigil: %s: %s\n", path, strerror(errno));
	free(path);
	return rc == 0 ? 0 : UPD_USAGE;
}

/* ---- the workflow ---- */

struct upd {
	struct state st;
	struct source src;
	struct tuf_meta root, timestamp, snapshot, targets;
	int64_t now;
};

/* Fetches a manifest of role, at most max bytes, parsed into *m; the raw
 * bytes in *raw. A file larger than max is cls (mix-and-match when a
 * parent gave its length). */
static int
fetch_meta(struct upd *u, const char *name, enum tuf_role role, size_t max,
	   int too_large, struct tuf_meta *m, uint8_t **raw, size_t *len)
{
	struct tuf_result r = {0};
	char err[512];
	int rc;

	rc = get_release(&u->src, name, max, raw, len, err, sizeof(err));
	if (rc == VG_ELIMIT)
		return refuse_code(too_large, "%s: longer than %zu bytes%s",
				   name, max,
				   too_large == UPD_MISMATCH
					   ? ", the length its parent manifest "
					     "gives"
					   : "");
	if (rc != 0)
		return refuse_code(UPD_FETCH, "%s", err);
	if (tuf_meta_parse(*raw, *len, role, m, &r) != 0) {
		free(*raw);
		*raw = NULL;
		return refuse(&r);
	}
	return 0;
}

/* The key IDs and threshold of a role, as one comparable JSON value. */
static json_t *
role_of(const struct tuf_meta *root, enum tuf_role role)
{
	return json_object_get(json_object_get(root->signed_, "roles"),
			       tuf_role_name(role));
}

/*
 * When a new root changes the keys of the timestamp or snapshot role, the
 * trusted timestamp and snapshot are forgotten (TUF 5.3.11): after a
 * compromised online key signed versions far ahead, the rotation is how
 * the repository recovers, and those versions must not keep the real
 * ones out as rollbacks.
 */
static void
forget_rotated(struct upd *u, const struct tuf_meta *next)
{
	static const char *const files[] = {"timestamp.json", "snapshot.json"};

	if (json_equal(role_of(&u->root, TUF_TIMESTAMP),
		       role_of(next, TUF_TIMESTAMP)) &&
	    json_equal(role_of(&u->root, TUF_SNAPSHOT),
		       role_of(next, TUF_SNAPSHOT)))
		return;
	for (size_t i = 0; i < 2; i++) {
		char *p = state_file(&u->st, files[i]);
		if (unlink(p) != 0 && errno != ENOENT)
			fprintf(stderr, "vigil: %s: %s\n", p, strerror(errno));
		free(p);
	}
	tuf_meta_clear(&u->timestamp);
	tuf_meta_clear(&u->snapshot);
	printf("the online keys changed: the trusted timestamp and snapshot "
	       "are forgotten\n");
}

/* Step 1: follows the root chain from the trusted root. */
static int
update_roots(struct upd *u)
{
	struct tuf_result r = {0};
	uint8_t *raw;
	size_t len;
	char err[512];
	int rc;

	for (;;) {
		struct tuf_meta next = {0};
		char *name = xasprintf("%llu.root.json",
				       (unsigned long long)u->root.version + 1);

		rc = get_release(&u->src, name, TUF_META_MAX, &raw, &len, err,
				 sizeof(err));
		if (rc == VG_ENOENT) {
			free(name);
			break;
		}
		if (rc != 0) {
			free(name);
			return refuse_code(rc == VG_ELIMIT ? UPD_FORMAT
							   : UPD_FETCH,
					   "%s", err);
		}
		rc = tuf_meta_parse(raw, len, TUF_ROOT, &next, &r);
		if (rc == 0)
			rc = tuf_root_next(&u->root, &next, &r);
		if (rc != 0) {
			free(raw);
			free(name);
			tuf_meta_clear(&next);
			return refuse(&r);
		}
		rc = trusted_save(&u->st, "root.json", raw, len);
		free(raw);
		if (rc != 0) {
			free(name);
			tuf_meta_clear(&next);
			return rc;
		}
		printf("trusting %s\n", name);
		free(name);
		forget_rotated(u, &next);
		tuf_meta_clear(&u->root);
		u->root = next;
	}
	if (tuf_check_expiry(&u->root, u->now, &r) != 0)
		return refuse(&r);
	return 0;
}

/* Steps 2 to 4: the child manifest of parent (or the timestamp). */
static int
update_meta(struct upd *u, const char *name, enum tuf_role role,
	    const struct tuf_meta *parent, struct tuf_meta *trusted)
{
	struct tuf_meta m = {0};
	struct tuf_result r = {0};
	uint64_t version = 0, length = TUF_META_MAX;
	uint8_t sha[32], *raw = NULL;
	size_t len;
	int rc;

	if (parent != NULL && tuf_meta_ref(parent, &version, &length, sha) != 0)
		return refuse_code(UPD_FORMAT, "%s: no reference to %s",
				   tuf_role_name(parent->role), name);
	if (length > TUF_META_MAX)
		return refuse_code(UPD_FORMAT, "%s: declared %llu bytes long",
				   name, (unsigned long long)length);
	rc = fetch_meta(u, name, role, (size_t)length,
			parent != NULL ? UPD_MISMATCH : UPD_FORMAT, &m, &raw,
			&len);
	if (rc != 0)
		return rc;
	if ((parent != NULL &&
	     tuf_check_meta_ref(parent, raw, len, &m, &r) != 0) ||
	    tuf_verify_role(&u->root, &m, &r) != 0 ||
	    (trusted->doc != NULL &&
	     tuf_check_version(&m, trusted->version, &r) != 0) ||
	    tuf_check_expiry(&m, u->now, &r) != 0) {
		rc = refuse(&r);
		goto out;
	}
	if ((rc = trusted_save(&u->st, name, raw, len)) != 0)
		goto out;
	tuf_meta_clear(trusted);
	*trusted = m;
	memset(&m, 0, sizeof(m));
out:
	tuf_meta_clear(&m);
	free(raw);
	return rc;
}

/* Compares dotted versions: numeric parts as numbers, others bytewise. */
static int
version_cmp(const char *a, const char *b)
{
	while (*a != '\0' || *b != '\0') {
		size_t la = strcspn(a, "."), lb = strcspn(b, ".");
		bool na = la > 0 && strspn(a, "0123456789") >= la;
		bool nb = lb > 0 && strspn(b, "0123456789") >= lb;
		int c;

		if (na && nb) {
			unsigned long long x = strtoull(a, NULL, 10),
					   y = strtoull(b, NULL, 10);
			c = x < y ? -1 : x > y;
		} else {
			c = strncmp(a, b, la < lb ? la : lb);
			if (c == 0)
				c = la < lb ? -1 : la > lb;
		}
		if (c != 0)
			return c;
		a += la + (a[la] == '.');
		b += lb + (b[lb] == '.');
	}
	return 0;
}

static int
log_refuse(const struct upd *u, struct logclient_result *res)
{
	int code;

	switch (res->status) {
	case LOGCLIENT_KEY_CHANGED: code = UPD_LOG_KEY; break;
	case LOGCLIENT_SECURITY: code = UPD_SPLIT_VIEW; break;
	case LOGCLIENT_TOO_FEW_WITNESSES: code = UPD_WITNESSES; break;
	case LOGCLIENT_NOT_PROVEN:
	case LOGCLIENT_BAD_SIGNATURE: code = UPD_NOT_LOGGED; break;
	default: code = UPD_FETCH; break;
	}
	logclient_result_print(res, stderr);
	if (res->status == LOGCLIENT_KEY_CHANGED)
		fprintf(stderr,
			"vigil: to trust the new key: vigil log checkpoint "
			"%s%s --accept-key %s --origin %s\n",
			u->src.log != NULL ? u->src.name : "SERVER", "/log",
			res->presented_key, u->st.pol.origin);
	fprintf(stderr, "vigil: update refused: the release is not proved to "
			"be in the log\nvigil: the installed rules are "
			"unchanged\n");
	logclient_result_clear(res);
	return code;
}

/* Step 6: the artifact's rule-release entry is in the log. */
static int
prove_logged(struct upd *u, const struct tuf_target *t, const char *version,
	     uint64_t nrules)
{
	struct logclient_config cfg = {
		.source = u->src.name,
		.get = get_log,
		.get_ud = &u->src,
		.origin = u->st.pol.origin,
		.log_key = &u->st.pol.log_key,
		.witnesses = u->st.pol.witnesses,
		.nwitnesses = u->st.pol.nwitnesses,
		.quorum = u->st.pol.quorum,
		.state_root = u->st.logs,
	};
	struct logclient_result res = {0};
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	struct tlog_proof p = {0};
	struct tlog_entry e = {0};
	struct logclient *lc = NULL;
	uint8_t *raw = NULL, *entry = NULL;
	char *name, err[512];
	size_t len, n;
	int rc;

	name = xasprintf("proofs/%s", t->name);
	rc = get_release(&u->src, name, TLOG_PROOF_MAX_SIZE, &raw, &len, err,
			 sizeof(err));
	free(name);
	if (rc == VG_ENOENT)
		return refuse_code(UPD_NOT_LOGGED,
				   "%s: no log entry is given for %s",
				   u->src.name, t->name);
	if (rc != 0)
		return refuse_code(UPD_FETCH, "%s", err);
	rc = tlog_proof_parse((const char *)raw, len, &p, err, sizeof(err));
	free(raw);
	if (rc != 0)
		return refuse_code(UPD_NOT_LOGGED, "the proof of %s: %s",
				   t->name, err);
	if (logclient_new(&cfg, &lc, &res) != 0 ||
	    logclient_update(lc, &res) != 0) {
		rc = log_refuse(u, &res);
		goto out;
	}
	if (res.notice[0] != '\0')
		fprintf(stderr, "vigil: %s\n", res.notice);
	if (logclient_entry(lc, p.index, &entry, &len, proof, &n, &res) != 0) {
		rc = log_refuse(u, &res);
		goto out;
	}
	if (tlog_entry_parse((const char *)entry, len, &e, err, sizeof(err)) !=
		    0 ||
	    e.type != TLOG_ENTRY_RULE_RELEASE ||
	    memcmp(e.rule_release.sha256, t->sha256, 32) != 0 ||
	    strcmp(e.rule_release.version, version) != 0 ||
	    e.rule_release.rules != nrules) {
		char want[65];
		hex_encode(t->sha256, 32, want);
		rc = refuse_code(UPD_NOT_LOGGED,
				 "log entry %llu is not the rule-release of "
				 "%s (version %s, sha256 %s, %llu rules)",
				 (unsigned long long)p.index, t->name, version,
				 want, (unsigned long long)nrules);
		goto out;
	}
	printf("%s is log entry %llu of %s, proved in a tree of %llu "
	       "(witness cosignatures required: %zu)\n",
	       t->name, (unsigned long long)p.index, u->st.pol.origin,
	       (unsigned long long)logclient_current(lc, NULL, NULL)->size,
	       u->st.pol.quorum);
	rc = 0;
out:
	tlog_entry_clear(&e);
	tlog_proof_clear(&p);
	free(entry);
	logclient_free(lc);
	return rc;
}

/* The rules target of targets, or VG_ENOENT. */
static int
rules_target(const struct tuf_meta *targets, struct tuf_target *out)
{
	int found = VG_ENOENT;

	for (size_t i = 0; i < tuf_targets_count(targets); i++) {
		struct tuf_target t;
		const char *kind;

		if (tuf_target_at(targets, i, &t) != 0)
			return VG_EFORMAT;
		kind = json_string_value(json_object_get(t.custom, "kind"));
		if (kind != NULL && strcmp(kind, "rules") == 0) {
			if (found == 0)
				return VG_EFORMAT;
			*out = t;
			found = 0;
		}
	}
	return found;
}

/* Steps 5 to 7. */
static int
update_rules(struct upd *u, int notify_pid)
{
	struct tuf_result r = {0};
	struct tuf_target t;
	struct rules_bundle b = {0};
	const char *version;
	char installed[128], err[1024], *name;
	uint8_t *data = NULL;
	size_t len;
	int rc;

	rc = rules_target(&u->targets, &t);
	if (rc == VG_ENOENT) {
		printf("the release holds no rules\n");
		return 0;
	}
	version = json_string_value(json_object_get(t.custom, "version"));
	if (rc != 0 || version == NULL || !rules_version_ok(version))
		return refuse_code(UPD_FORMAT,
				   "targets.json: no single, well-formed rule "
				   "bundle");
	if (rules_installed_version(u->st.home, installed, sizeof(installed)) ==
	    0) {
		int c = version_cmp(version, installed);
		if (c == 0) {
			printf("rules %s: up to date\n", installed);
			return 0;
		}
		if (c < 0)
			return refuse_code(UPD_ROLLBACK,
					   "the release's rules %s are older "
					   "than the installed %s",
					   version, installed);
	}
	if (t.length > RELEASE_ARTIFACT_MAX)
		return refuse_code(UPD_ARTIFACT, "%s: declared %llu bytes",
				   t.name, (unsigned long long)t.length);
	/* One byte more than declared is enough to know it is too long. */
	name = xasprintf("targets/%s", t.name);
	rc = get_release(&u->src, name, (size_t)t.length, &data, &len, err,
			 sizeof(err));
	free(name);
	if (rc == VG_ELIMIT)
		return refuse_code(
			UPD_ARTIFACT,
			"%s: longer than the %llu bytes targets.json "
			"declares",
			t.name, (unsigned long long)t.length);
	if (rc != 0)
		return refuse_code(UPD_FETCH, "%s", err);
	if (tuf_check_artifact(&t, data, len, &r) != 0) {
		rc = refuse(&r);
		goto out;
	}
	if (rules_bundle_parse(data, len, &b, err, sizeof(err)) != 0) {
		rc = refuse_code(UPD_INSTALL, "%s: %s", t.name, err);
		goto out;
	}
	if (strcmp(b.version, version) != 0) {
		rc = refuse_code(UPD_MISMATCH,
				 "%s holds version %s, targets.json says %s",
				 t.name, b.version, version);
		goto out;
	}
	if ((rc = prove_logged(u, &t, version, b.n_ids)) != 0)
		goto out;
	if (rules_install(&b, u->st.home, err, sizeof(err)) != 0) {
		rc = refuse_code(UPD_INSTALL, "%s", err);
		goto out;
	}
	printf("installed rules %s (%zu rules) in %s/rules\n", version, b.n_ids,
	       u->st.home);
	if (notify_pid > 0 && kill(notify_pid, SIGHUP) != 0)
		fprintf(stderr,
			"vigil: could not tell process %d to reload: "
			"%s\n",
			notify_pid, strerror(errno));
	rc = 0;
out:
	rules_bundle_free(&b);
	free(data);
	return rc;
}

static int
run_update(const char *server, const char *bundle, int notify_pid)
{
	struct upd u = {0};
	int rc;

	u.now = (int64_t)time(NULL);
	if ((rc = state_init(&u.st)) != 0 || (rc = policy_load(&u.st)) != 0)
		return rc;
	if (bundle == NULL && server == NULL)
		server = u.st.pol.server;
	if (bundle == NULL && server[0] == '\0') {
		fprintf(stderr, "vigil: give --server URL or --from-bundle "
				"FILE\n");
		return UPD_USAGE;
	}
	if ((rc = trusted_load(&u.st, "root.json", TUF_ROOT, &u.root)) != 0)
		return rc;
	if (u.root.doc == NULL) {
		fprintf(stderr, "vigil: no trusted root; run vigil update "
				"--init\n");
		return UPD_USAGE;
	}
	if ((rc = trusted_load(&u.st, "timestamp.json", TUF_TIMESTAMP,
			       &u.timestamp)) != 0 ||
	    (rc = trusted_load(&u.st, "snapshot.json", TUF_SNAPSHOT,
			       &u.snapshot)) != 0 ||
	    (rc = trusted_load(&u.st, "targets.json", TUF_TARGETS,
			       &u.targets)) != 0)
		goto out;
	if ((rc = source_open(&u.src, server, bundle)) != 0)
		goto out;
	if ((rc = update_roots(&u)) != 0 ||
	    (rc = update_meta(&u, "timestamp.json", TUF_TIMESTAMP, NULL,
			      &u.timestamp)) != 0 ||
	    (rc = update_meta(&u, "snapshot.json", TUF_SNAPSHOT, &u.timestamp,
			      &u.snapshot)) != 0 ||
	    (rc = update_meta(&u, "targets.json", TUF_TARGETS, &u.snapshot,
			      &u.targets)) != 0)
		goto out;
	printf("verified root %llu, timestamp %llu, snapshot %llu, targets "
	       "%llu\n",
	       (unsigned long long)u.root.version,
	       (unsigned long long)u.timestamp.version,
	       (unsigned long long)u.snapshot.version,
	       (unsigned long long)u.targets.version);
	rc = update_rules(&u, notify_pid);
out:
	source_close(&u.src);
	tuf_meta_clear(&u.root);
	tuf_meta_clear(&u.timestamp);
	tuf_meta_clear(&u.snapshot);
	tuf_meta_clear(&u.targets);
	return rc;
}

/* --check: how long the trusted root and targets have left. */
static int
run_check(long warn_days)
{
	struct state st;
	struct tuf_meta m = {0};
	static const struct {
		const char *file;
		enum tuf_role role;
	} which[] = {{"root.json", TUF_ROOT}, {"targets.json", TUF_TARGETS}};
	int64_t now = (int64_t)time(NULL);
	int rc = UPD_OK;

	if (state_init(&st) != 0)
		return UPD_USAGE;
	for (size_t i = 0; i < 2; i++) {
		char when[21];
		int64_t left;

		if (trusted_load(&st, which[i].file, which[i].role, &m) != 0)
			return UPD_USAGE;
		if (m.doc == NULL) {
			if (which[i].role == TUF_ROOT) {
				fprintf(stderr, "vigil: no trusted root; run "
						"vigil update --init\n");
				return UPD_USAGE;
			}
			continue;
		}
		tuf_time_format(m.expires, when);
		left = m.expires - now;
		if (left <= 0) {
			fprintf(stderr,
				"vigil: %s version %llu EXPIRED on %s: no "
				"update can be trusted until a new one is "
				"published\n",
				which[i].file, (unsigned long long)m.version,
				when);
			rc = UPD_EXPIRED;
		} else if (left < (int64_t)warn_days * RELEASE_DAY) {
			fprintf(stderr,
				"vigil: warning: %s version %llu expires on "
				"%s, "
				"in %lld days (warning at %ld)\n",
				which[i].file, (unsigned long long)m.version,
				when, (long long)(left / RELEASE_DAY),
				warn_days);
			if (rc == UPD_OK)
				rc = UPD_SOON;
		} else {
			printf("%s version %llu expires on %s, in %lld days\n",
			       which[i].file, (unsigned long long)m.version,
			       when, (long long)(left / RELEASE_DAY));
		}
		tuf_meta_clear(&m);
	}
	return rc;
}

/* --init: pins the first root and the log's policy. */
static int
run_init(const char *server, const char *root_file, const char *log_key,
	 const char *origin, const char **witnesses, size_t nwitnesses,
	 long quorum)
{
	struct state st;
	struct tuf_meta root = {0};
	struct tuf_result r = {0};
	struct note_verifier v;
	uint8_t *raw;
	size_t len;
	char *text, *p;
	int rc;

	if (root_file == NULL || log_key == NULL) {
		fprintf(stderr, "vigil: update --init needs --root ROOT.JSON "
				"and --log-key VKEY\n");
		return UPD_USAGE;
	}
	if (state_init(&st) != 0)
		return UPD_USAGE;
	if (parse_vkey(log_key, "--log-key", &v) != 0)
		return UPD_USAGE;
	for (size_t i = 0; i < nwitnesses; i++)
		if (parse_vkey(witnesses[i], "--witness", &v) != 0)
			return UPD_USAGE;
	if (quorum < 0)
		quorum = (long)nwitnesses;
	if ((size_t)quorum > nwitnesses) {
		fprintf(stderr,
			"vigil: --quorum %ld is above the %zu "
			"witnesses\n",
			quorum, nwitnesses);
		return UPD_USAGE;
	}
	if (release_read(root_file, TUF_META_MAX, &raw, &len) != 0)
		return UPD_USAGE;
	if (tuf_meta_parse(raw, len, TUF_ROOT, &root, &r) != 0 ||
	    tuf_verify_role(&root, &root, &r) != 0) {
		free(raw);
		tuf_meta_clear(&root);
		return refuse(&r);
	}
	if (mkdir(st.home, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "vigil: %s: %s\n", st.home, strerror(errno));
		rc = UPD_USAGE;
		goto out;
	}
	if (mkdir(st.dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "vigil: %s: %s\n", st.dir, strerror(errno));
		rc = UPD_USAGE;
		goto out;
	}
	{
		struct note_verifier lk;
		size_t cap = 4096 + nwitnesses * 256, off;

		(void)parse_vkey(log_key, "--log-key", &lk);
		text = xmalloc(cap);
		off = (size_t)snprintf(text, cap,
				       "server %s\norigin %s\nlog-key %s\n",
				       server ? server : "",
				       origin ? origin : lk.name, log_key);
		for (size_t i = 0; i < nwitnesses; i++)
			off += (size_t)snprintf(text + off, cap - off,
						"witness %s\n", witnesses[i]);
		off += (size_t)snprintf(text + off, cap - off, "quorum %ld\n",
					quorum);
		p = state_file(&st, "policy");
		rc = io_write_file(p, text, off, 0644);
		free(p);
		free(text);
	}
	if (rc == 0) {
		/* A new root starts a new chain: what was trusted under the
		 * old one is not carried over. */
		static const char *const old[] = {
			"timestamp.json", "snapshot.json", "targets.json"};
		for (size_t i = 0; i < 3; i++) {
			p = state_file(&st, old[i]);
			unlink(p);
			free(p);
		}
		rc = trusted_save(&st, "root.json", raw, len);
	} else {
		fprintf(stderr, "vigil: %s: %s\n", st.dir, strerror(errno));
		rc = UPD_USAGE;
	}
	if (rc == 0)
		printf("trusting root version %llu; the log %s with %zu "
		       "witnesses, quorum %ld\n",
		       (unsigned long long)root.version, log_key, nwitnesses,
		       quorum);
out:
	free(raw);
	tuf_meta_clear(&root);
	return rc;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: vigil update --init --server URL --root ROOT.JSON "
		   "--log-key VKEY\n"
		   "                    [--origin ORIGIN] [--witness VKEY]... "
		   "[--quorum N]\n"
		   "       vigil update [--server URL] [--notify-pid PID]\n"
		   "       vigil update --from-bundle FILE [--notify-pid PID]\n"
		   "       vigil update --check [--warn-days 30]\n"
		   "exit: 0 installed or up to date, 2 usage, 4 fetch, 10 "
		   "malformed,\n"
		   "      11 signature, 12 rollback, 13 expired, 14 "
		   "mix-and-match,\n"
		   "      15 artifact, 16 not in the log, 17 split view, 18 "
		   "witnesses,\n"
		   "      19 rules do not install, 20 the log's key is not the "
		   "one recorded\n"
		   "      for its origin (vigil log ... --accept-key VKEY "
		   "trusts it)\n"
		   "      (--check: 1 expires soon)\n");
}

int
cmd_update(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"init", no_argument, NULL, 'i'},
		{"server", required_argument, NULL, 's'},
		{"root", required_argument, NULL, 'r'},
		{"log-key", required_argument, NULL, 'k'},
		{"origin", required_argument, NULL, 'o'},
		{"witness", required_argument, NULL, 'w'},
		{"quorum", required_argument, NULL, 'q'},
		{"from-bundle", required_argument, NULL, 'b'},
		{"notify-pid", required_argument, NULL, 'n'},
		{"check", no_argument, NULL, 'c'},
		{"warn-days", required_argument, NULL, 'W'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *server = NULL, *root = NULL, *log_key = NULL,
		   *origin = NULL, *bundle = NULL;
	const char *witnesses[MAX_WITNESSES];
	size_t nwitnesses = 0;
	long quorum = -1, warn_days = WARN_DAYS, pid = 0;
	int init = 0, check = 0, c;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': init = 1; break;
		case 'c': check = 1; break;
		case 's': server = optarg; break;
		case 'r': root = optarg; break;
		case 'k': log_key = optarg; break;
		case 'o': origin = optarg; break;
		case 'b': bundle = optarg; break;
		case 'w':
			if (nwitnesses == MAX_WITNESSES) {
				fprintf(stderr,
					"vigil: more than %d "
					"witnesses\n",
					MAX_WITNESSES);
				return UPD_USAGE;
			}
			witnesses[nwitnesses++] = optarg;
			break;
		case 'q':
		case 'W':
		case 'n':
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    v < 0 || v > 1000000000) {
				fprintf(stderr, "vigil: not a number: %s\n",
					optarg);
				return UPD_USAGE;
			}
			if (c == 'q')
				quorum = v;
			else if (c == 'W')
				warn_days = v;
			else
				pid = v;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return UPD_USAGE;
		}
	}
	if (optind != argc || init + check > 1 ||
	    (bundle != NULL && server != NULL && !init)) {
		usage(stderr);
		return UPD_USAGE;
	}
	if (init)
		return run_init(server, root, log_key, origin, witnesses,
				nwitnesses, quorum);
	if (check)
		return run_check(warn_days);
	return run_update(server, bundle, (int)pid);
}
