/*
 * test_log.c - structured log lines (src/common/log.c): lines go out one
 * write each by default; a thread that holds its lines writes them at
 * log_flush(), in order, in writes of whole lines of at most 4096 bytes,
 * and a warning or an error goes out at once after what was held.
 *
 * stderr is pointed at a SOCK_SEQPACKET socket, which keeps the boundary
 * of every write(): each message received is one write of the logger.
 * (So cmocka's own messages about a failed check go there too; its
 * summary on stdout still names the test.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"

static int saved_stderr = -1, peer = -1;

/* stderr to one end of a SEQPACKET pair; the test reads the other. */
static int
setup(void **state)
{
	int sv[2], big = 4 << 20;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	/* Room for every line of a test without a reader. */
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	fflush(stderr);
	saved_stderr = dup(2);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(sv[0], 2), 2);
	close(sv[0]);
	peer = sv[1];
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	log_hold(0);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	close(peer);
	return 0;
}

/* The next write of the logger, NUL-terminated in buf; its length, or
 * -1 if none is waiting. */
static ssize_t
next_write(char *buf, size_t cap)
{
	ssize_t n = recv(peer, buf, cap - 1, MSG_DONTWAIT);

	if (n >= 0)
		buf[n] = '\0';
	return n;
}

static void
expect_no_write(void)
{
	char buf[64];

	assert_int_equal(next_write(buf, sizeof(buf)), -1);
}

/* The event of the one line in buf ("... event=NAME ..."). */
static void
assert_line(const char *buf, const char *event, const char *pair)
{
	char want[128];

	snprintf(want, sizeof(want), " event=%s", event);
	assert_non_null(strstr(buf, want));
	if (pair != NULL)
		assert_non_null(strstr(buf, pair));
	assert_true(strncmp(buf, "ts=", 3) == 0);
	assert_int_equal(buf[strlen(buf) - 1], '\n');
	assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
}

static void
one_write_per_line_by_default(void **state)
{
	char buf[4096];

	(void)state;
	log_event(LOG_INFO, "first", "k=%d", 1);
	assert_true(next_write(buf, sizeof(buf)) > 0);
	assert_line(buf, "first", " k=1");
	assert_non_null(strstr(buf, " level=info func="));
	log_event(LOG_DEBUG, "dropped", "k=%d", 2); /* below the level */
	expect_no_write();
	log_event(LOG_INFO, "second", NULL);
	assert_true(next_write(buf, sizeof(buf)) > 0);
	assert_line(buf, "second", NULL);
}

static void
held_lines_wait_for_flush(void **state)
{
	char buf[8192];
	ssize_t n;

	(void)state;
	log_hold(1);
	log_event(LOG_INFO, "a", "n=%d", 1);
	log_event(LOG_INFO, "b", "n=%d", 2);
	log_event(LOG_DEBUG, "dropped", NULL);
	expect_no_write();
	log_flush();
	n = next_write(buf, sizeof(buf));
	assert_true(n > 0);
	/* Both lines, in order, in one write. */
	assert_non_null(strstr(buf, " event=a n=1\n"));
	assert_true(strstr(buf, " event=a n=1\n") <
		    strstr(buf, " event=b n=2\n"));
	assert_int_equal(buf[n - 1], '\n');
	expect_no_write();
	log_flush(); /* nothing held: nothing written */
	expect_no_write();
}

static void
warning_goes_out_at_once_after_the_held(void **state)
{
	char buf[8192];

	(void)state;
	log_hold(1);
	log_event(LOG_INFO, "before", NULL);
	log_event(LOG_WARN, "trouble", "why=%s", "disk");
	assert_true(next_write(buf, sizeof(buf)) > 0);
	assert_line(buf, "before", NULL);
	assert_true(next_write(buf, sizeof(buf)) > 0);
	assert_line(buf, "trouble", " why=disk");
	assert_non_null(strstr(buf, " level=warn "));
	log_event(LOG_ERROR, "worse", NULL);
	assert_true(next_write(buf, sizeof(buf)) > 0);
	assert_line(buf, "worse", NULL);
	expect_no_write();
	/* Stopping to hold writes what is held. */
	log_event(LOG_INFO, "last", NULL);
	expect_no_write();
	log_hold(0);
	assert_true(next_write(buf, sizeof(buf)) > 0);
	assert_line(buf, "last", NULL);
	log_event(LOG_INFO, "unheld", NULL);
	assert_true(next_write(buf, sizeof(buf)) > 0);
	assert_line(buf, "unheld", NULL);
}

