#include "util/backoff.h"

void
backoff_init(struct backoff *b, int min_ms, int max_ms, int64_t healthy_ms)
{
	b->min_ms = min_ms;
	b->max_ms = max_ms;
	b->healthy_ms = healthy_ms;
	b->next_ms = min_ms;
}

int
backoff_next(struct backoff *b, int64_t uptime_ms)
{
	int delay;

	/* up long enough to count as healthy: forget older failures */
	if ((b->healthy_ms > 0 && uptime_ms >= b->healthy_ms) ||
	    b->next_ms < b->min_ms)
		b->next_ms = b->min_ms;
	delay = b->next_ms;
	b->next_ms = delay >= b->max_ms / 2 ? b->max_ms : delay * 2;
	return delay;
}

void
backoff_reset(struct backoff *b)
{
	b->next_ms = b->min_ms;
}
