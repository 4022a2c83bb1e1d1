/*
 * log.h - structured logging: one `key=value` line per event on stderr.
 *
 *   ts=2026-11-29T02:50:01.123Z level=info func=main event=listen
 * addr=127.0.0.1:8440
 *
 * Values given through log_event()'s format are written as they are: pass
 * anything that comes from outside (paths, names, client input) through
 * log_value() first, which quotes and escapes it.
 */
#ifndef VIGIL_COMMON_LOG_H
#define VIGIL_COMMON_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Lines below this level are dropped (default LOG_INFO). */
void log_set_level(enum log_level level);

/* Writes one line: ts, level, func, event, then the formatted pairs. */
void log_event_at(enum log_level level, const char *func, const char *event,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define log_event(level, event, ...)                                           \
	log_event_at(level, __func__, event, __VA_ARGS__)

/*
 * Holding (on != 0): this thread's debug and info lines wait in a buffer
 * of its own until log_flush(), or until the buffer (16 KiB) is full,
 * and then go out in a few writes of whole lines instead of one write
 * each. A warning or an error flushes what is held and goes out at once.
 * The event loops hold their lines and flush them at the end of every
 * turn of the loop: a line may then follow, on stderr, a line another
 * thread logged later, and the lines held when the process dies are
 * lost. log_hold(0) flushes and stops holding.
 */
void log_hold(int on);
void log_flush(void);

/* Returns s as a log value in buf: bare if it is made of safe characters,
 * otherwise double-quoted with ", \ and non-printable bytes escaped.
 * Truncated to fit len bytes. Returns buf. */
const char *log_value(const char *s, char *buf, unsigned len);

#endif
