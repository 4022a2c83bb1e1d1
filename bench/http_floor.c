/*
 * http_floor.c - the least work an epoll HTTP/1.1 server can do per
 * keep-alive request on this machine, as a floor for bench/node.sh's
 * `GET /v1/files` comparison.
 *
 *   build/http_floor PORT RESPONSE [THREADS]
 *
 * It listens on 127.0.0.1:PORT with THREADS threads (2 by default), each
 * with its own SO_REUSEPORT listener and level-triggered epoll, and
 * answers every request with the bytes of the file RESPONSE (a whole HTTP
 * response, status line, headers and body, as vigild sends it). It does
 * not parse requests: it counts the "\r\n\r\n" that end them (wrk sends
 * no bodies) and writes that many responses in one write(). No routing,
 * no authentication, no allocation, no Date header to format: one read()
 * and one write() per request, which is what nginx and vigild (h2o) do
 * too. What it measures is the kernel's share, loopback TCP and the
 * wake-ups, that no server built on read/write and epoll can avoid.
 *
 * It runs until killed. Not a server for anything but this measurement.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FD      65536
#define MAX_THREADS 64
#define RESP_MAX    65536
#define COPIES      64 /* responses one write() can carry */

/* One connection: the bytes of responses still owed, and how much of a
 * "\r\n\r\n" the last read ended in. */
struct conn {
	size_t owed;
	unsigned char crlf;
};

static struct conn conns[MAX_FD];
static char *resp; /* COPIES responses back to back */
static size_t resp_len;
static int port;

static void
die(const char *what)
{
	fprintf(stderr, "http_floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Counts the requests that end in p[0..n), carrying a partial "\r\n\r\n"
 * across reads in *state (0..3: how much of it has been seen). */
static size_t
count_requests(const char *p, size_t n, unsigned char *state)
{
	unsigned s = *state;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r')
			s = s == 2 ? 3 : 1;
		else if (p[i] == '\n' && s == 3) {
			k++;
			s = 0;
		} else if (p[i] == '\n')
			s = s == 1 ? 2 : 0;
		else
			s = 0;
	}
	*state = (unsigned char)s;
	return k;
}

/* Writes what fd is owed; 0 when done or the socket is full, -1 when the
 * connection is gone. */
static int
flush(int fd)
{
	struct conn *c = &conns[fd];

	while (c->owed > 0) {
		size_t at = (resp_len - c->owed % resp_len) % resp_len;
		size_t len = COPIES * resp_len - at;
		ssize_t w;

		if (len > c->owed)
			len = c->owed;
		if ((w = write(fd, resp + at, len)) < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		c->owed -= (size_t)w;
	}
	return 0;
}

static void
drop(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	conns[fd] = (struct conn){0};
}

static void
watch(int ep, int op, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};

	if (epoll_ctl(ep, op, fd, &ev) != 0)
		die("epoll_ctl");
}

static void
take(int ep, int lfd)
{
	int one = 1, fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
	       0) {
		if (fd >= MAX_FD) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		conns[fd] = (struct conn){0};
		watch(ep, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP);
	}
}

static void
serve(int ep, int fd, uint32_t events)
{
	struct conn *c = &conns[fd];
	char buf[16384];
	ssize_t r;

	if (events & EPOLLOUT) {
		/* A full socket drained: back to reading once all is out. */
		if (flush(fd) != 0)
			drop(ep, fd);
		else if (c->owed == 0)
			watch(ep, EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLRDHUP);
		return;
	}
	if ((r = read(fd, buf, sizeof(buf))) <= 0) {
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			drop(ep, fd);
		return;
	}
	c->owed += count_requests(buf, (size_t)r, &c->crlf) * resp_len;
	if (flush(fd) != 0)
		drop(ep, fd);
	else if (c->owed > 0)
		watch(ep, EPOLL_CTL_MOD, fd, EPOLLOUT);
}

static void *
loop(void *arg)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct epoll_event evs[256];
	int one = 1, lfd, ep;

	(void)arg;
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			  0)) < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 4096) != 0)
		die("listen");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	watch(ep, EPOLL_CTL_ADD, lfd, EPOLLIN);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				take(ep, lfd);
			else
				serve(ep, evs[i].data.fd, evs[i].events);
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t[MAX_THREADS];
	int threads = argc > 3 ? atoi(argv[3]) : 2, fd;
	struct stat st;

	if (argc < 3 || argc > 4 || (port = atoi(argv[1])) <= 0 ||
	    port > 65535 || threads < 1 || threads > MAX_THREADS) {
		fprintf(stderr, "usage: http_floor PORT RESPONSE [THREADS]\n");
		return 2;
	}
	if ((fd = open(argv[2], O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) != 0)
		die(argv[2]);
	if (st.st_size <= 0 || st.st_size > RESP_MAX) {
		fprintf(stderr, "http_floor: %s: not 1..%d bytes\n", argv[2],
			RESP_MAX);
		return 2;
	}
	resp_len = (size_t)st.st_size;
	if ((resp = malloc(COPIES * resp_len)) == NULL)
		die("malloc");
	if (read(fd, resp, resp_len) != (ssize_t)resp_len)
		die(argv[2]);
	close(fd);
	for (size_t i = 1; i < COPIES; i++)
		memcpy(resp + i * resp_len, resp, resp_len);
	for (int i = 0; i < threads; i++)
		if ((errno = pthread_create(&t[i], NULL, loop, NULL)) != 0)
			die("pthread_create");
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	return 0;
}
