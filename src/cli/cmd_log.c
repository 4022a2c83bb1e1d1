/*
 * cmd_log.c - `vigil log ...`: check a region's transparency log from
 * its URL prefix (e.g. http://127.0.0.1:8440/log), trusting only its key
 * and the checkpoints this client saw before (docs/LOG.md, "The
 * verifying client"). The fetching and checking is logclient.c's.
 *
 *   checkpoint URL   verify the log's checkpoint, check it extends the
 *                    one seen before, store it, print origin, size, root
 *   verify URL (--index N | --entry FILE) [--proof-out FILE]
 *                    prove that an entry is in the log
 *   verify --proof FILE --entry FILE
 *                    check a stored tlog-proof offline
 *   get URL N        print entry N, proven
 *   tail URL         print every new entry, proven, as the log grows
 *
 * Every command takes the log's key (--key VKEY or --key-file FILE, or
 * --accept-key VKEY to trust VKEY for the origin from now on in place of
 * the key this client recorded for it) and the witness policy (--witness
 * VKEY..., --quorum N). Exit status: 0 done, 1 the entry is not in the
 * log or the proof does not prove it, 2 an error (network, malformed
 * answer, bad signature, too few witnesses, usage), 3 SECURITY: the log
 * contradicts what it signed (evidence on stderr), 4 the log's key is not
 * the one recorded for its origin and no key handover leads to it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cli/cli.h"
#include "cli/logclient.h"
#include "cli/release.h"
#include "cli/userconf.h"
#include "common/err.h"
#include "common/fileio.h"
#include "tlog/entry.h"
#include "tlog/proof.h"
#include "tlog/tile.h"

#define MAX_WITNESSES    64
#define DEFAULT_INTERVAL 5.0

/* Options, each allowed by the commands whose letter list names it. */
struct opts {
	const char *key, *key_file, *accept_key, *origin, *entry, *proof,
		*proof_out;
	const char *witness[MAX_WITNESSES];
	size_t nwitness, quorum;
	uint64_t index, from, count;
	double interval;
	int json, has_index, has_from;
	const char *url;
	/* What they make. */
	struct note_verifier log_key;
	int accept; /* log_key is --accept-key's */
	struct note_verifier witnesses[MAX_WITNESSES];
	char state_root[1100];
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: vigil log checkpoint URL KEY [WITNESSES]\n"
		"       vigil log verify URL KEY (--index N | --entry FILE) "
		"[--proof-out FILE]\n"
		"       vigil log verify --proof FILE --entry FILE KEY\n"
		"       vigil log get URL N KEY [--json]\n"
		"       vigil log tail URL KEY [--json] [--from N] "
		"[--interval SECONDS] [--count K]\n"
		"  URL: the log's prefix (http://HOST:PORT/log)\n"
		"  KEY: --key VKEY | --key-file FILE (the log's verifier "
		"key, /log/key)\n"
		"       | --accept-key VKEY: trust VKEY for the log's origin "
		"from now on,\n"
		"         in place of the key this client recorded for it "
		"(after exit 4)\n"
		"  WITNESSES: [--witness VKEY]... [--quorum N] (default 0)\n"
		"  [--origin ORIGIN]: the log's origin if it is not the "
		"key's name\n"
		"exit status: 0 verified, 1 not in the log, 2 error, "
		"3 SECURITY,\n"
		"  4 the log's key changed: it is not the key recorded for "
		"its origin\n"
		"    and no key handover signed by that key leads to it\n");
}

/* Reads the whole file at path, at most max bytes, into a new buffer with
 * a terminator. Returns 0, or 2 after saying why. */
static int
read_file(const char *path, size_t max, char **out, size_t *len)
{
	uint8_t *buf;

	if (release_read(path, max, &buf, len) != 0)
		return 2;
	*out = (char *)buf;
	return 0;
}

/* Replaces path with data (mode 0644) whole or not at all. */
static int
write_file(const char *path, const char *data, size_t len)
{
	if (io_write_file(path, data, len, 0644) != 0) {
		fprintf(stderr, "vigil: %s: %s\n", path, strerror(errno));
		return 2;
	}
	return 0;
}

static int
parse_u64(const char *s, const char *what, uint64_t *out)
{
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9' ||
	    (*out = strtoull(s, &end, 10), errno != 0 || *end != '\0')) {
		fprintf(stderr, "vigil: %s: not a number: %s\n", what, s);
		return 2;
	}
	return 0;
}

