/*
 * progress.c - drawing the progress line; see progress.h.
 */
#include "cli/progress.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static bool drawing, stopping, shown;
static FILE *tty;
static struct progress *prog;
static struct timespec t0;

const char *
progress_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

static double
elapsed(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
}

static void
erase(void)
{
	if (shown) {
		fputs("\r\033[K", tty);
		shown = false;
	}
}

static void
draw(void)
{
	uint64_t fd = prog->files_done, bd = prog->bytes_done;
	uint64_t ff = prog->files_found, bf = prog->bytes_found;
	double t = elapsed(), rate = t > 0 ? bd / t : 0;
	char b1[16], b2[16], b3[16], eta[32] = "?";

	if (prog->walk_done && rate > 0) {
		double left = (double)(bf > bd ? bf - bd : 0) / rate;
		snprintf(eta, sizeof(eta), "%um%02us", (unsigned)left / 60,
			 (unsigned)left % 60);
	}
	fprintf(tty, "\r\033[K%llu/%llu%s files, %s/%s, %s/s, ETA %s",
		(unsigned long long)fd, (unsigned long long)ff,
		prog->walk_done ? "" : "+", progress_bytes(bd, b1, sizeof(b1)),
		progress_bytes(bf, b2, sizeof(b2)),
		progress_bytes((uint64_t)rate, b3, sizeof(b3)), eta);
	fflush(tty);
	shown = true;
}

static void *
loop(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	while (!stopping) {
		struct timespec ts;

		draw();
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&wake, &lock, &ts);
	}
	erase();
	fflush(tty);
	pthread_mutex_unlock(&lock);
	return NULL;
}

void
progress_start(struct progress *p, FILE *out)
{
	prog = p;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!isatty(fileno(out)))
		return;
	tty = out;
	stopping = false;
	if (pthread_create(&thread, NULL, loop, NULL) == 0)
		drawing = true;
}

void
progress_stop(void)
{
	if (!drawing)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	drawing = false;
}

void
progress_lock(void)
{
	pthread_mutex_lock(&lock);
	if (drawing)
		erase();
}

void
progress_unlock(void)
{
	pthread_mutex_unlock(&lock);
}
