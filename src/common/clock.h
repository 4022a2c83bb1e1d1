/*
 * clock.h - the monotonic clock, for deadlines and durations (never for
 * dates: it does not jump when the wall clock is set).
 */
#ifndef VIGIL_COMMON_CLOCK_H
#define VIGIL_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since an arbitrary point. */
static inline uint64_t
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Seconds since an arbitrary point, with nanosecond resolution. */
static inline double
clock_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
