/*
 * fuzz_worker_msg.c - libFuzzer target: the node's reading of what an
 * analysis worker sends back for a job (src/node/worker_answer.c over
 * worker.c's framing and report_check.c), over a real SOCK_SEQPACKET
 * socket pair as the node has with its workers.
 *
 * The input is a list of records the worker side sends, each
 *	flags (1 byte: bit 0 attaches an fd with SCM_RIGHTS),
 *	length (2 bytes, little-endian), then that many bytes (fewer at the
 *	end of the input),
 * after which the worker's end is closed. The node asks for job 1 about
 * the sample FUZZ_SHA256. Whatever arrives, the read returns; an answer
 * it takes is a checked report about that sample (one verdict per
 * object) or an engine error; and no fd the worker attached stays open.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "node/worker_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* SHA-256 of the EICAR test file, the sample of the seeds. */
#define FUZZ_SHA256                                                            \
	"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
#define FUZZ_JOB 1

/* Sends one record, with fd attached unless it is -1; 0 or -1. */
static int
send_one(int sock, const uint8_t *p, size_t n, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {(void *)p, n};
	struct msghdr m;

	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		u.h.cmsg_level = SOL_SOCKET;
		u.h.cmsg_type = SCM_RIGHTS;
		u.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&u.h), &fd, sizeof(int));
	}
	/* Never blocks: what does not fit the socket's buffer is dropped,
	 * as if the worker had died there. */
	return sendmsg(sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* The lowest free descriptor number. */
static int
lowest_free_fd(void)
{
	int fd = dup(2);

	if (fd >= 0)
		close(fd);
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int devnull = -1;
	struct worker_answer a;
	int sv[2], before, sndbuf = 4 * 1024 * 1024, rc;
	size_t i = 0;

	if (devnull < 0 &&
	    (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		abort();
	before = lowest_free_fd();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	while (i + 3 <= size) {
		uint8_t flags = data[i];
		size_t n = (size_t)data[i + 1] | (size_t)data[i + 2] << 8;

		i += 3;
		if (n > size - i)
			n = size - i;
		if (send_one(sv[1], data + i, n, flags & 1 ? devnull : -1) != 0)
			break;
		i += n;
	}
	close(sv[1]);

	rc = worker_answer_read(sv[0], FUZZ_JOB, FUZZ_SHA256, &a);
	if (rc == 0) {
		switch (a.kind) {
		case WORKER_ANSWER_REPORT: {
			json_t *objs = json_object_get(a.report, "objects");
			const char *sha = json_string_value(json_object_get(
				json_array_get(objs, 0), "sha256"));

			if (a.n == 0 || a.n != json_array_size(objs) ||
			    a.cv == NULL || sha == NULL ||
			    strcmp(sha, FUZZ_SHA256) != 0)
				abort();
			break;
		}
		case WORKER_ANSWER_ERROR:
			if (memchr(a.reason, '\0', sizeof(a.reason)) == NULL)
				abort();
			break;
		case WORKER_ANSWER_MALFORMED:
			if (a.report != NULL || a.cv != NULL)
				abort();
			break;
		default: abort();
		}
	} else if (a.report != NULL || a.cv != NULL) {
		abort(); /* a lost worker leaves nothing behind */
	}
	worker_answer_clear(&a);
	close(sv[0]);
	if (lowest_free_fd() != before)
		abort(); /* an fd the worker attached was kept */
	return 0;
}