/* Parses one verifier key string (a line; one final newline allowed). */
static int
parse_key(const char *s, size_t len, const char *what, struct note_verifier *v)
{
	char err[256];

	if (len > 0 && s[len - 1] == '\n')
		len--;
	if (note_verifier_parse(s, len, v, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigil: %s is not a verifier key: %s\n", what,
			err);
		return 2;
	}
	return 0;
}

/* Parses the options of command cmd, which allows those in allowed. */
static int
parse_opts(int argc, char **argv, const char *allowed, struct opts *o)
{
	static const struct option longopts[] = {
		{"key", required_argument, NULL, 'k'},
		{"key-file", required_argument, NULL, 'K'},
		{"accept-key", required_argument, NULL, 'A'},
		{"witness", required_argument, NULL, 'w'},
		{"quorum", required_argument, NULL, 'q'},
		{"origin", required_argument, NULL, 'o'},
		{"index", required_argument, NULL, 'i'},
		{"entry", required_argument, NULL, 'e'},
		{"proof", required_argument, NULL, 'p'},
		{"proof-out", required_argument, NULL, 'P'},
		{"json", no_argument, NULL, 'j'},
		{"from", required_argument, NULL, 'f'},
		{"interval", required_argument, NULL, 'I'},
		{"count", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t q;
	char *end;
	int c, li;

	memset(o, 0, sizeof(*o));
	o->interval = DEFAULT_INTERVAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, &li)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return -1;
		}
		if (c == '?' || strchr(allowed, c) == NULL) {
			if (c != '?')
				fprintf(stderr,
					"vigil: --%s does not apply to vigil "
					"log %s\n",
					longopts[li].name, argv[0]);
			usage(stderr);
			return 2;
		}
		switch (c) {
		case 'k': o->key = optarg; break;
		case 'K': o->key_file = optarg; break;
		case 'A': o->accept_key = optarg; break;
		case 'o': o->origin = optarg; break;
		case 'e': o->entry = optarg; break;
		case 'p': o->proof = optarg; break;
		case 'P': o->proof_out = optarg; break;
		case 'j': o->json = 1; break;
		case 'w':
			if (o->nwitness == MAX_WITNESSES) {
				fprintf(stderr,
					"vigil: more than %d witnesses\n",
					MAX_WITNESSES);
				return 2;
			}
			o->witness[o->nwitness++] = optarg;
			break;
		case 'q':
			if (parse_u64(optarg, "--quorum", &q) != 0)
				return 2;
			o->quorum = q > MAX_WITNESSES ? MAX_WITNESSES + 1
						      : (size_t)q;
			break;
		case 'i':
			if (parse_u64(optarg, "--index", &o->index) != 0)
				return 2;
			o->has_index = 1;
			break;
		case 'f':
			if (parse_u64(optarg, "--from", &o->from) != 0)
				return 2;
			o->has_from = 1;
			break;
		case 'c':
			if (parse_u64(optarg, "--count", &o->count) != 0)
				return 2;
			break;
		case 'I':
			errno = 0;
			o->interval = strtod(optarg, &end);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    !(o->interval >= 0.05 && o->interval <= 86400)) {
				fprintf(stderr,
					"vigil: --interval: not a number of "
					"seconds from 0.05 to 86400: %s\n",
					optarg);
				return 2;
			}
			break;
		}
	}
	return 0;
}

