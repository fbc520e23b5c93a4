/*
 * Messages about a configuration, compiler style so editors can jump to
 * them: "FILE:LINE:COL: key.path: message". Collected, never printed here:
 * harepd -t prints them, workers log them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"

static void
diag_append(char ***list, size_t *n, char *msg)
{
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = msg;
}

/* the attribute lets clang's -Wformat-nonliteral check the callers */
static char *diag_format(const char *, int, int, const char *, const char *,
    va_list) __attribute__((format(printf, 5, 0)));

static char *
diag_format(const char *file, int line, int col, const char *path,
    const char *fmt, va_list ap)
{
	char msg[1024], *out;
	int len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0 && path != NULL)
		len = asprintf(&out, "%s:%d:%d: %s: %s", file, line, col, path, msg);
	else if (line > 0)
		len = asprintf(&out, "%s:%d:%d: %s", file, line, col, msg);
	else if (path != NULL)
		len = asprintf(&out, "%s: %s: %s", file, path, msg);
	else
		len = asprintf(&out, "%s: %s", file, msg);
	if (len < 0)
		abort();
	return out;
}

void
diag_error(struct conf_diag *d, const char *file, int line, int col,
    const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_append(&d->errors, &d->n_errors,
	    diag_format(file, line, col, path, fmt, ap));
	va_end(ap);
}

void
diag_warning(struct conf_diag *d, const char *file, int line, int col,
    const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_append(&d->warnings, &d->n_warnings,
	    diag_format(file, line, col, path, fmt, ap));
	va_end(ap);
}

static void src_vadd(struct conf_diag *, const struct conf_src *, bool,
    const char *, const char *, va_list) __attribute__((format(printf, 5, 0)));

static void
src_vadd(struct conf_diag *d, const struct conf_src *src, bool error,
    const char *path, const char *fmt, va_list ap)
{
	int line = 0, col = 0;

	if (src != NULL)
		src_nearest(src, path, &line, &col);
	if (error)
		diag_append(&d->errors, &d->n_errors, diag_format(src ? src->name :
		    "(configuration)", line, col, path, fmt, ap));
	else
		diag_append(&d->warnings, &d->n_warnings, diag_format(src ?
		    src->name : "(configuration)", line, col, path, fmt, ap));
}

void
src_error(struct conf_diag *d, const struct conf_src *src, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	src_vadd(d, src, true, path, fmt, ap);
	va_end(ap);
}

void
src_warning(struct conf_diag *d, const struct conf_src *src, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	src_vadd(d, src, false, path, fmt, ap);
	va_end(ap);
}

/* Values are echoed back in messages: keep them on one line and short. */
void
quote_value(char *buf, size_t size, const char *value)
{
	size_t o = 0, max = size > 8 ? size - 6 : 0;
	const unsigned char *v = (const unsigned char *)value;

	if (size < 8) {
		if (size > 0)
			buf[0] = '\0';
		return;
	}
	buf[o++] = '"';
	for (; *v != '\0' && o < max; v++) {
		if (*v == '"' || *v == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*v;
		} else if (*v < 0x20 || *v == 0x7f) {
			if (o + 4 >= max)
				break;
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", *v);
		} else
			buf[o++] = (char)*v;
	}
	if (*v != '\0') {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}
