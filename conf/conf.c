/*
 * Loading a configuration: read the file, let libyaml build the document,
 * walk it (conf_parse.c), apply defaults and cross-key rules
 * (conf_check.c). A struct conf is returned only when there is no error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf_int.h"

/* The reader (bad UTF-8, control bytes) gives an offset: make it a line. */
static void
offset_to_mark(const char *yaml, size_t len, size_t offset, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < offset && i < len; i++) {
		if (yaml[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)yaml[i] & 0xc0) != 0x80)
			(*col)++;
	}
}

/* libyaml's own words and position for a document it could not build. */
static void
yaml_syntax_error(const char *name, yaml_parser_t *p, const char *yaml,
    size_t len, struct conf_diag *d)
{
	const char *problem = p->problem ? p->problem : "cannot parse";
	int line, col;

	if (p->error == YAML_READER_ERROR) {
		offset_to_mark(yaml, len, p->problem_offset, &line, &col);
		diag_error(d, name, line, col, NULL, "YAML: %s (byte %zu)",
		    problem, p->problem_offset);
		return;
	}
	if (p->context != NULL)
		diag_error(d, name, (int)p->problem_mark.line + 1,
		    (int)p->problem_mark.column + 1, NULL,
		    "YAML: %s %s (started at %d:%d)", p->context, problem,
		    (int)p->context_mark.line + 1,
		    (int)p->context_mark.column + 1);
	else
		diag_error(d, name, (int)p->problem_mark.line + 1,
		    (int)p->problem_mark.column + 1, NULL, "YAML: %s", problem);
}

/* One document only: a second one would be silently ignored otherwise. */
static bool
single_document(const char *name, yaml_parser_t *p, const char *yaml,
    size_t len, struct conf_diag *d)
{
	yaml_document_t next;
	yaml_node_t *root;
	bool ok = true;

	if (!yaml_parser_load(p, &next)) {
		yaml_syntax_error(name, p, yaml, len, d);
		return false;
	}
	if ((root = yaml_document_get_root_node(&next)) != NULL) {
		diag_error(d, name, (int)root->start_mark.line + 1,
		    (int)root->start_mark.column + 1, NULL,
		    "YAML: a second document; the configuration is one document");
		ok = false;
	}
	yaml_document_delete(&next);
	return ok;
}

static struct conf *
conf_new(const char *name)
{
	struct conf *c = xcalloc(1, sizeof(*c));

	c->path = xstrdup(name);
	c->src = xcalloc(1, sizeof(*c->src));
	c->src->name = xstrdup(name);
	return c;
}

/* keep: return the config even with errors (harepd -t checks its files). */
static struct conf *
load_buffer(const char *name, const char *yaml, size_t len,
    struct conf_diag *d, bool keep)
{
	size_t errors_before = d->n_errors;
	yaml_parser_t parser;
	yaml_document_t doc;
	struct conf *c;

	if (len > CONF_MAX_BYTES) {
		diag_error(d, name, 0, 0, NULL, "larger than %d bytes, not a "
		    "configuration", CONF_MAX_BYTES);
		return NULL;
	}
	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_syntax_error(name, &parser, yaml, len, d);
		yaml_parser_delete(&parser);
		return NULL;
	}
	c = conf_new(name);
	if (single_document(name, &parser, yaml, len, d))
		conf_walk(c, &doc, d);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	/* Cross-key rules too, so one run reports every mistake. */
	conf_finish(c, d);
	if (d->n_errors != errors_before && !keep) {
		conf_free(c);
		return NULL;
	}
	return c;
}

struct conf *
conf_load_buffer(const char *name, const char *yaml, size_t len,
    struct conf_diag *d)
{
	return load_buffer(name, yaml, len, d, false);
}

static char *
read_file(const char *path, size_t *len, struct conf_diag *d)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		diag_error(d, path, 0, 0, NULL, "cannot read: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONF_MAX_BYTES) {
		diag_error(d, path, 0, 0, NULL, S_ISREG(st.st_mode) ?
		    "larger than %d bytes, not a configuration" :
		    "not a regular file", CONF_MAX_BYTES);
		goto out;
	}
	buf = xcalloc(1, (size_t)st.st_size + 1);
	*len = 0;
	while (*len < (size_t)st.st_size && (n = read(fd, buf + *len,
	    (size_t)st.st_size - *len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			diag_error(d, path, 0, 0, NULL, "cannot read: %s",
			    strerror(errno));
			free(buf);
			buf = NULL;
			goto out;
		}
		*len += (size_t)n;
	}
out:
	if (fd != -1)
		close(fd);
	return buf;
}

static struct conf *
load_file(const char *path, struct conf_diag *d, bool keep)
{
	struct conf *c;
	size_t len;
	char *buf;

	if ((buf = read_file(path, &len, d)) == NULL)
		return NULL;
	c = load_buffer(path, buf, len, d, keep);
	free(buf);
	return c;
}

struct conf *
conf_load(const char *path, struct conf_diag *d)
{
	return load_file(path, d, false);
}

/*
 * The files are checked even when a value is wrong: an operator fixing a
 * config wants every mistake from one run. A value that had an error was
 * not stored, so the file checks skip it rather than repeat it.
 */
struct conf *
conf_check(const char *path, struct conf_diag *d)
{
	size_t errors_before = d->n_errors;
	struct conf *c = load_file(path, d, true);

	if (c == NULL)
		return NULL;
	conf_check_files(c, d);
	conf_check_hba_dir(c, d);
	if (d->n_errors != errors_before) {
		conf_free(c);
		return NULL;
	}
	return c;
}

static void
target_free(struct conf_target *t)
{
	free(t->host);
	free(t->text);
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	src_free(c->src);
	free(c->node_name);
	free(c->primary_ip);
	free(c->hba_config);
	for (size_t i = 0; i < c->n_haproxy_servers; i++)
		free(c->haproxy_servers[i]);
	free(c->haproxy_servers);
	free(c->user_read_only);
	free(c->user_read_write);
	free(c->auth_allow);
	free(c->auth_deny);
	free(c->repmgr_user);
	free(c->repmgr_db);
	free(c->repmgr_host);
	free(c->tls.ca);
	free(c->tls.cert);
	free(c->tls.key);
	free(c->bind_address);
	free(c->server_host_override);
	for (size_t i = 0; i < c->n_neighbours; i++)
		target_free(&c->neighbours[i]);
	free(c->neighbours);
	if (c->witness != NULL)
		target_free(c->witness);
	free(c->witness);
	free(c->log_file);
	free(c->control_socket);
	free(c->rpc_user);
	free(c->pg_user);
	free(c->metrics_listen);
	free(c);
}

static void
free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void
conf_diag_free(struct conf_diag *d)
{
	if (d == NULL)
		return;
	free_list(d->errors, d->n_errors);
	free_list(d->warnings, d->n_warnings);
	memset(d, 0, sizeof(*d));
}
