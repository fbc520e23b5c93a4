/*
 * The configuration as the supervisor hands it out: the file is read
 * once into bytes, validated from those bytes with conf_load_buffer (the
 * very function every worker runs on the same bytes), and packed with
 * the TLS PEM files into the ConfigPush each worker gets at start and on
 * reload. What was validated is exactly what the workers load. Sending
 * it and swapping it in on reload are the supervisor's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "supervisor/sup.h"
#include "util/xmalloc.h"

/* Config and PEM files together must fit one IPC message. */
#define MAX_FILE_BYTES		(IPC_MAX_MSG / 2)

static int
read_file(const char *path, size_t max, ProtobufCBinaryData *out, char *why,
    size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	out->data = NULL;
	out->len = 0;
	if (fd == -1 || fstat(fd, &st) == -1) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		snprintf(why, whylen, "%s: not a regular file of at most %zu "
		    "bytes", path, max);
		close(fd);
		return -1;
	}
	out->data = calloc(1, (size_t)st.st_size + 1);	/* NUL for the parser */
	n = out->data ? read(fd, out->data, (size_t)st.st_size) : -1;
	close(fd);
	if (n < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		free(out->data);
		out->data = NULL;
		return -1;
	}
	out->len = (size_t)n;
	return 0;
}

void
config_push_free(Harepd__ConfigPush *p)
{
	if (p->path != protobuf_c_empty_string)	/* what init left there */
		free(p->path);
	free(p->yaml.data);
	free(p->tls_ca.data);
	free(p->tls_cert.data);
	free(p->tls_key.data);
	harepd__config_push__init(p);
}

static int
push_tls(Harepd__ConfigPush *p, const struct conf *c, char *why, size_t whylen)
{
	if (!c->tls.enabled)
		return 0;
	if (c->tls.ca && c->tls.ca[0] && read_file(c->tls.ca, MAX_FILE_BYTES,
	    &p->tls_ca, why, whylen) == -1)
		return -1;
	if (c->tls.cert && c->tls.cert[0] && read_file(c->tls.cert,
	    MAX_FILE_BYTES, &p->tls_cert, why, whylen) == -1)
		return -1;
	if (c->tls.key && c->tls.key[0] && read_file(c->tls.key,
	    MAX_FILE_BYTES, &p->tls_key, why, whylen) == -1)
		return -1;
	return 0;
}

static void
log_diag(const struct conf_diag *d)
{
	for (size_t i = 0; i < d->n_warnings; i++)
		log_warnx("config: %s", d->warnings[i]);
	for (size_t i = 0; i < d->n_errors; i++)
		log_emit(LOG_LVL_ERROR, NULL, 0, "config: %s", d->errors[i]);
}

int
config_load(const char *path, enum harepd_mode mode, struct conf **cp,
    Harepd__ConfigPush *p, char *why, size_t whylen)
{
	struct conf_diag d = { 0 };
	struct conf *c;

	harepd__config_push__init(p);
	if (read_file(path, MAX_FILE_BYTES, &p->yaml, why, whylen) == -1)
		return -1;
	c = conf_load_buffer(path, (const char *)p->yaml.data,
	    p->yaml.len, &d);
	if (c != NULL && conf_check_files(c, &d) > 0) {
		conf_free(c);
		c = NULL;
	}
	log_diag(&d);
	if (c == NULL) {
		snprintf(why, whylen, "%s: %zu error(s)%s%s", path,
		    d.n_errors, d.n_errors ? ", first: " : "",
		    d.n_errors ? d.errors[0] : "");
		conf_diag_free(&d);
		config_push_free(p);
		return -1;
	}
	conf_diag_free(&d);
	p->path = xstrdup(path);
	p->server_only = (mode == MODE_SERVER_ONLY);
	if (push_tls(p, c, why, whylen) == -1 ||
	    harepd__config_push__get_packed_size(p) + 64 > IPC_MAX_MSG) {
		if (why[0] == '\0' || p->tls_key.data != NULL)
			snprintf(why, whylen, "config and TLS files too large "
			    "for one message (%d bytes)", IPC_MAX_MSG);
		conf_free(c);
		config_push_free(p);
		return -1;
	}
	*cp = c;
	return 0;
}

/* Every worker user must exist before anything starts: fail at once. */
int
config_check_users(const struct role *roles, size_t n, enum harepd_mode mode,
    const struct conf *c, char *why, size_t whylen)
{
	struct privdrop pd;

	for (size_t i = 0; i < n; i++)
		if (role_wanted(&roles[i], mode, c) && privdrop_prepare(&pd,
		    role_user(&roles[i], c), why, whylen) == -1)
			return -1;
	return 0;
}

static bool
str_differs(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") != 0;
}

/* What a running harepd cannot apply by pushing the config: say so. */
void
config_log_restart_needed(const struct conf *o, const struct conf *n)
{
	const char *what = NULL;

	if (str_differs(o->bind_address, n->bind_address) ||
	    o->bind_port != n->bind_port)
		what = "harepd.gRPC.bindAddress/bindPort";
	else if (o->tls.enabled != n->tls.enabled ||
	    o->tls.client_auth != n->tls.client_auth ||
	    str_differs(o->tls.ca, n->tls.ca) ||
	    str_differs(o->tls.cert, n->tls.cert) ||
	    str_differs(o->tls.key, n->tls.key))
		what = "harepd.gRPC.tls";
	if (what != NULL)
		log_warnx("reload: %s changed: the rpc worker keeps its "
		    "listener until harepd is restarted", what);
	if (str_differs(o->rpc_user, n->rpc_user) ||
	    str_differs(o->pg_user, n->pg_user))
		log_warnx("reload: harepd.privsep users changed: they apply "
		    "when a worker next starts; restart harepd to apply now");
	if (str_differs(o->metrics_listen, n->metrics_listen))
		log_warnx("reload: harepd.metrics.listen changed: the metrics "
		    "worker is started, stopped or moved only when harepd is "
		    "restarted");
	if (str_differs(o->control_socket, n->control_socket))
		log_warnx("reload: harepd.control.socket changed: harepd keeps "
		    "listening on the old one until it is restarted");
}

bool
config_log_changed(const struct conf *o, const struct conf *n)
{
	return str_differs(o->log_file, n->log_file) ||
	    o->log_rotation_time != n->log_rotation_time ||
	    o->log_max_age != n->log_max_age;
}
