/*
 * fuzz_edge.c - libFuzzer target: vigild's HTTP/1.1 edge (src/node/edge.c)
 * on a real h2o event loop, over a real socket pair. The input is every
 * byte a caller sends on one connection, after which it stops sending.
 *
 * Whatever the bytes, the edge must: close the connection in bounded
 * time; answer only with whole "HTTP/1.1 NNN " status lines; hand the
 * handler only a body within the limit the admission hook gave, and only
 * with a valid token when the route needs one and the body may pass
 * EDGE_PREAUTH_BODY; and give back every byte of the body budget.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>

#include "node/edge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SMALL_LIMIT 1024
#define BIG_LIMIT   (256 * 1024)

static h2o_globalconf_t gconf;
static h2o_context_t ctx;
static struct edge *edge;

/* Routes: /big... takes BIG_LIMIT, others SMALL_LIMIT; /t... needs a
 * token, which is "Bearer good". */
static void
admit(void *ud, const struct edge_head *h, struct edge_admission *a)
{
	(void)ud;
	a->body_limit = h->path_len >= 4 && memcmp(h->path, "/big", 4) == 0
				? BIG_LIMIT
				: SMALL_LIMIT;
	a->needs_token = h->path_len >= 2 && memcmp(h->path, "/t", 2) == 0;
}

static int
token_ok(void *ud, const char *v, size_t len)
{
	(void)ud;
	return len == 11 && memcmp(v, "Bearer good", 11) == 0;
}

static int
on_req(h2o_handler_t *self, h2o_req_t *req)
{
	const char *p = req->path.base;
	size_t n = req->path.len;
	size_t limit = n >= 4 && memcmp(p, "/big", 4) == 0 ? BIG_LIMIT
							    : SMALL_LIMIT;
	static const char ok[] = "ok\n";

	(void)self;
	if (req->entity.base != NULL && req->entity.len > limit)
		abort(); /* the edge let a body past its limit */
	req->res.status = 200;
	h2o_send_inline(req, ok, sizeof(ok) - 1);
	return 0;
}

static void
setup(void)
{
	h2o_hostconf_t *host;
	h2o_pathconf_t *pc;
	h2o_handler_t *h;
	struct edge_config cfg = {
		.body_budget = 4 * BIG_LIMIT,
		.timeout_ms = 50,
		.hooks = {admit, token_ok, NULL},
	};

	signal(SIGPIPE, SIG_IGN);
	h2o_config_init(&gconf);
	host = h2o_config_register_host(
		&gconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	pc = h2o_config_register_path(host, "/", 0);
	h = h2o_create_handler(pc, sizeof(*h));
	h->on_req = on_req;
	h2o_context_init(&ctx, h2o_evloop_create(), &gconf);
	edge = edge_new(&ctx, gconf.hosts, &cfg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static char out[1 << 20];
	size_t got = 0, sent = 0;
	int sv[2];
	h2o_socket_t *sock;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size > 512 * 1024)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) != 0)
		abort();
	sock = h2o_evloop_socket_create(ctx.loop, sv[0], 0);
	edge_accept(edge, sock);
	/* The caller sends everything it has, then stops; the loop runs
	 * until the edge has closed the connection. */
	for (int turn = 0; edge_conns(edge) != 0; turn++) {
		ssize_t k;

		if (turn > 20000)
			abort(); /* a connection the edge never ends */
		if (sent < size) {
			k = write(sv[1], data + sent, size - sent);
			if (k > 0)
				sent += (size_t)k;
			else if (k < 0 && errno != EAGAIN)
				sent = size; /* the edge closed it */
			if (sent == size)
				shutdown(sv[1], SHUT_WR);
		}
		h2o_evloop_run(ctx.loop, 1);
		while ((k = read(sv[1], out + got, sizeof(out) - got)) > 0) {
			got += (size_t)k;
			if (got == sizeof(out))
				got = 0; /* only the first bytes are checked */
		}
	}
	close(sv[1]);
	if (got >= 9 && memcmp(out, "HTTP/1.1 ", 9) != 0)
		abort();
	if (edge_body_bytes() != 0)
		abort(); /* a body's budget not given back */
	return 0;
}
