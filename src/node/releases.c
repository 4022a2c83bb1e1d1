/*
 * releases.c - the node's release repository: publishing (POST
 * /v1/admin/releases), serving (GET /v1/releases/...), and keeping the
 * timestamp fresh; see releases.h and docs/RELEASES.md.
 *
 * A publish is checked exactly as an endpoint checks a release, with the
 * node's current root as the trusted one. Its log entries then go through
 * the node's sequencer; only when every one is durable does the node
 * write the release, sign a new snapshot and timestamp with its online
 * key and answer 201. A refused publish leaves nothing behind: nothing is
 * written before that point, and the state in memory changes only after
 * everything is on disk.
 */
#include "node/releases.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "node/api.h"
#include "release/container.h"
#include "release/rules.h"
#include "release/tuf.h"
#include "tlog/entry.h"

/* The largest root, targets or index file the node reads back. */
#define INDEX_MAX (64u << 20)

struct blob {
	uint8_t *p;
	size_t n;
};

struct releases {
	pthread_mutex_t mu;
	char dir[1100];
	struct keyholder *kh; /* signs with the online key */
	uint8_t pub[32];      /* the online key's public key */
	char key_id[TUF_KEYID_LEN];
	char *key_json; /* its key object, canonical */
	size_t key_json_len;
	uint32_t refresh; /* seconds before the timestamp is signed again */
	/* The current manifests (version 0: none yet). */
	struct tuf_meta root, targets, snapshot, timestamp;
	struct blob root_file, targets_file, snapshot_file, timestamp_file;
	json_t *index; /* the releases, oldest first */
	bool busy;     /* a publish is under way */
};

/* ---- files ---- */

static int
write_atomic(const char *path, const void *p, size_t n)
{
	return io_write_file(path, p, n, 0600);
}

/* Reads a whole regular file of at most max bytes into *b (malloc'd, with
 * a NUL after it). VG_ENOENT if it does not exist, VG_ECORRUPT if it is
 * too large or not a file. */
static int
read_file(const char *path, size_t max, struct blob *b)
{
	int rc = io_read_file(path, max, &b->p, &b->n);

	if (rc != 0) {
		b->p = NULL;
		b->n = 0;
	}
	return rc == VG_ELIMIT || rc == VG_ETYPE ? VG_ECORRUPT : rc;
}

static void
blob_free(struct blob *b)
{
	free(b->p);
	b->p = NULL;
	b->n = 0;
}

/* ---- signing the online manifests ---- */

/* Signs a snapshot or timestamp whose one meta entry, under child_name,
 * describes child (of version child_version), as version version expiring
 * at expires. */
static int
sign_online(struct releases *rs, enum tuf_role role, uint64_t version,
	    int64_t expires, const char *child_name, uint64_t child_version,
	    const struct blob *child, struct tuf_meta *m, struct blob *file,
	    char *err, size_t errlen)
{
	struct tuf_result r;
	char when[21], *out = NULL;
	size_t len = 0;
	json_t *s;
	int rc;

	tuf_time_format(expires, when);
	s = json_pack("{s:s, s:s, s:{s:o}, s:s, s:I}", "_type",
		      tuf_role_name(role), "expires", when, "meta", child_name,
		      tuf_meta_ref_json(child_version, child->p, child->n),
		      "spec_version", TUF_SPEC_VERSION, "version",
		      (json_int_t)version);
	if (s == NULL)
		fatal("out of memory");
	memset(m, 0, sizeof(*m));
	if ((rc = tuf_meta_new(s, role, m, &r)) != 0 ||
	    (rc = tuf_meta_sign_by(m, rs->pub, keyholder_release_sign,
				   rs->kh)) != 0 ||
	    (rc = tuf_meta_encode(m, &out, &len)) != 0) {
		snprintf(err, errlen, "cannot sign the %s: %s",
			 tuf_role_name(role), rc == 0 ? "" : r.msg);
		tuf_meta_clear(m);
		return rc;
	}
	file->p = (uint8_t *)out;
	file->n = len;
	return 0;
}

/* Signs and writes a new snapshot (if snap) and a new timestamp, and
 * makes them current. Under rs->mu, with targets present. */
static int
resign(struct releases *rs, bool snap, char *err, size_t errlen)
{
	struct tuf_meta sm, tm;
	struct blob sf = {0}, tf = {0};
	int64_t now = (int64_t)time(NULL);
	char path[1300];
	int rc;

	memset(&sm, 0, sizeof(sm));
	memset(&tm, 0, sizeof(tm));
	if (snap) {
		rc = sign_online(rs, TUF_SNAPSHOT, rs->snapshot.version + 1,
				 now + RELEASES_SNAPSHOT_LIFETIME,
				 "targets.json", rs->targets.version,
				 &rs->targets_file, &sm, &sf, err, errlen);
		if (rc != 0)
			return rc;
	}
	rc = sign_online(rs, TUF_TIMESTAMP, rs->timestamp.version + 1,
			 now + RELEASES_TIMESTAMP_LIFETIME, "snapshot.json",
			 snap ? sm.version : rs->snapshot.version,
			 snap ? &sf : &rs->snapshot_file, &tm, &tf, err,
			 errlen);
	if (rc != 0)
		goto fail;
	if (snap) {
		snprintf(path, sizeof(path), "%s/snapshot.json", rs->dir);
		if ((rc = write_atomic(path, sf.p, sf.n)) != 0) {
			snprintf(err, errlen, "%s: cannot write it", path);
			goto fail;
		}
	}
	snprintf(path, sizeof(path), "%s/timestamp.json", rs->dir);
	if ((rc = write_atomic(path, tf.p, tf.n)) != 0) {
		snprintf(err, errlen, "%s: cannot write it", path);
		goto fail;
	}
	if (snap) {
		tuf_meta_clear(&rs->snapshot);
		blob_free(&rs->snapshot_file);
		rs->snapshot = sm;
		rs->snapshot_file = sf;
	}
	tuf_meta_clear(&rs->timestamp);
	blob_free(&rs->timestamp_file);
	rs->timestamp = tm;
	rs->timestamp_file = tf;
	log_event(LOG_INFO, "release_timestamp_signed",
		  "timestamp=%llu snapshot=%llu",
		  (unsigned long long)rs->timestamp.version,
		  (unsigned long long)rs->snapshot.version);
	return 0;
fail:
	tuf_meta_clear(&sm);
	tuf_meta_clear(&tm);
	blob_free(&sf);
	blob_free(&tf);
	return rc;
}

/* When the current timestamp was signed: its expiry less its lifetime. */
static bool
timestamp_stale(const struct releases *rs, int64_t now)
{
	return rs->timestamp.version == 0 ||
	       now - (rs->timestamp.expires - RELEASES_TIMESTAMP_LIFETIME) >=
		       (int64_t)rs->refresh;
}

static bool
snapshot_stale(const struct releases *rs, int64_t now)
{
	return rs->snapshot.version == 0 ||
	       now - (rs->snapshot.expires - RELEASES_SNAPSHOT_LIFETIME) >=
		       RELEASES_SNAPSHOT_REFRESH;
}

