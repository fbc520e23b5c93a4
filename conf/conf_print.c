/*
 * harepd -n: the configuration as harepd understood it, every key with its
 * value or default, in the seed's key names and with TLS under tls:. Its
 * output loads back to the same struct conf (tested).
 */
#include <stdio.h>
#include <string.h>

#include "conf/conf_int.h"

/* YAML double-quoted scalar: always quoted, so "010" or "yes" stay text. */
static void
print_str(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL) {
		fputs("null", fp);
		return;
	}
	fputc('"', fp);
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\x%02x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

static void
kv_str(FILE *fp, int indent, const char *key, const char *value)
{
	fprintf(fp, "%*s%s: ", indent, "", key);
	print_str(fp, value);
	fputc('\n', fp);
}

static void
kv_long(FILE *fp, int indent, const char *key, long value)
{
	fprintf(fp, "%*s%s: %ld\n", indent, "", key, value);
}

static void
kv_bool(FILE *fp, int indent, const char *key, bool value)
{
	fprintf(fp, "%*s%s: %s\n", indent, "", key, value ? "true" : "false");
}

static void
kv_map(FILE *fp, int indent, const char *key)
{
	fprintf(fp, "%*s%s:\n", indent, "", key);
}

static void
print_list(FILE *fp, int indent, const char *key, char *const *items,
    size_t n)
{
	if (n == 0) {
		fprintf(fp, "%*s%s: []\n", indent, "", key);
		return;
	}
	kv_map(fp, indent, key);
	for (size_t i = 0; i < n; i++) {
		fprintf(fp, "%*s- ", indent + 2, "");
		print_str(fp, items[i]);
		fputc('\n', fp);
	}
}

static void
print_haproxy(FILE *fp, const struct conf *c)
{
	kv_map(fp, 2, "haproxy");
	print_list(fp, 4, "server", c->haproxy_servers, c->n_haproxy_servers);
	kv_map(fp, 4, "users");
	kv_str(fp, 6, "readOnly", c->user_read_only);
	kv_str(fp, 6, "readWrite", c->user_read_write);
	kv_map(fp, 2, "authModes");
	kv_str(fp, 4, "allow", c->auth_allow);
	kv_str(fp, 4, "deny", c->auth_deny);
}

static void
print_repmgr(FILE *fp, const struct conf *c)
{
	kv_map(fp, 2, "repmgr");
	kv_str(fp, 4, "user", c->repmgr_user);
	kv_str(fp, 4, "db", c->repmgr_db);
	kv_str(fp, 4, "host", c->repmgr_host);
	if (c->repmgr_port == 0)
		fprintf(fp, "    port: null\n");
	else
		kv_long(fp, 4, "port", c->repmgr_port);
}

static void
print_grpc(FILE *fp, const struct conf *c)
{
	kv_map(fp, 2, "gRPC");
	kv_map(fp, 4, "tls");
	kv_bool(fp, 6, "enabled", c->tls.enabled);
	kv_bool(fp, 6, "clientAuth", c->tls.client_auth);
	kv_str(fp, 6, "ca", c->tls.ca);
	kv_str(fp, 6, "cert", c->tls.cert);
	kv_str(fp, 6, "key", c->tls.key);
	kv_long(fp, 4, "bindPort", c->bind_port);
	kv_str(fp, 4, "bindAddress", c->bind_address);
	kv_str(fp, 4, "serverHostOverride", c->server_host_override);
	if (c->n_neighbours == 0)
		fprintf(fp, "    neighbours: []\n");
	else
		kv_map(fp, 4, "neighbours");
	for (size_t i = 0; i < c->n_neighbours; i++) {
		fprintf(fp, "      - ");
		print_str(fp, c->neighbours[i].text);
		fputc('\n', fp);
	}
	kv_str(fp, 4, "witness", c->witness ? c->witness->text : NULL);
	kv_long(fp, 4, "connectionDeadline", c->connection_deadline);
}

static void
print_rest(FILE *fp, const struct conf *c)
{
	kv_long(fp, 2, "watchDog", c->watchdog);
	kv_str(fp, 2, "policy", c->policy == POLICY_SEED ? "seed" : "majority");
	kv_long(fp, 2, "leaseMs", c->lease_ms);
	kv_map(fp, 2, "logs");
	kv_str(fp, 4, "filePath", c->log_file);
	kv_long(fp, 4, "maxAge", c->log_max_age);
	kv_long(fp, 4, "rotationTime", c->log_rotation_time);
	kv_map(fp, 2, "control");
	kv_str(fp, 4, "socket", c->control_socket);
	kv_map(fp, 2, "privsep");
	kv_str(fp, 4, "rpcUser", c->rpc_user);
	kv_str(fp, 4, "postgresUser", c->pg_user);
	kv_map(fp, 2, "metrics");
	kv_str(fp, 4, "listen", c->metrics_listen);
}

void
conf_print(FILE *fp, const struct conf *c)
{
	fprintf(fp, "# harepd configuration as loaded (harepd -n): every key, "
	    "defaults included\n");
	fprintf(fp, "harepd:\n");
	kv_str(fp, 2, "nodeName", c->node_name);
	kv_str(fp, 2, "primaryIP", c->primary_ip);
	kv_bool(fp, 2, "allowRO", c->allow_ro);
	kv_str(fp, 2, "hbaConfig", c->hba_config);
	print_haproxy(fp, c);
	print_repmgr(fp, c);
	print_grpc(fp, c);
	print_rest(fp, c);
}
