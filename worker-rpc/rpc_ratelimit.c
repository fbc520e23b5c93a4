/*
 * The Go harepd logged every inquiry (two lines each: 16.7 MB for 37k
 * requests, as measured). We log each one too, but at most `burst` per
 * second, so a flood of requests cannot fill the disk; what was left out
 * is counted and said in one line.
 */
#include "worker-rpc/rpc.h"

#define WINDOW_MS	1000

void
rpc_ratelimit_init(struct rpc_ratelimit *rl, unsigned burst)
{
	rl->burst = burst;
	rl->used = 0;
	rl->window_ms = INT64_MIN;
	rl->suppressed = 0;
}

unsigned long
rpc_ratelimit_expire(struct rpc_ratelimit *rl, int64_t now_ms)
{
	unsigned long n;

	if (rl->window_ms != INT64_MIN && now_ms - rl->window_ms < WINDOW_MS)
		return 0;
	n = rl->suppressed;
	rl->window_ms = now_ms;
	rl->used = 0;
	rl->suppressed = 0;
	return n;
}

unsigned long
rpc_ratelimit_drain(struct rpc_ratelimit *rl)
{
	unsigned long n = rl->suppressed;

	rl->suppressed = 0;
	return n;
}

bool
rpc_ratelimit_take(struct rpc_ratelimit *rl, int64_t now_ms,
    unsigned long *report)
{
	*report = rpc_ratelimit_expire(rl, now_ms);
	if (rl->used < rl->burst) {
		rl->used++;
		return true;
	}
	rl->suppressed++;
	return false;
}