/* Under rs->mu. */
static void
refresh_locked(struct releases *rs)
{
	int64_t now = (int64_t)time(NULL);
	char err[256];

	if (rs->targets.version == 0 || !timestamp_stale(rs, now))
		return;
	if (resign(rs, snapshot_stale(rs, now), err, sizeof(err)) != 0)
		log_event(LOG_ERROR, "release_timestamp_failed",
			  "func=%s err=\"%s\"", __func__, err);
}

void
releases_refresh(struct releases *rs)
{
	if (rs == NULL)
		return;
	pthread_mutex_lock(&rs->mu);
	refresh_locked(rs);
	pthread_mutex_unlock(&rs->mu);
}

/* ---- opening ---- */

static int
load_meta(const char *path, enum tuf_role role, struct tuf_meta *m,
	  struct blob *b, char *err, size_t errlen)
{
	struct tuf_result r;
	int rc = read_file(path, TUF_META_MAX, b);

	if (rc == VG_ENOENT)
		return rc;
	if (rc == 0 && (rc = tuf_meta_parse(b->p, b->n, role, m, &r)) != 0)
		snprintf(err, errlen, "%s: %s", path, r.msg);
	else if (rc != 0)
		snprintf(err, errlen, "%s: cannot read it (%s)", path,
			 vg_strerror(rc));
	if (rc != 0) {
		blob_free(b);
		return VG_ECORRUPT;
	}
	return 0;
}

static int
make_dir(const char *path, char *err, size_t errlen)
{
	int fd, rc = io_dir_open(path, NULL, &fd, err, errlen);

	if (rc == 0)
		close(fd);
	return rc;
}

static int
load_state(struct releases *rs, char *err, size_t errlen)
{
	char path[1300];
	struct blob b = {0};
	json_error_t je;
	int rc;

	/* The newest root: versions go up one at a time from 1. */
	for (uint64_t v = 1;; v++) {
		struct tuf_meta m;
		struct blob f;

		memset(&m, 0, sizeof(m));
		snprintf(path, sizeof(path), "%s/root/%llu.root.json", rs->dir,
			 (unsigned long long)v);
		rc = load_meta(path, TUF_ROOT, &m, &f, err, errlen);
		if (rc == VG_ENOENT)
			break;
		if (rc != 0)
			return rc;
		if (m.version != v) {
			snprintf(err, errlen, "%s: holds version %llu", path,
				 (unsigned long long)m.version);
			tuf_meta_clear(&m);
			blob_free(&f);
			return VG_ECORRUPT;
		}
		tuf_meta_clear(&rs->root);
		blob_free(&rs->root_file);
		rs->root = m;
		rs->root_file = f;
	}
	snprintf(path, sizeof(path), "%s/targets.json", rs->dir);
	rc = load_meta(path, TUF_TARGETS, &rs->targets, &rs->targets_file, err,
		       errlen);
	if (rc != 0 && rc != VG_ENOENT)
		return rc;
	snprintf(path, sizeof(path), "%s/snapshot.json", rs->dir);
	rc = load_meta(path, TUF_SNAPSHOT, &rs->snapshot, &rs->snapshot_file,
		       err, errlen);
	if (rc != 0 && rc != VG_ENOENT)
		return rc;
	snprintf(path, sizeof(path), "%s/timestamp.json", rs->dir);
	rc = load_meta(path, TUF_TIMESTAMP, &rs->timestamp, &rs->timestamp_file,
		       err, errlen);
	if (rc != 0 && rc != VG_ENOENT)
		return rc;
	snprintf(path, sizeof(path), "%s/index.json", rs->dir);
	rc = read_file(path, INDEX_MAX, &b);
	if (rc == VG_ENOENT) {
		rs->index = json_array();
	} else if (rc != 0 ||
		   (rs->index = json_loadb((const char *)b.p, b.n,
					   JSON_REJECT_DUPLICATES, &je)) ==
			   NULL ||
		   !json_is_array(rs->index)) {
		snprintf(err, errlen, "%s: not a JSON array", path);
		blob_free(&b);
		return VG_ECORRUPT;
	}
	blob_free(&b);
	/* A record newer than targets.json is what a crash left between the
	 * two writes: that release was never served. */
	for (size_t i = json_array_size(rs->index); i-- > 0;) {
		json_t *v = json_object_get(json_array_get(rs->index, i),
					    "version");

		if (!json_is_integer(v)) {
			snprintf(err, errlen, "%s: record %zu has no version",
				 path, i);
			return VG_ECORRUPT;
		}
		if ((uint64_t)json_integer_value(v) > rs->targets.version)
			json_array_remove(rs->index, i);
	}
	if (rs->targets.version > 0 && rs->root.version == 0) {
		snprintf(err, errlen, "%s/targets.json without a root",
			 rs->dir);
		return VG_ECORRUPT;
	}
	return 0;
}

int
releases_open(const struct node_config *cfg, struct keyholder *kh,
	      struct releases **out, char *err, size_t errlen)
{
	struct releases *rs = xcalloc(1, sizeof(*rs));
	char path[1300];
	json_t *kj;
	int rc;