/* Reads every waiting write; checks each is whole lines of at most 4096
 * bytes, and that the lines are "event=seq i=K" for K = *next, *next+1,
 * ... Returns how many writes there were. */
static int
drain_sequence(int *next)
{
	char buf[65536];
	ssize_t n;
	int writes = 0;

	while ((n = next_write(buf, sizeof(buf))) >= 0) {
		writes++;
		assert_true(n > 0 && n <= 4096);
		assert_int_equal(buf[n - 1], '\n');
		for (char *line = buf, *end; *line; line = end + 1) {
			char want[64];

			end = strchr(line, '\n');
			assert_non_null(end);
			*end = '\0';
			snprintf(want, sizeof(want), " event=seq i=%d", *next);
			assert_non_null(strstr(line, want));
			assert_true(strncmp(line, "ts=", 3) == 0);
			(*next)++;
		}
	}
	return writes;
}

static void
full_buffer_flushes_whole_lines(void **state)
{
	char pad[1500];
	int next = 0, writes;

	(void)state;
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	log_hold(1);
	/* 40 lines of about 1.6 KiB: the 16 KiB buffer fills more than
	 * once, and chunks of at most 4096 bytes cannot end on a line's
	 * end by chance. */
	for (int i = 0; i < 40; i++)
		log_event(LOG_INFO, "seq", "i=%d pad=%s", i, pad);
	writes = drain_sequence(&next);
	assert_true(next > 0 && next < 40); /* some went out, not all */
	assert_true(writes > 0);
	log_flush();
	drain_sequence(&next);
	assert_int_equal(next, 40);
}

static void
overlong_line_is_cut_not_split(void **state)
{
	static char huge[8192];
	char buf[8192];
	ssize_t n;

	(void)state;
	memset(huge, 'y', sizeof(huge) - 1);
	log_hold(1);
	log_event(LOG_INFO, "huge", "v=%s", huge);
	log_flush();
	n = next_write(buf, sizeof(buf));
	/* Cut to the line limit, still one line ending in \n. */
	assert_true(n > 1000 && n <= 2048);
	assert_line(buf, "huge", " v=yyy");
	expect_no_write();
}

/* Two threads holding and flushing at once: every write is whole lines
 * of one thread, and each thread's lines arrive complete and in order. */
static void *
writer(void *arg)
{
	int id = (int)(intptr_t)arg;

	log_hold(1);
	for (int i = 0; i < 2000; i++) {
		log_event(LOG_INFO, "t", "id=%d i=%d pad=%0200d", id, i, 0);
		if (i % 7 == 0)
			log_flush();
	}
	log_hold(0);
	return NULL;
}

static void
threads_never_mix_within_a_write(void **state)
{
	char buf[65536];
	int next[2] = {0, 0};
	pthread_t t[2];
	ssize_t n;

	(void)state;
	for (int k = 0; k < 2; k++)
		assert_int_equal(pthread_create(&t[k], NULL, writer,
						(void *)(intptr_t)k),
				 0);
	/* Read while they write: the socket holds far less than their
	 * 1.2 MB. */
	while (next[0] < 2000 || next[1] < 2000) {
		n = recv(peer, buf, sizeof(buf) - 1, 0);
		assert_true(n > 0 && n <= 4096);
		buf[n] = '\0';
		assert_int_equal(buf[n - 1], '\n');
		for (char *line = buf, *end; *line; line = end + 1) {
			int id, i;
			char *p;

			end = strchr(line, '\n');
			*end = '\0';
			p = strstr(line, " event=t id=");
			assert_non_null(p);
			assert_int_equal(
				sscanf(p, " event=t id=%d i=%d", &id, &i), 2);
			assert_true(id == 0 || id == 1);
			assert_int_equal(i, next[id]);
			next[id]++;
		}
	}
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	expect_no_write();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(one_write_per_line_by_default,
						setup, teardown),
		cmocka_unit_test_setup_teardown(held_lines_wait_for_flush,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			warning_goes_out_at_once_after_the_held, setup,
			teardown),
		cmocka_unit_test_setup_teardown(full_buffer_flushes_whole_lines,
						setup, teardown),
		cmocka_unit_test_setup_teardown(overlong_line_is_cut_not_split,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			threads_never_mix_within_a_write, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
