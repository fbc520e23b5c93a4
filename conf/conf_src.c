/*
 * Positions of the keys met while walking the YAML, by canonical key path.
 * Later checks (cross-key rules, conf_check_files) have only the struct, so
 * they look a key up here to name its file:line:column.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"

struct conf_pos *
src_put(struct conf_src *src, const char *path, int line, int col)
{
	struct conf_pos *p;

	src->pos = xreallocarray(src->pos, src->n + 1, sizeof(*src->pos));
	p = &src->pos[src->n++];
	memset(p, 0, sizeof(*p));
	p->path = xstrdup(path);
	p->line = line;
	p->col = col;
	return p;
}

struct conf_pos *
src_get(const struct conf_src *src, const char *path)
{
	if (src == NULL)
		return NULL;
	for (size_t i = 0; i < src->n; i++)
		if (strcmp(src->pos[i].path, path) == 0)
			return &src->pos[i];
	return NULL;
}

/* Present with a value (possibly a bad one: that was reported already). */
bool
src_is_set(const struct conf_src *src, const char *path)
{
	const struct conf_pos *p = src_get(src, path);

	return p != NULL && !p->null;
}

void
src_nearest(const struct conf_src *src, const char *path, int *line, int *col)
{
	char buf[CONF_PATH_MAX];
	const struct conf_pos *p;
	char *cut;

	path_fmt(buf, "%s", path);
	for (;;) {
		if ((p = src_get(src, buf)) != NULL) {
			*line = p->line;
			*col = p->col;
			return;
		}
		cut = strrchr(buf, '.');
		if (cut == NULL)
			break;
		*cut = '\0';
	}
	if ((p = src_get(src, "")) != NULL) {	/* the top-level mapping */
		*line = p->line;
		*col = p->col;
		return;
	}
	*line = 1;
	*col = 1;
}

void
src_free(struct conf_src *src)
{
	if (src == NULL)
		return;
	for (size_t i = 0; i < src->n; i++)
		free(src->pos[i].path);
	free(src->pos);
	free(src->name);
	free(src);
}

/* Key paths are for messages: a very long one is cut, never overflows. */
void
path_fmt(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, CONF_PATH_MAX, fmt, ap);
	va_end(ap);
}