	pthread_mutex_init(&rs->mu, NULL);
	rs->refresh = cfg->release_timestamp_refresh;
	snprintf(rs->dir, sizeof(rs->dir), "%s/releases", cfg->data_dir);
	/* The key holder created or loaded the online key. */
	rs->kh = kh;
	memcpy(rs->pub, keyholder_release_pub(kh), sizeof(rs->pub));
	tuf_key_id(rs->pub, rs->key_id);
	kj = tuf_key_json(rs->pub);
	rc = tuf_cjson(kj, &rs->key_json, &rs->key_json_len);
	json_decref(kj);
	if (rc != 0) {
		snprintf(err, errlen, "cannot encode the online key");
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/root", rs->dir);
	if ((rc = make_dir(rs->dir, err, errlen)) != 0 ||
	    (rc = make_dir(path, err, errlen)) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/artifacts", rs->dir);
	if ((rc = make_dir(path, err, errlen)) != 0)
		goto fail;
	if ((rc = load_state(rs, err, errlen)) != 0)
		goto fail;
	/* A crash between targets.json and the snapshot, or between the
	 * snapshot and the timestamp: sign what is behind again. */
	if (rs->targets.version > 0) {
		struct tuf_result r;
		bool snap = rs->snapshot.version == 0 ||
			    tuf_check_meta_ref(
				    &rs->snapshot, rs->targets_file.p,
				    rs->targets_file.n, &rs->targets, &r) != 0;
		bool ts = snap || rs->timestamp.version == 0 ||
			  tuf_check_meta_ref(
				  &rs->timestamp, rs->snapshot_file.p,
				  rs->snapshot_file.n, &rs->snapshot, &r) != 0;

		if (ts && (rc = resign(rs, snap, err, errlen)) != 0)
			goto fail;
	}
	*out = rs;
	return 0;
fail:
	releases_close(rs);
	return rc;
}

const char *
releases_online_key_id(const struct releases *rs)
{
	return rs->key_id;
}

void
releases_close(struct releases *rs)
{
	if (rs == NULL)
		return;
	tuf_meta_clear(&rs->root);
	tuf_meta_clear(&rs->targets);
	tuf_meta_clear(&rs->snapshot);
	tuf_meta_clear(&rs->timestamp);
	blob_free(&rs->root_file);
	blob_free(&rs->targets_file);
	blob_free(&rs->snapshot_file);
	blob_free(&rs->timestamp_file);
	json_decref(rs->index);
	free(rs->key_json);
	pthread_mutex_destroy(&rs->mu);
	free(rs);
}

/* ---- answers ---- */

static const char *
fail_name(enum tuf_fail f)
{
	static const char *const names[] = {
		[TUF_OK] = "ok",
		[TUF_FAIL_FORMAT] = "format",
		[TUF_FAIL_SIGNATURE] = "signature",
		[TUF_FAIL_ROLLBACK] = "rollback",
		[TUF_FAIL_EXPIRED] = "expired",
		[TUF_FAIL_MISMATCH] = "mismatch",
		[TUF_FAIL_ARTIFACT] = "artifact",
	};

	return (size_t)f < sizeof(names) / sizeof(names[0]) && names[f]
		       ? names[f]
		       : "format";
}

/* ---- publishing ---- */

/* What a publish found, to be written once its entries are in the log. */
struct publish {
	struct releases *rs;
	h2o_req_t *req;        /* NULL once the client left */
	struct publish **slot; /* in req's pool, pointing here */
	uint8_t *body;         /* a copy of the request body: the container */
	size_t body_len;
	struct container c;
	struct tuf_meta roots[TUF_KEYS_MAX]; /* the new roots, in order */
	const struct container_file *root_files[TUF_KEYS_MAX];
	size_t n_roots;
	struct tuf_meta targets;
	const struct container_file *targets_file;
	json_t *record; /* the release, as the index keeps it */
	size_t pending; /* entries not yet appended */
	bool failed;    /* an append failed */
	char fail_msg[384];
	struct nodelog_item **items; /* for the log indexes */
	size_t n_items;
	/* Per item: where its index goes in the record. */
	struct {
		json_t *obj;     /* an object of the record */
		const char *key; /* its member */
	} * slots;
};

/* The pool's dispose callback of the request: the client is gone. */
static void
request_gone(void *p)
{
	struct publish **pp = p;

	if (*pp != NULL)
		(*pp)->req = NULL;
}

static void
publish_free(struct publish *pb)
{
	if (pb == NULL)
		return;
	for (size_t i = 0; i < pb->n_roots; i++)
		tuf_meta_clear(&pb->roots[i]);
	tuf_meta_clear(&pb->targets);
	container_free(&pb->c);
	json_decref(pb->record);
	free(pb->body);
	free(pb->items);
	free(pb->slots);
	free(pb);
}

/* "root/<N>.root.json" with N canonical: N, or 0. */
static uint64_t
root_path_version(const char *path)
{
	const char *p = path + 5, *end;
	uint64_t v = 0;

	if (strncmp(path, "root/", 5) != 0)
		return 0;
	if ((end = strstr(p, ".root.json")) == NULL || end[10] != '\0' ||
	    end == p || (end - p > 1 && p[0] == '0') || end - p > 15)
		return 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	return v;
}

/* The node can sign for the snapshot and timestamp roles of root only if
 * they name its online key with a threshold of 1. */
static int
check_online_roles(const struct releases *rs, const struct tuf_meta *root,
		   char *msg, size_t msglen)
{
	static const char *const roles[] = {"snapshot", "timestamp"};

	for (size_t i = 0; i < 2; i++) {
		json_t *role = json_object_get(
			json_object_get(root->signed_, "roles"), roles[i]);
		json_t *ids = json_object_get(role, "keyids"), *id;
		size_t k;
		bool found = false;

		json_array_foreach(ids, k, id) found |=
			json_is_string(id) &&
			strcmp(json_string_value(id), rs->key_id) == 0;
		if (!found || json_integer_value(json_object_get(
				      role, "threshold")) != 1) {
			snprintf(msg, msglen,
				 "root version %llu: its %s role must name "
				 "this node's online key %s with threshold 1 "
				 "(GET /v1/releases/online-key.json)",
				 (unsigned long long)root->version, roles[i],
				 rs->key_id);
			return VG_EVERIFY;
		}
	}
	return 0;
}

/* Looks up what a kind of artifact was logged as before: the log index
 * of an earlier release's artifact with this hash and kind, or -1. */
static json_int_t
logged_before(const struct releases *rs, const char *kind, const char *sha256)
{
	size_t i, k;
	json_t *rec, *a;

	json_array_foreach(rs->index, i, rec)
	{
		json_array_foreach(json_object_get(rec, "artifacts"), k, a)
		{
			json_t *li = json_object_get(a, "log_index");

			if (json_is_integer(li) &&
			    strcmp(json_string_value(json_object_get(a, "kind"))
					   ?: "",
				   kind) == 0 &&
			    strcmp(json_string_value(
					   json_object_get(a, "sha256"))
					   ?: "",
				   sha256) == 0)
				return json_integer_value(li);
		}
	}
	return -1;
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
hash_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* The rule diff of the release's rules against the previous rules. */
static json_t *
rules_diff(const struct releases *rs, json_t *rules)
{
	json_t *prev = NULL, *added = json_array(), *removed = json_array();
	const char **a = NULL, **b = NULL;
	size_t na = 0, nb = 0, i = 0, j = 0, k;
	json_t *v;

	for (size_t r = json_array_size(rs->index); r-- > 0;)
		if (json_is_object(json_object_get(json_array_get(rs->index, r),
						   "rules"))) {
			prev = json_object_get(json_array_get(rs->index, r),
					       "rules");
			break;
		}
	b = xcalloc(json_array_size(json_object_get(rules, "rule_ids")) + 1,
		    sizeof(*b));
	json_array_foreach(json_object_get(rules, "rule_ids"), k, v) b[nb++] =
		json_string_value(v);
	if (prev != NULL) {
		a = xcalloc(json_array_size(json_object_get(prev, "rule_ids")) +
				    1,
			    sizeof(*a));
		json_array_foreach(json_object_get(prev, "rule_ids"), k,
				   v) if (json_is_string(v)) a[na++] =
			json_string_value(v);
	}
	if (na > 0) /* a is NULL with no previous rules */
		qsort(a, na, sizeof(*a), strp_cmp);
	qsort(b, nb, sizeof(*b), strp_cmp);
	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 : strcmp(a[i], b[j]);

		if (c < 0)
			json_array_append_new(removed, json_string(a[i++]));
		else if (c > 0)
			json_array_append_new(added, json_string(b[j++]));
		else
			i++, j++;
	}
	free(a);
	free(b);
	return json_pack("{s:O?, s:O, s:o, s:o}", "from",
			 prev ? json_object_get(prev, "version") : NULL, "to",
			 json_object_get(rules, "version"), "added", added,
			 "removed", removed);
}

/* Checks a rule bundle (rules.h: its format, and that its sources
 * compile to its rule IDs) against what its target says of it. */
static int
check_rule_bundle(const char *name, const struct container_file *f,
		  const json_t *custom, char *msg, size_t msglen)
{
	struct rules_bundle b;
	json_t *ids = json_object_get(custom, "rule_ids"), *id;
	char err[384];
	size_t k;
	int rc = VG_EVERIFY;

	memset(&b, 0, sizeof(b));
	if (rules_bundle_parse(f->data, f->len, &b, err, sizeof(err)) != 0) {
		snprintf(msg, msglen, "%s: not a valid rule bundle: %s", name,
			 err);
		return VG_EVERIFY;
	}
	if (strcmp(b.version, json_string_value(json_object_get(
				      custom, "version"))) != 0) {
		snprintf(msg, msglen,
			 "%s: the bundle's version %s is not the target's "
			 "custom.version",
			 name, b.version);
		goto out;
	}
	if (json_array_size(ids) != b.n_ids)
		goto ids;
	json_array_foreach(ids, k, id) if (!json_is_string(id) ||
					   strcmp(json_string_value(id),
						  b.rule_ids[k]) != 0) goto ids;
	rc = 0;
	goto out;
ids:
	snprintf(msg, msglen,
		 "%s: the bundle's rule_ids are not the target's "
		 "custom.rule_ids",
		 name);
out:
	rules_bundle_free(&b);
	return rc;
}

static void on_logged(struct nodelog_item *it);

/* Adds an entry to the publish: encoded, to be submitted; its log index
 * goes into obj[key] once appended. */
static int
add_entry(struct publish *pb, const struct tlog_entry *e, json_t *obj,
	  const char *key, char *msg, size_t msglen)
{
	struct nodelog_item *it;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if ((rc = tlog_entry_encode(e, &text, &len, msg, msglen)) != 0)
		return rc;
	it = xcalloc(1, sizeof(*it));
	it->entry = (uint8_t *)text;
	it->len = len;
	it->ud = pb;
	it->done = on_logged;
	pb->items =
		xreallocarray(pb->items, pb->n_items + 1, sizeof(*pb->items));
	pb->slots =
		xreallocarray(pb->slots, pb->n_items + 1, sizeof(*pb->slots));
	pb->items[pb->n_items] = it;
	pb->slots[pb->n_items].obj = obj;
	pb->slots[pb->n_items].key = key;
	pb->n_items++;
	return 0;
}

/* The body of the key-change entry for a new root. */
static char *
key_change_body(const struct tuf_meta *root, const struct container_file *f)
{
	static const char *const roles[] = {"root", "targets", "snapshot",
					    "timestamp"};
	uint8_t h[32];
	char hex[65], *s;
	size_t cap = 4096, o = 0;

	crypto_hash_sha256(h, f->data, f->len);
	hex_encode(h, 32, hex);
	s = xmalloc(cap);
	o += (size_t)snprintf(s + o, cap - o,
			      "release root version %llu\nsha256 %s\n",
			      (unsigned long long)root->version, hex);
	for (size_t i = 0; i < 4; i++) {
		json_t *role = json_object_get(
			json_object_get(root->signed_, "roles"), roles[i]);
		json_t *id;
		size_t k;

		if (o + 16 >= cap)
			break;
		o += (size_t)snprintf(
			s + o, cap - o, "%s threshold %lld keys", roles[i],
			(long long)json_integer_value(
				json_object_get(role, "threshold")));
		json_array_foreach(json_object_get(role, "keyids"), k, id)
		{
			if (o + 66 >= cap)
				break;
			o += (size_t)snprintf(s + o, cap - o, " %s",
					      json_string_value(id));
		}
		if (o + 2 < cap)
			s[o++] = '\n';
	}
	s[o < cap ? o : cap - 1] = '\0';
	return s;
}

/*
 * Verifies the container of pb as an endpoint would, and builds the
 * release record and its log entries. Returns 0, or the HTTP status with
 * code and message set.
 */
static int
verify(struct publish *pb, const char **code, char *msg, size_t msglen)
{
	struct releases *rs = pb->rs;
	const struct tuf_meta *trusted = rs->root.version ? &rs->root : NULL;
	uint64_t maxv = 0, have = rs->root.version;
	int64_t now = (int64_t)time(NULL);
	struct tuf_result r;
	json_t *artifacts, *key_changes, *rules = NULL, *signers;
	uint8_t soft[TLOG_ENTRY_HASHES_MAX][32];
	size_t nsoft = 0;
	bool soft_new = false;
	const char *soft_version = NULL;
	char ids[TUF_SIGS_MAX][TUF_KEYID_LEN];
	size_t nids = 0;
	char when[21];

	*code = "verification_failed";
	memset(&r, 0, sizeof(r));
	/* Every file must be a root, targets.json or a target of it. */
	for (size_t i = 0; i < pb->c.n; i++) {
		uint64_t v = root_path_version(pb->c.files[i].path);

		if (v > have && v > maxv)
			maxv = v;
	}
	if (maxv > have && maxv - have > TUF_KEYS_MAX) {
		snprintf(msg, msglen, "more than %d new roots", TUF_KEYS_MAX);
		return 422;
	}
	/* The root chain, from the node's own root (or, with none, from
	 * root 1 signed by its own root keys). */
	for (uint64_t v = have + 1; v <= maxv; v++) {
		char path[64];
		const struct container_file *f;
		struct tuf_meta *m = &pb->roots[pb->n_roots];

		snprintf(path, sizeof(path), "root/%llu.root.json",
			 (unsigned long long)v);
		if ((f = container_find(&pb->c, path)) == NULL) {
			snprintf(msg, msglen,
				 "%s is missing: the roots must go up one "
				 "version at a time from this node's root "
				 "version %llu",
				 path, (unsigned long long)have);
			return 422;
		}
		if (tuf_meta_parse(f->data, f->len, TUF_ROOT, m, &r) != 0) {
			snprintf(msg, msglen, "%s: %s (%s)", path, r.msg,
				 fail_name(r.fail));
			return 422;
		}
		pb->root_files[pb->n_roots++] = f;
		if (m->version != v) {
			snprintf(msg, msglen, "%s holds root version %llu",
				 path, (unsigned long long)m->version);
			return 422;
		}
		if (trusted == NULL) {
			if (tuf_verify_role(m, m, &r) != 0) {
				snprintf(msg, msglen,
					 "root version 1 is not signed by the "
					 "threshold of its own root keys: %s "
					 "(%s)",
					 r.msg, fail_name(r.fail));
				return 422;
			}
		} else if (tuf_root_next(trusted, m, &r) != 0) {
			snprintf(msg, msglen, "%s: %s (%s)", path, r.msg,
				 fail_name(r.fail));
			return 422;
		}
		if (check_online_roles(rs, m, msg, msglen) != 0)
			return 422;
		trusted = m;
	}
	if (trusted == NULL) {
		snprintf(msg, msglen,
			 "this node has no root yet: the container must hold "
			 "root/1.root.json, signed by the threshold of its "
			 "own root keys");
		return 422;
	}
	if (tuf_check_expiry(trusted, now, &r) != 0) {
		snprintf(msg, msglen, "%s (%s)", r.msg, fail_name(r.fail));
		return 422;
	}
	/* targets.json, signed by the threshold of the newest root. */
	if ((pb->targets_file = container_find(&pb->c, "targets.json")) ==
	    NULL) {
		*code = "bad_container";
		snprintf(msg, msglen, "the container holds no targets.json");
		return 422;
	}
	if (tuf_meta_parse(pb->targets_file->data, pb->targets_file->len,
			   TUF_TARGETS, &pb->targets, &r) != 0 ||
	    tuf_verify_role(trusted, &pb->targets, &r) != 0) {
		snprintf(msg, msglen, "targets.json: %s (%s)", r.msg,
			 fail_name(r.fail));
		return 422;
	}
	if (pb->targets.version <= rs->targets.version) {
		*code = "version";
		snprintf(msg, msglen,
			 "targets version %llu is not above the current "
			 "version %llu",
			 (unsigned long long)pb->targets.version,
			 (unsigned long long)rs->targets.version);
		return 409;
	}
	if (tuf_check_expiry(&pb->targets, now, &r) != 0) {
		snprintf(msg, msglen, "%s (%s)", r.msg, fail_name(r.fail));
		return 422;
	}
	/* Nothing else than roots, targets.json and its targets. */
	for (size_t i = 0; i < pb->c.n; i++) {
		const char *p = pb->c.files[i].path;
		struct tuf_target t;

		if (root_path_version(p) != 0 || strcmp(p, "targets.json") == 0)
			continue;
		if (strncmp(p, "targets/", 8) == 0 &&
		    tuf_target_get(&pb->targets, p + 8, &t) == 0)
			continue;
		snprintf(msg, msglen,
			 "record %zu: %s is neither a root, targets.json nor "
			 "an artifact targets.json names (format)",
			 pb->c.files[i].record, p);
		return 422;
	}
	/* Every artifact, its bytes, and what it is. */
	artifacts = json_array();
	key_changes = json_array();
	tuf_time_format(now, when);
	if (tuf_meta_signers_in(trusted, &pb->targets, ids, TUF_SIGS_MAX,
				&nids) != 0)
		nids = 0;
	signers = json_array();
	for (size_t i = 0; i < nids; i++) {
		json_t *tk = json_object_get(
			json_object_get(
				json_object_get(trusted->signed_, "roles"),
				"targets"),
			"keyids");
		json_t *id;
		size_t k;

		json_array_foreach(tk, k, id) if (strcmp(json_string_value(id),
							 ids[i]) == 0)
			json_array_append_new(signers, json_string(ids[i]));
	}
	pb->record = json_pack(
		"{s:I, s:s, s:I, s:o, s:O?, s:o, s:o, s:n, s:n}", "version",
		(json_int_t)pb->targets.version, "published", when,
		"root_version", (json_int_t)trusted->version, "signers",
		signers, "targets_threshold",
		json_object_get(
			json_object_get(
				json_object_get(trusted->signed_, "roles"),
				"targets"),
			"threshold"),
		"artifacts", artifacts, "key_changes", key_changes, "rules",
		"rules_diff");
	for (size_t i = 0; i < tuf_targets_count(&pb->targets); i++) {
		struct tuf_target t;
		const struct container_file *f;
		char path[8 + TUF_TARGET_NAME_MAX + 1], hex[65];
		const char *kind, *version;
		json_t *a;
		json_int_t before;

		if (tuf_target_at(&pb->targets, i, &t) != 0)
			fatal("target %zu vanished", i);
		snprintf(path, sizeof(path), "targets/%s", t.name);
		if ((f = container_find(&pb->c, path)) == NULL) {
			snprintf(msg, msglen,
				 "%s: the artifact is not in the container "
				 "(artifact)",
				 path);
			return 422;
		}
		if (tuf_check_artifact(&t, f->data, f->len, &r) != 0) {
			snprintf(msg, msglen, "%.200s: %.450s (%s)", path,
				 r.msg, fail_name(r.fail));
			return 422;
		}
		kind = json_string_value(json_object_get(t.custom, "kind"));
		version =
			json_string_value(json_object_get(t.custom, "version"));
		if (kind == NULL || version == NULL ||
		    (strcmp(kind, "rules") != 0 &&
		     strcmp(kind, "rule-check") != 0 &&
		     strcmp(kind, "program") != 0 &&
		     strcmp(kind, "source") != 0 &&
		     strcmp(kind, "provenance") != 0)) {
			snprintf(msg, msglen,
				 "%s: custom must say its kind (rules, "
				 "rule-check, program, source or provenance) "
				 "and version (format)",
				 t.name);
			return 422;
		}
		hex_encode(t.sha256, 32, hex);
		a = json_pack("{s:s, s:s, s:s, s:I, s:s, s:n}", "name", t.name,
			      "kind", kind, "version", version, "length",
			      (json_int_t)t.length, "sha256", hex, "log_index");
		json_array_append_new(artifacts, a);
		before = logged_before(rs, kind, hex);
		if (before >= 0)
			json_object_set_new(a, "log_index",
					    json_integer(before));
		if (strcmp(kind, "rules") == 0) {
			struct tlog_entry e;
			json_t *ids_j = json_object_get(t.custom, "rule_ids");

			if (!json_is_array(ids_j)) {
				snprintf(msg, msglen,
					 "%s: custom.rule_ids is missing "
					 "(format)",
					 t.name);
				return 422;
			}
			if (check_rule_bundle(t.name, f, t.custom, msg,
					      msglen) != 0)
				return 422;
			json_decref(rules);
			rules = json_pack("{s:s, s:O}", "version", version,
					  "rule_ids", ids_j);
			if (before >= 0)
				continue;
			memset(&e, 0, sizeof(e));
			e.type = TLOG_ENTRY_RULE_RELEASE;
			e.time = now;
			e.rule_release.version = version;
			memcpy(e.rule_release.sha256, t.sha256, 32);
			e.rule_release.rules = json_array_size(ids_j);
			if (add_entry(pb, &e, a, "log_index", msg, msglen) !=
			    0) {
				json_decref(rules);
				return 422;
			}
		} else if (strcmp(kind, "rule-check") != 0) {
			if (soft_version != NULL &&
			    strcmp(soft_version, version) != 0) {
				snprintf(msg, msglen,
					 "%s: version %s, but the software of "
					 "this release is version %s",
					 t.name, version, soft_version);
				json_decref(rules);
				return 422;
			}
			soft_version = version;
			soft_new |= before < 0;
			if (bsearch(t.sha256, soft, nsoft, 32, hash_cmp))
				continue;
			if (nsoft == TLOG_ENTRY_HASHES_MAX) {
				snprintf(msg, msglen,
					 "more than %d software artifacts",
					 TLOG_ENTRY_HASHES_MAX);
				json_decref(rules);
				return 422;
			}
			memcpy(soft[nsoft++], t.sha256, 32);
			qsort(soft, nsoft, 32, hash_cmp);
		}
	}
	if (rules != NULL) {
		json_object_set_new(pb->record, "rules_diff",
				    rules_diff(rs, rules));
		json_object_set_new(pb->record, "rules", rules);
	}
	if (nsoft > 0 && soft_new) {
		struct tlog_entry e;
		size_t k;
		json_t *a;

		memset(&e, 0, sizeof(e));
		e.type = TLOG_ENTRY_SOFTWARE_RELEASE;
		e.time = now;
		e.software_release.name = "vigil";
		e.software_release.version = soft_version;
		e.software_release.sha256 = &soft[0][0];
		e.software_release.nsha256 = nsoft;
		/* Its index goes to every software artifact: the record's
		 * slot is the first, the others are copied when done. */
		json_t *first = NULL;

		json_array_foreach(artifacts, k, a)
		{
			const char *kd =
				json_string_value(json_object_get(a, "kind"));

			if (strcmp(kd, "rules") != 0 &&
			    strcmp(kd, "rule-check") != 0) {
				json_object_set_new(a, "log_index",
						    json_null());
				if (first == NULL)
					first = a;
			}
		}
		if (add_entry(pb, &e, first, "log_index", msg, msglen) != 0)
			return 422;
	}
	for (size_t i = 0; i < pb->n_roots; i++) {
		struct tlog_entry e;
		char *body = key_change_body(&pb->roots[i], pb->root_files[i]);
		json_t *kc = json_pack("{s:I, s:n}", "root_version",
				       (json_int_t)pb->roots[i].version,
				       "log_index");
		int rc;

		json_array_append_new(key_changes, kc);
		rc = tlog_entry_admin(TLOG_ENTRY_KEY_CHANGE, now, body,
				      strlen(body), &e, msg, msglen);
		free(body);
		if (rc == 0) {
			rc = add_entry(pb, &e, kc, "log_index", msg, msglen);
			tlog_entry_clear(&e);
		}
		if (rc != 0)
			return 422;
	}
	return 0;
}

/* Writes the release and makes it current. Under rs->mu. */
static int
commit(struct publish *pb, char *err, size_t errlen)
{
	struct releases *rs = pb->rs;
	struct tuf_meta old_targets = rs->targets, old_root = rs->root;
	struct blob old_tf = rs->targets_file, old_rf = rs->root_file;
	char path[1300], *idx;
	json_t *index;
	int rc;

	for (size_t i = 0; i < tuf_targets_count(&pb->targets); i++) {
		struct tuf_target t;
		const struct container_file *f;
		char name[8 + TUF_TARGET_NAME_MAX + 1], hex[65];
		struct stat st;

		if (tuf_target_at(&pb->targets, i, &t) != 0)
			fatal("target %zu vanished", i);
		snprintf(name, sizeof(name), "targets/%s", t.name);
		f = container_find(&pb->c, name);
		hex_encode(t.sha256, 32, hex);
		snprintf(path, sizeof(path), "%s/artifacts/%s", rs->dir, hex);
		if (stat(path, &st) == 0 && (uint64_t)st.st_size == t.length)
			continue;
		if ((rc = write_atomic(path, f->data, f->len)) != 0)
			goto io;
	}
	for (size_t i = 0; i < pb->n_roots; i++) {
		snprintf(path, sizeof(path), "%s/root/%llu.root.json", rs->dir,
			 (unsigned long long)pb->roots[i].version);
		if ((rc = write_atomic(path, pb->root_files[i]->data,
				       pb->root_files[i]->len)) != 0)
			goto io;
	}
	index = json_copy(rs->index);
	json_array_append(index, pb->record);
	idx = json_dumps(index, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (idx == NULL)
		fatal("out of memory");
	snprintf(path, sizeof(path), "%s/index.json", rs->dir);
	rc = write_atomic(path, idx, strlen(idx));
	free(idx);
	if (rc != 0) {
		json_decref(index);
		goto io;
	}
	snprintf(path, sizeof(path), "%s/targets.json", rs->dir);
	if ((rc = write_atomic(path, pb->targets_file->data,
			       pb->targets_file->len)) != 0) {
		json_decref(index);
		goto io;
	}
	/* Now current: the new root, targets and index. */
	json_decref(rs->index);
	rs->index = index;
	rs->targets = pb->targets;
	memset(&pb->targets, 0, sizeof(pb->targets));
	rs->targets_file.n = pb->targets_file->len;
	rs->targets_file.p = xmalloc(rs->targets_file.n + 1);
	memcpy(rs->targets_file.p, pb->targets_file->data, rs->targets_file.n);
	tuf_meta_clear(&old_targets);
	blob_free(&old_tf);
	if (pb->n_roots > 0) {
		const struct container_file *f =
			pb->root_files[pb->n_roots - 1];

		rs->root = pb->roots[pb->n_roots - 1];
		memset(&pb->roots[pb->n_roots - 1], 0, sizeof(rs->root));
		rs->root_file.n = f->len;
		rs->root_file.p = xmalloc(f->len + 1);
		memcpy(rs->root_file.p, f->data, f->len);
		tuf_meta_clear(&old_root);
		blob_free(&old_rf);
	}
	return resign(rs, true, err, errlen);
io:
	snprintf(err, errlen, "%.200s: cannot write it", path);
	return rc;
}

/* Every entry of pb is appended (or failed): writes the release, answers
 * and lets go. Event loop thread of the publish. */
static void
publish_finish(struct publish *pb)
{
	struct releases *rs = pb->rs;
	h2o_req_t *req = pb->req;
	json_t *a, *shared = NULL;
	char err[256];
	size_t k;

	/* The software-release entry's index belongs to every program,
	 * source and provenance file of the release. */
	json_array_foreach(json_object_get(pb->record, "artifacts"), k, a)
	{
		const char *kd = json_string_value(json_object_get(a, "kind"));
		json_t *li = json_object_get(a, "log_index");

		if (strcmp(kd, "rules") == 0 || strcmp(kd, "rule-check") == 0)
			continue;
		if (shared == NULL && json_is_integer(li))
			shared = li;
		else if (shared != NULL && json_is_null(li))
			json_object_set(a, "log_index", shared);
	}
	pthread_mutex_lock(&rs->mu);
	if (!pb->failed && commit(pb, err, sizeof(err)) != 0) {
		pb->failed = true;
		snprintf(pb->fail_msg, sizeof(pb->fail_msg), "%s", err);
		log_event(LOG_ERROR, "release_commit_failed",
			  "func=%s err=\"%s\"", __func__, err);
	}
	rs->busy = false;
	pthread_mutex_unlock(&rs->mu);
	if (!pb->failed)
		log_event(LOG_INFO, "release_published",
			  "version=%lld entries=%zu",
			  (long long)json_integer_value(
				  json_object_get(pb->record, "version")),
			  pb->n_items);
	if (req != NULL) {
		*pb->slot = NULL;
		if (pb->failed)
			api_send_error(req, ROUTE_ADMIN_RELEASES, 503,
				       "log_unavailable", pb->fail_msg);
		else
			api_send_json(req, ROUTE_ADMIN_RELEASES, 201,
				      json_incref(pb->record));
	}
	publish_free(pb);
}

/* The sequencer is done with one of a publish's entries (the event loop
 * thread that submitted it); owns it. */
static void
on_logged(struct nodelog_item *it)
{
	struct publish *pb = it->ud;

	for (size_t k = 0; k < pb->n_items; k++) {
		if (pb->items[k] != it)
			continue;
		if (it->rc == 0) {
			json_object_set_new(
				pb->slots[k].obj, pb->slots[k].key,
				json_integer((json_int_t)it->index));
		} else if (!pb->failed) {
			pb->failed = true;
			snprintf(pb->fail_msg, sizeof(pb->fail_msg),
				 "the log could not append an entry: %s",
				 it->err);
		}
		pb->items[k] = NULL;
	}
	nodelog_item_free(it);
	if (--pb->pending == 0)
		publish_finish(pb);
}

/* POST /v1/admin/releases: a release container from the operator. */
static int
on_publish(struct node *node, unsigned port, h2o_req_t *req)
{
	struct releases *rs = node->releases;
	const enum route r = ROUTE_ADMIN_RELEASES;
	struct publish *pb;
	const char *code = NULL;
	char msg[768];
	int status;

	if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")))
		return api_wrong_method(req, r, "POST");
	if (node->log == NULL || rs == NULL)
		return api_send_error(req, r, 404, "not_found",
				      "this node keeps no log");
	if (!api_operator_ok(req, r))
		return 0;
	pthread_mutex_lock(&rs->mu);
	if (rs->busy) {
		pthread_mutex_unlock(&rs->mu);
		h2o_add_header(&req->pool, &req->res.headers,
			       H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
		return api_send_error(req, r, 503, "busy",
				      "another release is being published");
	}
	rs->busy = true;
	pthread_mutex_unlock(&rs->mu);
	/* From here on only this publish changes the root and targets; the
	 * lock is for the timestamp, which the refresh may sign meanwhile. */
	pb = xcalloc(1, sizeof(*pb));
	pb->rs = rs;
	pb->body_len = req->entity.base ? req->entity.len : 0;
	pb->body = xmalloc(pb->body_len + 1);
	if (pb->body_len > 0)
		memcpy(pb->body, req->entity.base, pb->body_len);
	if (container_parse(pb->body, pb->body_len, &pb->c, msg, sizeof(msg)) !=
	    0) {
		status = 400;
		code = "bad_container";
		goto refuse;
	}
	if ((status = verify(pb, &code, msg, sizeof(msg))) != 0)
		goto refuse;
	pb->req = req;
	pb->slot = h2o_mem_alloc_shared(&req->pool, sizeof(*pb->slot),
					request_gone);
	*pb->slot = pb;
	pb->pending = pb->n_items;
	log_event(LOG_INFO, "release_publish_requested",
		  "version=%llu roots=%zu entries=%zu",
		  (unsigned long long)pb->targets.version, pb->n_roots,
		  pb->n_items);
	if (pb->n_items == 0) {
		publish_finish(pb);
		return 0;
	}
	for (size_t k = 0, n = pb->n_items; k < n; k++) {
		struct nodelog_item *it = pb->items[k];

		it->hdr.port = port;
		if (nodelog_submit(node->log, it) != 0) {
			/* The entries already queued come back; the publish
			 * fails when they have. */
			pb->failed = true;
			snprintf(pb->fail_msg, sizeof(pb->fail_msg),
				 "too many log entries are waiting; try again");
			for (size_t j = k; j < n; j++) {
				nodelog_item_free(pb->items[j]);
				pb->items[j] = NULL;
			}
			pb->pending -= n - k;
			if (pb->pending == 0)
				publish_finish(pb);
			break;
		}
	}
	return 0;
refuse:
	log_event(LOG_INFO, "release_refused", "status=%d reason=\"%s\"",
		  status, msg);
	for (size_t k = 0; k < pb->n_items; k++)
		nodelog_item_free(pb->items[k]);
	publish_free(pb);
	pthread_mutex_lock(&rs->mu);
	rs->busy = false;
	pthread_mutex_unlock(&rs->mu);
	return api_send_error(req, r, status, code, msg);
}

/* ---- serving ---- */

static int
send_manifest(h2o_req_t *req, const struct blob *b)
{
	api_reply(req, ROUTE_RELEASES, 200, "application/json", "no-cache",
		  (const char *)b->p, b->n);
	return 0;
}

/* Copies the manifest b under rs->mu and serves it; 404 if there is none
 * yet. */
static int
serve_current(struct releases *rs, h2o_req_t *req, const struct blob *b,
	      const char *what)
{
	struct blob copy = {0};

	pthread_mutex_lock(&rs->mu);
	if (b->n > 0) {
		copy.p = xmalloc(b->n);
		memcpy(copy.p, b->p, b->n);
		copy.n = b->n;
	}
	pthread_mutex_unlock(&rs->mu);
	if (copy.p == NULL)
		return api_send_error(req, ROUTE_RELEASES, 404, "not_found",
				      what);
	send_manifest(req, &copy);
	blob_free(&copy);
	return 0;
}

json_t *
releases_list(struct releases *rs)
{
	json_t *list = json_array(), *rec;
	size_t i;

	if (list == NULL)
		fatal("out of memory");
	pthread_mutex_lock(&rs->mu);
	json_array_foreach(rs->index, i, rec)
		json_array_insert_new(list, 0, json_deep_copy(rec));
	pthread_mutex_unlock(&rs->mu);
	return list;
}

static int
serve_list(struct releases *rs, h2o_req_t *req)
{
	return api_send_json(req, ROUTE_RELEASES, 200,
			     json_pack("{s:o}", "releases", releases_list(rs)));
}

static int
serve_root(struct releases *rs, h2o_req_t *req, const char *v, size_t vl)
{
	char path[1300];
	struct blob b;
	uint64_t n = 0;
	int rc;

	if (vl == 0 || vl > 15 || (vl > 1 && v[0] == '0'))
		return api_send_error(req, ROUTE_RELEASES, 404, "not_found",
				      "no such root");
	for (size_t i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return api_send_error(req, ROUTE_RELEASES, 404,
					      "not_found", "no such root");
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	snprintf(path, sizeof(path), "%s/root/%llu.root.json", rs->dir,
		 (unsigned long long)n);
	rc = read_file(path, TUF_META_MAX, &b);
	if (rc == VG_ENOENT || n == 0)
		return api_send_error(req, ROUTE_RELEASES, 404, "not_found",
				      "no such root");
	if (rc != 0)
		return api_send_error(req, ROUTE_RELEASES, 500, "corrupt",
				      "the root cannot be read");
	send_manifest(req, &b);
	blob_free(&b);
	return 0;
}

/* The current target called name[0..len) into *t's hex hash and length,
 * and the log index of its entry (-1 if none). 0 or VG_ENOENT. */
static int
find_target(struct releases *rs, const char *name, size_t len, char hex[65],
	    uint64_t *length, json_int_t *log_index)
{
	char cname[TUF_TARGET_NAME_MAX + 1];
	struct tuf_target t;
	json_t *rec, *a;
	size_t k;
	int rc = VG_ENOENT;

	if (len == 0 || len > TUF_TARGET_NAME_MAX ||
	    memchr(name, '\0', len) != NULL)
		return VG_ENOENT;
	memcpy(cname, name, len);
	cname[len] = '\0';
	*log_index = -1;
	pthread_mutex_lock(&rs->mu);
	if (rs->targets.version > 0 &&
	    tuf_target_get(&rs->targets, cname, &t) == 0) {
		hex_encode(t.sha256, 32, hex);
		*length = t.length;
		rec = json_array_get(rs->index, json_array_size(rs->index) - 1);
		json_array_foreach(
			json_object_get(rec, "artifacts"), k,
			a) if (strcmp(json_string_value(json_object_get(a,
									"name"))
					      ?: "",
				      cname) == 0 &&
			       json_is_integer(json_object_get(
				       a, "log_index"))) *log_index =
			json_integer_value(json_object_get(a, "log_index"));
		rc = 0;
	}
	pthread_mutex_unlock(&rs->mu);
	return rc;
}

/* Serves <dir>/artifacts/<hex>, which must be length bytes hashing to
 * hex: stored bytes are checked like downloaded ones. */
static int
serve_stored(struct releases *rs, h2o_req_t *req, const char hex[65],
	     uint64_t length)
{
	char path[1300], got[65];
	struct blob b;
	uint8_t h[32];
	int rc;

	snprintf(path, sizeof(path), "%s/artifacts/%s", rs->dir, hex);
	rc = read_file(path, length, &b);
	if (rc == 0) {
		crypto_hash_sha256(h, b.p, b.n);
		hex_encode(h, 32, got);
		if (b.n != length || strcmp(got, hex) != 0)
			rc = VG_ECORRUPT;
	}
	if (rc != 0) {
		blob_free(&b);
		log_event(LOG_ERROR, "release_artifact_corrupt",
			  "func=%s path=%s err=%s", __func__, path,
			  vg_strerror(rc));
		return api_send_error(req, ROUTE_RELEASES, 500, "corrupt",
				      "the artifact cannot be read");
	}
	api_reply(req, ROUTE_RELEASES, 200, "application/octet-stream",
		  "public, max-age=31536000, immutable", (const char *)b.p,
		  b.n);
	blob_free(&b);
	return 0;
}

static int
serve_artifact(struct releases *rs, h2o_req_t *req, const char *name,
	       size_t len)
{
	char hex[65];
	uint64_t length;
	json_int_t li;

	if (find_target(rs, name, len, hex, &length, &li) != 0)
		return api_send_error(
			req, ROUTE_RELEASES, 404, "not_found",
			"no such artifact in the current release");
	return serve_stored(rs, req, hex, length);
}

/* The length of an artifact with the hash hex that some release of the
 * index lists: 0, VG_ENOENT if none does, VG_ECORRUPT if the index gives
 * it no length that makes sense. */
static int
find_object(struct releases *rs, const char hex[65], uint64_t *length)
{
	json_t *rec, *a;
	size_t i, k;
	int rc = VG_ENOENT;

	pthread_mutex_lock(&rs->mu);
	json_array_foreach(rs->index, i, rec)
	{
		json_array_foreach(json_object_get(rec, "artifacts"), k, a)
		{
			const char *h =
				json_string_value(json_object_get(a, "sha256"));
			const json_t *l = json_object_get(a, "length");

			if (h == NULL || strcmp(h, hex) != 0)
				continue;
			if (json_is_integer(l) && json_integer_value(l) >= 0) {
				*length = (uint64_t)json_integer_value(l);
				rc = 0;
				goto out;
			}
			rc = VG_ECORRUPT;
		}
	}
out:
	pthread_mutex_unlock(&rs->mu);
	return rc;
}

/* GET /v1/releases/objects/<sha256>: an artifact of any release, by its
 * hash; only a hash the index lists names a file. */
static int
serve_object(struct releases *rs, h2o_req_t *req, const char *s, size_t len)
{
	char hex[65];
	uint64_t length = 0;
	int rc;

	if (len != 64 || !hex_is_lower(s, len))
		return api_send_error(req, ROUTE_RELEASES, 400, "bad_hash",
				      "an object is named by the SHA-256 of "
				      "its bytes, 64 lowercase hex digits");
	memcpy(hex, s, 64);
	hex[64] = '\0';
	if ((rc = find_object(rs, hex, &length)) == VG_ENOENT)
		return api_send_error(req, ROUTE_RELEASES, 404, "not_found",
				      "no release has an artifact with this "
				      "hash");
	if (rc != 0) {
		log_event(LOG_ERROR, "release_index_corrupt",
			  "func=%s sha256=%s err=\"no length\"", __func__, hex);
		return api_send_error(req, ROUTE_RELEASES, 500, "corrupt",
				      "the artifact cannot be read");
	}
	return serve_stored(rs, req, hex, length);
}

static int
serve_proof(struct node *node, h2o_req_t *req, const char *name, size_t len)
{
	char hex[65], *out = NULL;
	uint64_t length;
	json_int_t li;
	size_t n = 0;

	if (find_target(node->releases, name, len, hex, &length, &li) != 0)
		return api_send_error(
			req, ROUTE_RELEASES, 404, "not_found",
			"no such artifact in the current release");
	if (li < 0)
		return api_send_error(
			req, ROUTE_RELEASES, 404, "no_entry",
			"this artifact has no log entry of its own "
			"(a rule check report)");
	if (api_log_proof(node, (uint64_t)li, true, &out, &n) != 0)
		return api_send_error(req, ROUTE_RELEASES, 503, "unavailable",
				      "the proof cannot be made");
	api_reply(req, ROUTE_RELEASES, 200, "text/plain; charset=utf-8",
		  "no-cache", out, n);
	free(out);
	return 0;
}

int
releases_handle(struct node *node, unsigned port, h2o_req_t *req, enum route r,
		const char *path, size_t len)
{
	struct releases *rs = node->releases;
	static const char pre[] = "/v1/releases";
	const char *rest;
	size_t rl;

	if (r == ROUTE_ADMIN_RELEASES)
		return on_publish(node, port, req);
	if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
		return api_wrong_method(req, r, "GET");
	if (rs == NULL)
		return api_send_error(req, r, 404, "not_found",
				      "this node serves no releases");
	if (len == sizeof(pre) - 1)
		return serve_list(rs, req);
	rest = path + sizeof(pre);
	rl = len - sizeof(pre);
#define IS(s) h2o_memis(rest, rl, H2O_STRLIT(s))
	if (IS("online-key.json")) {
		api_reply(req, r, 200, "application/json", "no-cache",
			  rs->key_json, rs->key_json_len);
		return 0;
	}
	if (IS("root.json"))
		return serve_current(rs, req, &rs->root_file,
				     "no root has been published yet");
	if (IS("targets.json"))
		return serve_current(rs, req, &rs->targets_file,
				     "no release has been published yet");
	if (IS("snapshot.json"))
		return serve_current(rs, req, &rs->snapshot_file,
				     "no release has been published yet");
	if (IS("timestamp.json")) {
		releases_refresh(rs);
		return serve_current(rs, req, &rs->timestamp_file,
				     "no release has been published yet");
	}
#undef IS
	if (rl > 8 && memcmp(rest, "targets/", 8) == 0)
		return serve_artifact(rs, req, rest + 8, rl - 8);
	if (rl > 7 && memcmp(rest, "proofs/", 7) == 0)
		return serve_proof(node, req, rest + 7, rl - 7);
	if (rl >= 8 && memcmp(rest, "objects/", 8) == 0)
		return serve_object(rs, req, rest + 8, rl - 8);
	if (rl > 10 && memcmp(rest + rl - 10, ".root.json", 10) == 0)
		return serve_root(rs, req, rest, rl - 10);
	return api_send_error(req, r, 404, "not_found", "no such release file");
}
