/*
 * worker-metrics: the optional HTTP listener of metrics.listen
 * (docs/METRICS.md). It serves the OpenMetrics page the supervisor
 * renders and pushes (MetricsText); it parses HTTP so that the
 * supervisor never has to, and it holds nothing worth stealing. Parts:
 *
 *   scrape_request.c	pure: one HTTP request's head -> the status to answer
 *   scrape_http.c	the listener and its connections: limits, deadlines
 *   scrape_main.c	the worker: config, bind, IPC loop, page assembly
 */
#ifndef HAREPD_SCRAPE_H
#define HAREPD_SCRAPE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/log.h"

/*
 * Limits (docs/METRICS.md, "Limits"). A scraper sends a few hundred bytes
 * at once and reads a few kilobytes; anything slower or larger is a
 * mistake or an attack, and must not cost the next scrape its answer.
 */
#define SCRAPE_MAX_CONN		16	/* connections open at once */
#define SCRAPE_MAX_HEAD		8192	/* request line and headers */
#define SCRAPE_REQUEST_MS	2000	/* from accept to the end of the head */
#define SCRAPE_REPLY_MS		5000	/* from the head to the reply's last byte */
#define SCRAPE_ACCEPT_BURST	SCRAPE_MAX_CONN	/* accepts per loop pass */
#define SCRAPE_LOG_BURST	5	/* refusals logged at once, then */
#define SCRAPE_LOG_PER_S	1	/* ... this many a second, then counted */

/* 0: the head has not ended yet; else the HTTP status to answer. */
int	 scrape_request(const char *buf, size_t len, bool *head_only);
/* "OK", "Not Found", ... for the statuses scrape_request returns. */
const char *scrape_reason(int status);

enum scrape_state {
	SCRAPE_FREE = 0,
	SCRAPE_READING,		/* waiting for the end of the head */
	SCRAPE_WRITING,		/* the reply is going out */
};

struct scrape_conn {
	enum scrape_state state;
	int		 fd;		/* -1: free */
	int64_t		 deadline;	/* monotonic ms */
	int64_t		 accepted;	/* monotonic ms */
	char		 in[SCRAPE_MAX_HEAD];
	size_t		 in_len;
	char		*out;
	size_t		 out_len;
	size_t		 out_off;
};

struct scrape_server {
	int		 listen_fd;
	struct scrape_conn conn[SCRAPE_MAX_CONN];
	char		*page;		/* the last whole page, NULL: none yet */
	size_t		 page_len;
	struct log_bucket refusals;	/* log lines about refused clients */
	unsigned long	 refused_quiet;	/* refused and not logged, to report */
	uint64_t	 served;	/* 200s answered */
};

/* The bound, listening, non-blocking socket of metrics.listen, or -1. */
int	 scrape_listen(const char *addr, char *why, size_t whylen);
void	 scrape_init(struct scrape_server *, int listen_fd, int64_t now);
/* Closes the listener and every connection, frees the page. */
void	 scrape_close(struct scrape_server *);
/* Takes page (malloc'd, len bytes): served from now on. */
void	 scrape_set_page(struct scrape_server *, char *page, size_t len);
/* The listener, then each busy connection; returns how many (<= max). */
size_t	 scrape_pollfds(const struct scrape_server *, struct pollfd *,
	    size_t max);
/* After poll: accept, read, answer, write; never blocks. */
void	 scrape_events(struct scrape_server *, const struct pollfd *,
	    size_t n, int64_t now);
/* Closes what is past its deadline and says what was refused quietly. */
void	 scrape_expire(struct scrape_server *, int64_t now);
/* The earliest connection deadline (monotonic ms), INT64_MAX: none. */
int64_t	 scrape_deadline(const struct scrape_server *);
size_t	 scrape_open_conns(const struct scrape_server *);

int	 metrics_worker_main(void);

#endif
