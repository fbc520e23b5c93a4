/*
 * The metrics worker (role "metrics", only when metrics.listen is set):
 * binds metrics.listen as the unprivileged user it was started as, then
 * serves GET /metrics from the last page the supervisor pushed. It opens
 * no file and no database connection and knows nothing the page does not
 * say, so whoever takes it over learns no more than a scrape would tell.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc/log.h"
#include "ipc/worker.h"
#include "util/clock.h"
#include "util/xmalloc.h"
#include "worker-metrics/scrape.h"

/* Wakes at least this often, to expire connections and report refusals. */
#define TICK_MS		1000

struct metrics_worker {
	struct scrape_server	 server;
	char			*parts;		/* the page being assembled */
	size_t			 parts_len;
	bool			 parts_dropped;	/* over IPC_METRICS_MAX */
	bool			 had_page;
};

static void
start_server(struct metrics_worker *w, const struct conf *c)
{
	char why[320];
	int fd;

	if (c->metrics_listen == NULL)
		fatalx("started without metrics.listen: nothing to serve");
	if ((fd = scrape_listen(c->metrics_listen, why, sizeof(why))) == -1)
		fatalx("metrics.listen %s", why);
	scrape_init(&w->server, fd, clock_mono_ms());
	log_info("serving GET /metrics on http://%s", c->metrics_listen);
}

/* A part of the next page; the last part makes it the page served. */
static void
take_metrics_text(void *arg, const Harepd__MetricsText *m)
{
	struct metrics_worker *w = arg;

	if (!w->parts_dropped && w->parts_len + m->text.len <= IPC_METRICS_MAX) {
		w->parts = xreallocarray(w->parts, 1, w->parts_len +
		    m->text.len + 1);
		if (m->text.len > 0)
			memcpy(w->parts + w->parts_len, m->text.data,
			    m->text.len);
		w->parts_len += m->text.len;
	} else
		w->parts_dropped = true;
	if (m->more)
		return;
	if (w->parts_dropped)
		log_emit(LOG_LVL_ERROR, NULL, 0, "metrics page over %d bytes "
		    "dropped: still serving the previous one", IPC_METRICS_MAX);
	else {
		if (!w->had_page)
			log_info("first metrics page (%zu bytes)", w->parts_len);
		w->had_page = true;
		scrape_set_page(&w->server, w->parts ? w->parts : xstrdup(""),
		    w->parts_len);
		w->parts = NULL;
	}
	free(w->parts);
	w->parts = NULL;
	w->parts_len = 0;
	w->parts_dropped = false;
}

/* Nothing to apply: the listener stays where it was bound (the
 * supervisor says a change needs a restart) and the page is all else. */
static void
take_config(void *arg, struct conf *c, Harepd__ConfigPush **push)
{
	conf_free(c);
}

static size_t
poll_fds(void *arg, struct pollfd *pfd, size_t max)
{
	struct metrics_worker *w = arg;

	return scrape_pollfds(&w->server, pfd, max);
}

static void
on_fds(void *arg, const struct pollfd *pfd, size_t n)
{
	struct metrics_worker *w = arg;

	scrape_events(&w->server, pfd, n, clock_mono_ms());
}

static int
next_timeout(void *arg)
{
	struct metrics_worker *w = arg;
	int64_t now = clock_mono_ms(), next = scrape_deadline(&w->server);

	if (next > now + TICK_MS)
		next = now + TICK_MS;
	return next <= now ? 0 : (int)(next - now);
}

static void
on_timer(void *arg)
{
	struct metrics_worker *w = arg;

	scrape_expire(&w->server, clock_mono_ms());
}

int
metrics_worker_main(void)
{
	struct metrics_worker w = { 0 };
	struct conf *c;

	worker_init("metrics");
	c = worker_wait_config(WORKER_CONFIG_TIMEOUT_MS, NULL);
	start_server(&w, c);
	conf_free(c);
	if (worker_send_hello("metrics") == -1)
		log_warn("sending hello");
	worker_run(&(struct worker_ops){
		.arg = &w,
		.on_metrics_text = take_metrics_text,
		.on_config = take_config,
		.next_timeout = next_timeout,
		.on_timer = on_timer,
		.poll_fds = poll_fds,
		.on_fds = on_fds,
	});
	log_info("stopped after %llu scrapes", (unsigned long long)
	    w.server.served);
	scrape_close(&w.server);
	free(w.parts);
	worker_exit(0);
}
