/*
 * Test helper for the peer wire contract (tests/integration/05-wire.t):
 * packs the peer messages with protobuf-c, or unpacks them and prints
 * one field per line, so the script can hold them against protoc.
 *
 *	wire_codec pack-iknow > bytes	wire_codec unpack-iknow < bytes
 *	wire_codec pack-wyk > bytes	wire_codec unpack-wyk < bytes
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/messaging.pb-c.h"

#define WIRE_MAX_INPUT	(1024 * 1024)

static int
write_packed(const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len + 1);

	protobuf_c_message_pack(m, buf);
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
		perror("wire_codec: write");
		return 1;
	}
	free(buf);
	return 0;
}

static int
pack_iknow(void)
{
	static char *masters[] = { "10.0.0.11", "10.0.0.10" };
	static char *slaves[] = { "10.0.0.12", "fd00::13", "10.0.0.14" };
	Models__IKnow k = MODELS__IKNOW__INIT;
	Models__Observation obs = MODELS__OBSERVATION__INIT;

	k.ip = "10.0.0.12";
	k.nodeid = -42;
	k.nodename = "nœud-ß-東京";
	k.witness = "10.0.0.99";
	k.n_slaves = 3;
	k.slaves = slaves;
	k.n_master = 2;
	k.master = masters;
	obs.inrecovery = 1;
	obs.timeline = 4000000001u;
	k.observation = &obs;
	return write_packed(&k.base);
}

static int
pack_wyk(void)
{
	Models__WhatYouKnow w = MODELS__WHAT_YOU_KNOW__INIT;

	w.ip = "10.0.0.11";
	w.nodeid = -2147483648;
	w.nodename = "nœud-ß-東京";
	return write_packed(&w.base);
}

static uint8_t *
read_all(size_t *len)
{
	uint8_t *buf = malloc(WIRE_MAX_INPUT + 1);

	*len = fread(buf, 1, WIRE_MAX_INPUT + 1, stdin);
	if (*len > WIRE_MAX_INPUT) {
		fprintf(stderr, "wire_codec: input larger than %d bytes\n",
		    WIRE_MAX_INPUT);
		exit(1);
	}
	return buf;
}

static void
print_strings(const char *name, char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%s: %s\n", name, v[i]);
}

static int
unpack_iknow(void)
{
	size_t len;
	uint8_t *buf = read_all(&len);
	Models__IKnow *k = models__iknow__unpack(NULL, len, buf);

	free(buf);
	if (k == NULL) {
		fprintf(stderr, "wire_codec: not a models.IKnow\n");
		return 1;
	}
	printf("ip: %s\nnodeId: %d\nnodeName: %s\nwitness: %s\n", k->ip,
	    k->nodeid, k->nodename, k->witness);
	print_strings("slaves", k->slaves, k->n_slaves);
	print_strings("master", k->master, k->n_master);
	if (k->observation == NULL)
		printf("observation: absent\n");
	else
		printf("observation.inRecovery: %s\nobservation.timeline: %u\n",
		    k->observation->inrecovery ? "true" : "false",
		    k->observation->timeline);
	models__iknow__free_unpacked(k, NULL);
	return 0;
}

static int
unpack_wyk(void)
{
	size_t len;
	uint8_t *buf = read_all(&len);
	Models__WhatYouKnow *w = models__what_you_know__unpack(NULL, len, buf);

	free(buf);
	if (w == NULL) {
		fprintf(stderr, "wire_codec: not a models.WhatYouKnow\n");
		return 1;
	}
	printf("ip: %s\nnodeId: %d\nnodeName: %s\n", w->ip, w->nodeid,
	    w->nodename);
	models__what_you_know__free_unpacked(w, NULL);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct {
		const char	*cmd;
		int		(*fn)(void);
	} cmds[] = {
		{ "pack-iknow", pack_iknow },
		{ "unpack-iknow", unpack_iknow },
		{ "pack-wyk", pack_wyk },
		{ "unpack-wyk", unpack_wyk },
	};

	for (size_t i = 0; argc == 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].cmd) == 0)
			return cmds[i].fn();
	fprintf(stderr, "usage: wire_codec pack-iknow|unpack-iknow|pack-wyk|"
	    "unpack-wyk\n");
	return 64;
}
