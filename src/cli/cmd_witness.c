/*
 * cmd_witness.c - `vigil witness`: runs a C2SP tlog-witness that cosigns
 * the checkpoints of the logs it is given (src/tlog/witness.h holds the
 * protocol; this file only serves it over HTTP; docs/LOG.md, "Witnesses").
 *
 *   vigil witness --listen ADDR:PORT --state DIR --key FILE [--name NAME]
 *                 --log VKEY [--log VKEY ...]
 *
 * FILE is the witness's cosigner key (a signed-note signer key of type
 * 0x04), created mode 0600 on first use under the name NAME, which is
 * required then. VKEY is a log's verifier key, whose name is the log's
 * origin. It prints its own verifier key and where it listens, then
 * serves POST /add-checkpoint on one h2o event loop (other paths 404,
 * other methods 405, bodies over WITNESS_REQUEST_MAX 413) with one
 * key=value line on stderr per request, until SIGTERM or SIGINT, which
 * let the requests in flight finish and exit 0.
 *
 * Exit status: 0 stopped by a signal, 2 a usage or start-up error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <h2o.h>
#include <netdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "common/net.h"
#include "common/secretfile.h"
#include "common/xmalloc.h"
#include "tlog/keyfile.h"
#include "tlog/note.h"
#include "tlog/witness.h"

#define WITNESS_DRAIN_SECONDS 5
#define WITNESS_MAX_LOGS      1024
#define WITNESS_TIMEOUT_MS    10000

static volatile sig_atomic_t stop_signal;
static struct witness *the_witness;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: vigil witness --listen ADDR:PORT --state DIR --key FILE"
		" [--name NAME]\n"
		"                     --log VKEY [--log VKEY ...]\n"
		"\n"
		"Runs a C2SP tlog-witness: POST /add-checkpoint cosigns a\n"
		"checkpoint of a known log if it is consistent with the last\n"
		"one cosigned for that log.\n"
		"  --listen ADDR:PORT  where to listen (port 0: any)\n"
		"  --state DIR         the size and root cosigned last\n"
		"  --key FILE          the witness's cosigner key, created\n"
		"                      (mode 0600) if missing\n"
		"  --name NAME         the witness's name, to create FILE\n"
		"  --log VKEY          a log's verifier key; its name is the\n"
		"                      log's origin\n");
}

/* Loads the cosigner key from path, creating it (named name) if missing. */
/* Loads the witness's cosigner key from path, creating it (named name)
 * if it is missing and name is given. */
static int
load_key(const char *path, const char *name, struct note_signer **out)
{
	struct note_verifier v;
	char err[512];
	bool created;
	int rc;

	rc = note_signer_file(path, name, NOTE_COSIGNATURE, out, &created, err,
			      sizeof(err));
	if (rc == VG_ENOENT && name == NULL) {
		fprintf(stderr,
			"vigil: %s does not exist; --name NAME creates "
			"it\n",
			path);
		return VG_EINVAL;
	}
	if (rc != 0) {
		fprintf(stderr, "vigil: %s\n", err);
		return rc;
	}
	if (created) {
		log_event(LOG_INFO, "key_created", "file=%s",
			  log_value(path, err, sizeof(err)));
		return 0;
	}
	note_signer_verifier(*out, &v);
	if (name != NULL && strcmp(name, v.name) != 0) {
		fprintf(stderr,
			"vigil: %s is the key of %s, not of --name %s\n", path,
			v.name, name);
		note_signer_free(*out);
		*out = NULL;
		return VG_EINVAL;
	}
	return 0;
}

/* Binds and listens on ADDR:PORT ("[v6]:port" for IPv6); returns the
 * socket and the address bound in bound, or -1 after explaining. */
static int
listen_on(const char *addr, char *bound, size_t boundlen)
{
	char host[256], err[512];
	uint16_t port;
	int fd;

	if (net_parse_hostport(addr, host, sizeof(host), &port) != 0) {
		fprintf(stderr, "vigil: --listen takes ADDR:PORT\n");
		return -1;
	}
	if ((fd = net_listen(host, port, bound, boundlen, err, sizeof(err))) <
	    0)
		fprintf(stderr, "vigil: --listen %s: %s\n", addr, err);
	return fd;
}

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 422: return "Unprocessable Entity";
	default: return "Internal Server Error";
	}
}

