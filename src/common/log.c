/*
 * log.c - structured log lines; see log.h.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum log_level min_level = LOG_INFO;

void
log_set_level(enum log_level level)
{
	min_level = level;
}

static const char *
level_name(enum log_level l)
{
	switch (l) {
	case LOG_DEBUG: return "debug";
	case LOG_INFO: return "info";
	case LOG_WARN: return "warn";
	case LOG_ERROR: return "error";
	}
	return "info";
}

/*
 * A thread that holds its lines (log_hold) keeps them here until
 * log_flush(), and writes them in chunks of whole lines of at most
 * LOG_CHUNK bytes: a write to a pipe of at most PIPE_BUF (4096 on Linux)
 * bytes is never interleaved with another thread's, and a write to a
 * regular file is never interleaved at all.
 */
#define LOG_LINE_MAX 2048
#define LOG_HELD_MAX 16384
#define LOG_CHUNK    4096

static __thread struct {
	char buf[LOG_HELD_MAX];
	size_t len;
	int on;
	time_t sec; /* the second ts was made for */
	char ts[32];
} held;

void
log_hold(int on)
{
	if (!on)
		log_flush();
	held.on = on;
}

void
log_flush(void)
{
	size_t at = 0;

	while (at < held.len) {
		size_t n = held.len - at, cut = n;

		if (n > LOG_CHUNK) {
			/* Every line ends in \n and is shorter than a chunk. */
			cut = LOG_CHUNK;
			while (held.buf[at + cut - 1] != '\n')
				cut--;
		}
		fwrite(held.buf + at, 1, cut, stderr);
		at += cut;
	}
	held.len = 0;
}

void
log_event_at(enum log_level level, const char *func, const char *event,
	     const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n;

	if (level < min_level)
		return;
	gettimeofday(&tv, NULL);
	if (tv.tv_sec != held.sec || held.ts[0] == '\0') {
		gmtime_r(&tv.tv_sec, &tm);
		strftime(held.ts, sizeof(held.ts), "%Y-%m-%dT%H:%M:%S", &tm);
		held.sec = tv.tv_sec;
	}
	n = snprintf(line, sizeof(line),
		     "ts=%s.%03ldZ level=%s func=%s event=%s", held.ts,
		     (long)(tv.tv_usec / 1000), level_name(level), func, event);
	if (n > 0 && (size_t)n < sizeof(line) - 2 && fmt != NULL && *fmt) {
		line[n++] = ' ';
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
		va_end(ap);
	}
	n = (int)strnlen(line, sizeof(line) - 2);
	line[n++] = '\n';
	/* Warnings and errors go out at once, after what was held, so that
	 * a thread's lines keep their order. */
	if (held.on && level < LOG_WARN) {
		if (held.len + (size_t)n > sizeof(held.buf))
			log_flush();
		memcpy(held.buf + held.len, line, (size_t)n);
		held.len += (size_t)n;
		return;
	}
	log_flush();
	/* One write per line, so that lines from threads never interleave. */
	fwrite(line, 1, (size_t)n, stderr);
}

const char *
log_value(const char *s, char *buf, unsigned len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned o = 0;
	int bare = *s != '\0';

	for (const char *p = s; *p && bare; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("-_./:@+,", *p)))
			bare = 0;
	if (bare) {
		snprintf(buf, len, "%s", s);
		return buf;
	}
	if (len < 3) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (o + 5 >= len)
			break;
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else if (*p < 0x20 || *p >= 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 0xf];
		} else {
			buf[o++] = (char)*p;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
