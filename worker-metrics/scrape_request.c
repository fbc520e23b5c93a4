/*
 * One HTTP/1.x request head (RFC 9112), read only as far as a scrape
 * needs: the method and the path. Headers are skipped (nothing a scraper
 * sends changes the answer) and any body is ignored, because every
 * connection closes after one reply. Pure: the tests drive it with
 * tables.
 */
#include <string.h>

#include "worker-metrics/scrape.h"

#define PATH_METRICS	"/metrics"

/* RFC 9110 token characters, for the method. */
static bool
is_tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Visible ASCII, for the request target. */
static bool
is_vchar(char ch)
{
	return ch > 0x20 && ch < 0x7f;
}

/* Where the head ends (after its empty line), or NULL: not yet. */
static const char *
head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return buf + i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return buf + i + 3;
	}
	return NULL;
}

/* method SP target SP HTTP-version, each checked; the status or 0. */
static int
request_line(const char *p, const char *end, bool *head_only)
{
	const char *m = p, *t, *v;
	size_t mlen, tlen, vlen;

	while (p < end && is_tchar(*p))
		p++;
	if ((mlen = (size_t)(p - m)) == 0 || p == end || *p++ != ' ')
		return 400;
	for (t = p; p < end && is_vchar(*p); p++)
		;
	if ((tlen = (size_t)(p - t)) == 0 || p == end || *p++ != ' ')
		return 400;
	v = p;
	vlen = (size_t)(end - v);
	if (vlen > 0 && v[vlen - 1] == '\r')
		vlen--;
	if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0)
		return 400;
	if (memcmp(v, "HTTP/1.0", 8) != 0 && memcmp(v, "HTTP/1.1", 8) != 0)
		return 505;
	/* the path alone: a query string changes nothing */
	for (size_t i = 0; i < tlen; i++)
		if (t[i] == '?')
			tlen = i;
	if (tlen != strlen(PATH_METRICS) || memcmp(t, PATH_METRICS, tlen) != 0)
		return 404;
	*head_only = mlen == 4 && memcmp(m, "HEAD", 4) == 0;
	if (*head_only || (mlen == 3 && memcmp(m, "GET", 3) == 0))
		return 200;
	return 405;
}

int
scrape_request(const char *buf, size_t len, bool *head_only)
{
	const char *end, *nl;

	*head_only = false;
	/* RFC 9112 2.2: empty lines before the request line are ignored */
	while (len > 0 && (buf[0] == '\r' || buf[0] == '\n')) {
		buf++;
		len--;
	}
	if (memchr(buf, '\0', len) != NULL)
		return 400;
	if ((end = head_end(buf, len)) == NULL)
		return 0;
	nl = memchr(buf, '\n', (size_t)(end - buf));
	return request_line(buf, nl, head_only);
}

const char *
scrape_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}