/* Loads the key, the witnesses and the state directory. */
static int
load_policy(struct opts *o)
{
	char *text = NULL;
	size_t len;
	int rc;

	if (o->accept_key != NULL && o->key == NULL && o->key_file == NULL)
		o->key = o->accept_key;
	if ((o->key == NULL) == (o->key_file == NULL)) {
		fprintf(stderr, "vigil: give the log's key: --key VKEY, "
				"--key-file FILE or --accept-key VKEY\n");
		return 2;
	}
	if (o->key_file != NULL) {
		if (read_file(o->key_file, NOTE_KEY_MAX, &text, &len) != 0)
			return 2;
		rc = parse_key(text, len, o->key_file, &o->log_key);
		free(text);
	} else {
		rc = parse_key(o->key, strlen(o->key), "--key", &o->log_key);
	}
	if (rc != 0)
		return rc;
	if (o->log_key.type != NOTE_ED25519) {
		fprintf(stderr, "vigil: the log's key must be an Ed25519 "
				"signer's (type 0x01)\n");
		return 2;
	}
	if (o->accept_key != NULL) {
		struct note_verifier a;
		char k1[NOTE_KEY_MAX], k2[NOTE_KEY_MAX];

		if (parse_key(o->accept_key, strlen(o->accept_key),
			      "--accept-key", &a) != 0)
			return 2;
		note_verifier_format(&a, k1);
		note_verifier_format(&o->log_key, k2);
		if (strcmp(k1, k2) != 0) {
			fprintf(stderr,
				"vigil: --accept-key %s is not the key "
				"given, %s: give only one\n",
				k1, k2);
			return 2;
		}
		o->accept = 1;
	}
	for (size_t i = 0; i < o->nwitness; i++) {
		if (parse_key(o->witness[i], strlen(o->witness[i]), "--witness",
			      &o->witnesses[i]) != 0)
			return 2;
		for (size_t j = 0; j < i; j++)
			if (o->witnesses[j].key_id == o->witnesses[i].key_id &&
			    strcmp(o->witnesses[j].name,
				   o->witnesses[i].name) == 0) {
				fprintf(stderr,
					"vigil: --witness %s is given "
					"twice\n",
					o->witness[i]);
				return 2;
			}
	}
	if (o->quorum > o->nwitness) {
		fprintf(stderr,
			"vigil: --quorum %zu needs at least %zu --witness, "
			"not %zu\n",
			o->quorum, o->quorum, o->nwitness);
		return 2;
	}
	if (o->origin == NULL)
		o->origin = o->log_key.name; /* docs/LOG.md: the key's name */
	if (userconf_dir(o->state_root, sizeof(o->state_root) - 6) != 0) {
		fprintf(stderr, "vigil: set VIGIL_HOME or HOME: the client "
				"keeps the checkpoints it saw there\n");
		return 2;
	}
	strcat(o->state_root, "/logs");
	return 0;
}

static void
config_of(struct opts *o, struct logclient_http *h,
	  struct logclient_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->source = o->url;
	cfg->get = logclient_http_get;
	cfg->get_ud = h;
	cfg->origin = o->origin;
	cfg->log_key = &o->log_key;
	cfg->witnesses = o->witnesses;
	cfg->nwitnesses = o->nwitness;
	cfg->quorum = o->quorum;
	cfg->state_root = o->state_root;
	cfg->accept_key = o->accept ? &o->log_key : NULL;
}

/* Reports a failed operation; returns its exit status. */
static int
report(struct logclient_result *r)
{
	int status = logclient_exit_status(r->status);

	logclient_result_print(r, stderr);
	logclient_result_clear(r);
	return status;
}

/* Makes the client of o->url and verifies the log's checkpoint. */
static int
open_log(struct opts *o, struct logclient_http **h, struct logclient **lc)
{
	struct logclient_config cfg;
	struct logclient_result r = {0};

	if ((*h = logclient_http_new(o->url)) == NULL) {
		fprintf(stderr,
			"vigil: %s: not an http:// or https:// URL (the "
			"log's prefix, such as http://HOST:PORT/log)\n",
			o->url);
		return 2;
	}
	config_of(o, *h, &cfg);
	if (logclient_new(&cfg, lc, &r) != 0 || logclient_update(*lc, &r) != 0)
		return report(&r);
	if (r.notice[0] != '\0')
		fprintf(stderr, "vigil: %s\n", r.notice);
	return 0;
}

static void
close_log(struct logclient_http *h, struct logclient *lc)
{
	logclient_free(lc);
	logclient_http_free(h);
}

/* --- printing entries ----------------------------------------------------- */

static void
row(const char *name, const char *value)
{
	printf("  %-10s %s\n", name, value);
}

