/*
 * keyproto.c - sending and receiving the key holder's messages; see
 * keyproto.h.
 */
#include "node/keyproto.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/err.h"

int
kh_send(int fd, uint32_t type, int32_t code, const void *body, size_t len)
{
	struct kh_hdr h = {.type = type, .code = code};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)body, len}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	ssize_t n;

	if (len > KH_SIGN_MAX)
		return VG_EIO;
	do
		n = sendmsg(fd, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)(sizeof(h) + len) ? 0 : VG_EIO;
}

int
kh_recv(int fd, uint8_t *buf, size_t cap, struct kh_hdr *h, size_t *len)
{
	ssize_t n;

	do
		n = recv(fd, buf, cap, 0);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return VG_ENOENT;
	if (n < 0)
		return VG_EIO;
	/* A packet longer than cap is cut to cap: anything above
	 * KH_MSG_MAX is refused whole. */
	if ((size_t)n < sizeof(*h) || (size_t)n > KH_MSG_MAX)
		return VG_EFORMAT;
	memcpy(h, buf, sizeof(*h));
	*len = (size_t)n - sizeof(*h);
	return 0;
}