static void
reply(h2o_req_t *req, int status, const char *ctype, const char *body,
      size_t len)
{
	req->res.status = status;
	req->res.reason = reason_phrase(status);
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
		       NULL, ctype, strlen(ctype));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL,
		       NULL, H2O_STRLIT("no-store"));
	/* Without a length, h2o ends every answer but a 200 by closing the
	 * connection; clients SHOULD keep theirs alive. */
	req->res.content_length = len;
	h2o_send_inline(req, body, len);
}

/* The client's address, for the log line. */
static void
peer_name(h2o_req_t *req, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char ip[INET6_ADDRSTRLEN] = "?";

	sl = req->conn->callbacks->get_peername(req->conn,
						(struct sockaddr *)&ss);
	if (sl > 0 && ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
			  ip, sizeof(ip));
	else if (sl > 0 && ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip,
			  sizeof(ip));
	snprintf(buf, len, "%s", ip);
}

static int
on_req(h2o_handler_t *self, h2o_req_t *req)
{
	const char *ctype, *body = req->entity.base;
	size_t len = body != NULL ? req->entity.len : 0, rlen;
	char peer[INET6_ADDRSTRLEN], why[600], *rbody;
	enum log_level level;
	int status, rc;

	(void)self;
	if (!h2o_memis(req->path_normalized.base, req->path_normalized.len,
		       H2O_STRLIT("/add-checkpoint"))) {
		reply(req, 404, WITNESS_TEXT_TYPE, H2O_STRLIT("not found\n"));
		return 0;
	}
	if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW,
			       NULL, H2O_STRLIT("POST"));
		reply(req, 405, WITNESS_TEXT_TYPE,
		      H2O_STRLIT("add-checkpoint takes POST\n"));
		return 0;
	}
	rc = witness_add_checkpoint(the_witness, body ? body : "", len,
				    (uint64_t)time(NULL), &status, &rbody,
				    &rlen, &ctype);
	peer_name(req, peer, sizeof(peer));
	/* A proof that does not verify, or a second root at one size, is
	 * evidence that the log misbehaves (or a broken client). */
	level = rc != 0 ? LOG_ERROR
		: status == 422 || (status == 409 &&
				    strcmp(ctype, WITNESS_SIZE_TYPE) != 0)
			? LOG_WARN
			: LOG_INFO;
	if (status == 200) {
		log_event(level, "add_checkpoint",
			  "peer=%s status=200 bytes=%zu", peer, len);
	} else {
		/* The body is one line: its reason, or the size for a 409. */
		char line[512];

		snprintf(line, sizeof(line), "%.*s",
			 (int)(rlen > 0 && rbody[rlen - 1] == '\n' ? rlen - 1
								   : rlen),
			 rbody);
		log_event(level, "add_checkpoint",
			  "peer=%s status=%d bytes=%zu reason=%s%s%s", peer,
			  status, len, log_value(line, why, sizeof(why)),
			  rc != 0 ? " err=" : "",
			  rc != 0 ? vg_strerror(rc) : "");
	}
	reply(req, status, ctype, rbody, rlen);
	free(rbody);
	return 0;
}

static void
on_accept(h2o_socket_t *listener, const char *status)
{
	h2o_accept_ctx_t *actx = listener->data;
	h2o_socket_t *sock;

	if (status != NULL)
		return;
	if ((sock = h2o_evloop_socket_accept(listener)) == NULL)
		return;
	h2o_accept(actx, sock);
}

