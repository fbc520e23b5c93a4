/*
 * Doubling backoff between retries: min_ms, 2 min_ms, ... up to max_ms,
 * back to min_ms once the thing retried stayed healthy for healthy_ms.
 * Used for worker restarts (supervisor) and database reconnects (probe).
 */
#ifndef HAREPD_UTIL_BACKOFF_H
#define HAREPD_UTIL_BACKOFF_H

#include <stdint.h>

struct backoff {
	int	 min_ms;
	int	 max_ms;
	int64_t	 healthy_ms;	/* 0: never reset by uptime */
	int	 next_ms;
};

void	 backoff_init(struct backoff *, int min_ms, int max_ms,
	    int64_t healthy_ms);
/* Delay before the next try, after an attempt that lasted uptime_ms. */
int	 backoff_next(struct backoff *, int64_t uptime_ms);
/* Success: the next failure waits min_ms again. */
void	 backoff_reset(struct backoff *);

#endif