static void
row_hash(const char *name, const uint8_t *h)
{
	char hex[2 * TLOG_ENTRY_HASH_LEN + 1];

	for (int i = 0; i < TLOG_ENTRY_HASH_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	row(name, hex);
}

/* Prints e for a human. What tlog_entry_parse() accepts holds no control
 * character but LF and TAB in the body, so it goes to the terminal as it
 * is. */
static void
print_entry(uint64_t index, const char *origin, uint64_t size,
	    const struct tlog_entry *e)
{
	char t[TLOG_ENTRY_TIME_LEN], num[24];
	const char *p, *end, *nl;

	printf("entry %" PRIu64 " of %s (proven at size %" PRIu64 ")\n", index,
	       origin, size);
	row("type", tlog_entry_type_name(e->type));
	if (tlog_entry_time_format(e->time, t) == 0)
		row("time", t);
	switch (e->type) {
	case TLOG_ENTRY_RULE_RELEASE:
		row("version", e->rule_release.version);
		row_hash("sha256", e->rule_release.sha256);
		snprintf(num, sizeof(num), "%" PRIu64, e->rule_release.rules);
		row("rules", num);
		break;
	case TLOG_ENTRY_SOFTWARE_RELEASE:
		row("name", e->software_release.name);
		row("version", e->software_release.version);
		for (size_t i = 0; i < e->software_release.nsha256; i++)
			row_hash(i == 0 ? "sha256" : "",
				 e->software_release.sha256 +
					 i * TLOG_ENTRY_HASH_LEN);
		break;
	case TLOG_ENTRY_SAMPLE_ACCESS:
		row_hash("sample", e->sample_access.sample);
		row("who", e->sample_access.who);
		row("role", e->sample_access.role);
		row("reason", e->sample_access.reason);
		break;
	case TLOG_ENTRY_RETRACTION:
		row_hash("sample", e->retraction.sample);
		row("action", e->retraction.action);
		row("detections", e->retraction.detections);
		row("reason", e->retraction.reason);
		break;
	case TLOG_ENTRY_RETROHUNT:
		row_hash("rule", e->retrohunt.rule);
		row("who", e->retrohunt.who);
		row("role", e->retrohunt.role);
		row("reason", e->retrohunt.reason);
		break;
	case TLOG_ENTRY_OPERATOR_ADD:
	case TLOG_ENTRY_OPERATOR_REVOKE:
		row("name", e->operator_change.name);
		row("by", e->operator_change.by);
		break;
	case TLOG_ENTRY_ERASURE:
		row("reason", e->erasure.reason);
		row("consent", e->erasure.consent);
		snprintf(num, sizeof(num), "%" PRIu64, e->erasure.submissions);
		row("submissions", num);
		snprintf(num, sizeof(num), "%" PRIu64,
			 e->erasure.samples_unlinked);
		row("samples-unlinked", num);
		snprintf(num, sizeof(num), "%" PRIu64,
			 e->erasure.samples_erased);
		row("samples-erased", num);
		break;
	case TLOG_ENTRY_STATS:
		row("region", e->stats.region);
		row("day", e->stats.day);
		row_hash("sha256", e->stats.sha256);
		break;
	case TLOG_ENTRY_RETENTION:
		snprintf(num, sizeof(num), "%" PRIu64,
			 e->retention.sample_days);
		row("sample-days", num);
		snprintf(num, sizeof(num), "%" PRIu64,
			 e->retention.metadata_days);
		row("metadata-days", num);
		snprintf(num, sizeof(num), "%" PRIu64,
			 e->retention.samples_erased);
		row("samples-erased", num);
		snprintf(num, sizeof(num), "%" PRIu64,
			 e->retention.submissions);
		row("submissions", num);
		snprintf(num, sizeof(num), "%" PRIu64,
			 e->retention.samples_unlinked);
		row("samples-unlinked", num);
		break;
	case TLOG_ENTRY_HOLD:
	case TLOG_ENTRY_RELEASE_HOLD:
		row_hash("sample", e->hold.sample);
		row("case", e->hold.case_id);
		if (e->type == TLOG_ENTRY_HOLD)
			row("reason", e->hold.reason);
		row("who", e->hold.who);
		break;
	case TLOG_ENTRY_NODE:
		row("region", e->node.region);
		row("site", e->node.site);
		row("log-key", e->node.log_key);
		row("sample-key", e->node.sample_key);
		row("version", e->node.version);
		break;
	default: break;
	}
	if (e->body_len == 0) {
		row("body", "(none)");
	} else {
		p = e->body;
		end = e->body + e->body_len;
		for (int first = 1; p < end; first = 0) {
			nl = memchr(p, '\n', (size_t)(end - p));
			if (nl == NULL)
				nl = end;
			printf("  %-10s %.*s\n", first ? "body" : "",
			       (int)(nl - p), p);
			p = nl + 1;
		}
	}
	putchar('\n');
}

/* Prints entry index as JSON or for a human; 0, or 2 if it does not
 * parse as an entry (its bytes are proven all the same). */
static int
show_entry(uint64_t index, const char *origin, uint64_t size,
	   const uint8_t *data, size_t len, int json)
{
	struct tlog_entry e = {0};
	char err[256], *s = NULL;

	if (tlog_entry_parse((const char *)data, len, &e, err, sizeof(err)) !=
	    0) {
		fprintf(stderr,
			"vigil: entry %" PRIu64 " of %s is in the log but is "
			"not a vigil.log.entry/v1: %s\n",
			index, origin, err);
		return 2;
	}
	if (json) {
		if (tlog_entry_to_json(&e, &s) != 0 || s[0] != '{') {
			fprintf(stderr, "vigil: entry %" PRIu64 ": no JSON\n",
				index);
			free(s);
			tlog_entry_clear(&e);
			return 2;
		}
		/* One object per line, the index first. */
		printf("{\"index\":%" PRIu64 ",%s\n", index, s + 1);
		free(s);
	} else {
		print_entry(index, origin, size, &e);
	}
	tlog_entry_clear(&e);
	fflush(stdout);
	return 0;
}

/* --- the commands --------------------------------------------------------- */

static int
log_checkpoint(struct opts *o)
{
	const struct checkpoint *c;
	struct logclient_http *h = NULL;
	struct logclient *lc = NULL;
	unsigned char root[45];
	int rc;

	if ((rc = open_log(o, &h, &lc)) == 0) {
		c = logclient_current(lc, NULL, NULL);
		EVP_EncodeBlock(root, c->root.b, MERKLE_HASH_LEN);
		printf("origin %s\nsize %" PRIu64 "\nroot %s\n", c->origin,
		       c->size, root);
	}
	close_log(h, lc);
	return rc;
}

/* verify --proof FILE --entry FILE: no network. */
static int
log_verify_offline(struct opts *o)
{
	struct logclient_config cfg;
	struct logclient_result r = {0};
	char *proof = NULL, *entry = NULL;
	size_t plen, elen;
	uint64_t index, size;
	int rc = 2;

	if (read_file(o->proof, TLOG_PROOF_MAX_SIZE, &proof, &plen) != 0 ||
	    read_file(o->entry, TLOG_ENTRY_MAX, &entry, &elen) != 0)
		goto out;
	config_of(o, NULL, &cfg);
	cfg.source = o->proof;
	if (logclient_verify_proof(&cfg, proof, plen, (uint8_t *)entry, elen,
				   &index, &size, &r) != 0) {
		rc = report(&r);
		goto out;
	}
	if (o->has_index && o->index != index) {
		fprintf(stderr,
			"vigil: %s proves entry %" PRIu64 ", not entry %" PRIu64
			"\n",
			o->proof, index, o->index);
		rc = 1;
		goto out;
	}
	printf("entry %" PRIu64 " is in %s at size %" PRIu64 "\n", index,
	       o->origin, size);
	rc = 0;
out:
	free(proof);
	free(entry);
	return rc;
}

static int
log_verify(struct opts *o)
{
	struct merkle_hash proof[MERKLE_PROOF_MAX], leaf;
	struct logclient_result r = {0};
	const struct checkpoint *c;
	struct logclient_http *h = NULL;
	struct logclient *lc = NULL;
	char *file = NULL, *text = NULL;
	uint8_t *data = NULL;
	size_t flen = 0, len, n, tlen;
	int rc;

	if (o->entry != NULL &&
	    (rc = read_file(o->entry, TLOG_ENTRY_MAX, &file, &flen)) != 0)
		return rc;
	if ((rc = open_log(o, &h, &lc)) != 0)
		goto out;
	c = logclient_current(lc, NULL, NULL);
	if (file != NULL) {
		if (merkle_hash_leaf(file, flen, &leaf) != 0) {
			fprintf(stderr, "vigil: cannot hash %s\n", o->entry);
			rc = 2;
			goto out;
		}
		if (logclient_find(lc, &leaf, &o->index, &r) != 0) {
			rc = report(&r);
			goto out;
		}
	}
	if (logclient_entry(lc, o->index, &data, &len, proof, &n, &r) != 0) {
		rc = report(&r);
		goto out;
	}
	if (file != NULL && (len != flen || memcmp(data, file, len) != 0)) {
		fprintf(stderr,
			"vigil: internal error: entry %" PRIu64
			" is not the file's bytes\n",
			o->index);
		rc = 2;
		goto out;
	}
	if (o->proof_out != NULL) {
		if (logclient_proof_format(lc, o->index, proof, n, &text, &tlen,
					   &r) != 0) {
			rc = report(&r);
			goto out;
		}
		if ((rc = write_file(o->proof_out, text, tlen)) != 0)
			goto out;
	}
	printf("entry %" PRIu64 " is in %s at size %" PRIu64 "\n", o->index,
	       c->origin, c->size);
out:
	free(text);
	free(data);
	free(file);
	close_log(h, lc);
	return rc;
}

static int
log_get(struct opts *o, uint64_t index)
{
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	struct logclient_result r = {0};
	const struct checkpoint *c;
	struct logclient_http *h = NULL;
	struct logclient *lc = NULL;
	uint8_t *data = NULL;
	size_t len, n;
	int rc;

	if ((rc = open_log(o, &h, &lc)) != 0)
		goto out;
	c = logclient_current(lc, NULL, NULL);
	if (logclient_entry(lc, index, &data, &len, proof, &n, &r) != 0)
		rc = report(&r);
	else
		rc = show_entry(index, c->origin, c->size, data, len, o->json);
out:
	free(data);
	close_log(h, lc);
	return rc;
}

static void
sleep_seconds(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
log_tail(struct opts *o)
{
	struct merkle_hash proof[MERKLE_PROOF_MAX];
	struct logclient_result r = {0};
	const struct checkpoint *c;
	struct logclient_http *h = NULL;
	struct logclient *lc = NULL;
	uint64_t next, printed = 0;
	uint8_t *data;
	size_t len, n;
	int rc;

	if ((rc = open_log(o, &h, &lc)) != 0)
		goto out;
	c = logclient_current(lc, NULL, NULL);
	next = o->has_from ? o->from : c->size;
	for (;;) {
		c = logclient_current(lc, NULL, NULL);
		while (next < c->size &&
		       (o->count == 0 || printed < o->count)) {
			if (logclient_entry(lc, next, &data, &len, proof, &n,
					    &r) != 0) {
				rc = report(&r);
				goto out;
			}
			/* An entry that is not v1 is said on stderr; the
			 * log goes on. */
			(void)show_entry(next, c->origin, c->size, data, len,
					 o->json);
			free(data);
			next++;
			printed++;
		}
		if (o->count != 0 && printed >= o->count)
			break;
		sleep_seconds(o->interval);
		if (logclient_update(lc, &r) != 0) {
			if (r.status != LOGCLIENT_ERROR) {
				rc = report(&r);
				goto out;
			}
			/* The network comes and goes; a tail goes on. */
			fprintf(stderr, "vigil: %s (retrying)\n", r.msg);
			logclient_result_clear(&r);
		} else if (r.notice[0] != '\0') {
			fprintf(stderr, "vigil: %s\n", r.notice);
		}
	}
out:
	close_log(h, lc);
	return rc;
}

int
cmd_log(int argc, char **argv)
{
	static const struct {
		const char *name, *allowed;
	} cmds[] = {
		{"checkpoint", "kKAwqo"},
		{"verify", "kKAwqoiepP"},
		{"get", "kKAwqoj"},
		{"tail", "kKAwqojfIc"},
	};
	const char *cmd;
	struct opts o;
	uint64_t index;
	size_t i;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmd, cmds[i].name) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0])) {
		fprintf(stderr, "vigil: unknown log command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	rc = parse_opts(argc - 1, argv + 1, cmds[i].allowed, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	argc -= optind + 1;
	argv += optind + 1;
	if ((rc = load_policy(&o)) != 0)
		return rc;

	if (strcmp(cmd, "verify") == 0 && o.proof != NULL) {
		if (argc != 0 || o.entry == NULL || o.proof_out != NULL) {
			fprintf(stderr, "vigil: verify --proof FILE takes "
					"--entry FILE and no URL\n");
			return 2;
		}
		return log_verify_offline(&o);
	}
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	o.url = argv[0];
	if (strcmp(cmd, "checkpoint") == 0 && argc == 1)
		return log_checkpoint(&o);
	if (strcmp(cmd, "verify") == 0 && argc == 1) {
		if ((o.entry != NULL) == (o.has_index != 0)) {
			fprintf(stderr, "vigil: verify URL takes --index N or "
					"--entry FILE\n");
			return 2;
		}
		return log_verify(&o);
	}
	if (strcmp(cmd, "get") == 0 && argc == 2) {
		if (parse_u64(argv[1], "entry index", &index) != 0)
			return 2;
		return log_get(&o, index);
	}
	if (strcmp(cmd, "tail") == 0 && argc == 1)
		return log_tail(&o);
	usage(stderr);
	return 2;
}