/* Serves on the listening socket lfd until a signal, then drains. */
static void
serve(int lfd)
{
	static h2o_globalconf_t gconf;
	h2o_context_t ctx;
	h2o_accept_ctx_t actx;
	h2o_hostconf_t *host;
	h2o_pathconf_t *pc;
	h2o_handler_t *h;
	h2o_socket_t *lsock;

	h2o_config_init(&gconf);
	gconf.max_request_entity_size = WITNESS_REQUEST_MAX;
	gconf.http1.req_timeout = WITNESS_TIMEOUT_MS;
	host = h2o_config_register_host(
		&gconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	pc = h2o_config_register_path(host, "/", 0);
	h = h2o_create_handler(pc, sizeof(*h));
	h->on_req = on_req;

	h2o_context_init(&ctx, h2o_evloop_create(), &gconf);
	memset(&actx, 0, sizeof(actx));
	actx.ctx = &ctx;
	actx.hosts = gconf.hosts;
	lsock = h2o_evloop_socket_create(ctx.loop, lfd,
					 H2O_SOCKET_FLAG_DONT_READ);
	lsock->data = &actx;
	h2o_socket_read_start(lsock, on_accept);
	while (!stop_signal)
		h2o_evloop_run(ctx.loop, 100);
	log_event(LOG_INFO, "draining", "signal=%d", (int)stop_signal);
	h2o_socket_read_stop(lsock);
	h2o_socket_close(lsock);
	h2o_context_request_shutdown(&ctx);
	for (time_t t0 = time(NULL); time(NULL) - t0 < WITNESS_DRAIN_SECONDS;) {
		if (h2o_linklist_is_empty(&ctx.http1._conns) &&
		    h2o_linklist_is_empty(&ctx.http2._conns))
			break;
		h2o_evloop_run(ctx.loop, 100);
	}
	/* One more turn, so that h2o closes what it was told to. */
	h2o_evloop_run(ctx.loop, 0);
}

int
cmd_witness(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"state", required_argument, NULL, 's'},
		{"key", required_argument, NULL, 'k'},
		{"name", required_argument, NULL, 'n'},
		{"log", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *listen = NULL, *state = NULL, *keyfile = NULL;
	const char *name = NULL;
	struct note_verifier *logs = NULL, wkey;
	struct note_signer *signer = NULL;
	char err[1024], vkey[NOTE_KEY_MAX], bound[128], v1[600], v2[600];
	size_t nlogs = 0;
	struct sigaction sa;
	int c, lfd, rc = 2;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 's': state = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'n': name = optarg; break;
		case 'L':
			if (nlogs == WITNESS_MAX_LOGS) {
				fprintf(stderr, "vigil: more than %d --log\n",
					WITNESS_MAX_LOGS);
				goto out;
			}
			logs = xreallocarray(logs, nlogs + 1, sizeof(*logs));
			if (note_verifier_parse(optarg, strlen(optarg),
						&logs[nlogs], err,
						sizeof(err)) != 0) {
				fprintf(stderr, "vigil: --log %s: %s\n", optarg,
					err);
				goto out;
			}
			if (logs[nlogs].type != NOTE_ED25519) {
				fprintf(stderr,
					"vigil: --log %s: not a log key (type "
					"0x01)\n",
					optarg);
				goto out;
			}
			nlogs++;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default: usage(stderr); goto out;
		}
	}
	if (listen == NULL || state == NULL || keyfile == NULL || nlogs == 0 ||
	    optind != argc) {
		usage(stderr);
		goto out;
	}
	if (sodium_init() < 0)
		fatal("libsodium failed to initialise");
	if (load_key(keyfile, name, &signer) != 0)
		goto out;
	if (witness_open(state, signer, logs, nlogs, &the_witness, err,
			 sizeof(err)) != 0) {
		fprintf(stderr, "vigil: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < nlogs; i++) {
		uint64_t size;

		if (witness_latest(the_witness, logs[i].name, &size, NULL, err,
				   sizeof(err)) == 0)
			log_event(LOG_INFO, "log", "origin=%s size=%llu",
				  log_value(logs[i].name, v1, sizeof(v1)),
				  (unsigned long long)size);
		else
			log_event(LOG_ERROR, "log_refused",
				  "origin=%s reason=%s",
				  log_value(logs[i].name, v1, sizeof(v1)),
				  log_value(err, v2, sizeof(v2)));
	}
	if ((lfd = listen_on(listen, bound, sizeof(bound))) < 0)
		goto out;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	note_signer_verifier(signer, &wkey);
	note_verifier_format(&wkey, vkey);
	log_event(LOG_INFO, "listening", "addr=%s name=%s logs=%zu state=%s",
		  bound, log_value(wkey.name, v1, sizeof(v1)), nlogs,
		  log_value(state, v2, sizeof(v2)));
	printf("witness key: %s\n", vkey);
	printf("vigil witness listening on http://%s\n", bound);
	fflush(stdout);
	serve(lfd);
	log_event(LOG_INFO, "stopped", "signal=%d", (int)stop_signal);
	rc = 0;
out:
	witness_close(the_witness);
	the_witness = NULL;
	note_signer_free(signer);
	free(logs);
	return rc;
}
