/*
 * net.c - see net.h.
 */
#include "common/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"

int
net_parse_hostport(const char *addr, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon = strrchr(addr, ':'), *h = addr;
	size_t hl, pl;
	unsigned long p = 0;

	if (colon == NULL)
		return VG_EINVAL;
	pl = strlen(colon + 1);
	if (pl == 0 || pl > 5 || strspn(colon + 1, "0123456789") != pl)
		return VG_EINVAL;
	for (size_t i = 0; i < pl; i++)
		p = p * 10 + (unsigned long)(colon[1 + i] - '0');
	if (p > 65535)
		return VG_EINVAL;
	hl = (size_t)(colon - addr);
	if (hl > 0 && h[0] == '[') {
		if (hl < 3 || h[hl - 1] != ']')
			return VG_EINVAL;
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= hostlen)
		return VG_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}

int
net_listen(const char *host, uint16_t port, char *bound, size_t boundlen,
	   char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ps[8], ip[INET6_ADDRSTRLEN];
	int fd, one = 1, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(ps, sizeof(ps), "%u", port);
	if ((rc = getaddrinfo(host, ps, &hints, &ai)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, SOMAXCONN) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		snprintf(err, errlen, "%s:%s: %s", host, ps, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(bound, boundlen, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(bound, boundlen, "%s:%u", ip, ntohs(s4->sin_port));
	}
	return fd;
}
