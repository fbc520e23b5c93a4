/*
 * The status printers (supervisor/status.c) fed hostile strings and
 * numbers: a struct status whose view, verdict (with one peer's answer),
 * pg_hba report and workers are made of the input, printed by
 * status_print_text() and status_print_json() to a memstream. The JSON
 * must parse (RFC 8259, checked by the small validator below: strings
 * escaped, UTF-8, nesting) whatever the strings hold: scripts read it.
 * The text must hold no byte below 0x20 but \n, no DEL, no C1 control,
 * and be UTF-8: it goes to an operator's terminal. harepdctl check's
 * line (supervisor/check.c) must stay one line without control bytes.
 *
 * Input: 4 flag bytes, 8 numbers of 8 bytes (the clocks and counters
 * workers report), then the strings as chunks (2-byte length, bytes),
 * in the order of the `strs` table; a list field splits its chunk at
 * ','. Missing chunks are empty strings.
 */
#include <string.h>

#include "ipc/ipc.h"
#include "supervisor/sup.h"
#include "tests/fuzz/fuzz.h"

enum {
	S_CONFIG, S_NODE_NAME, S_IP, S_WITNESS, S_DB_ERROR, S_PRIMARIES,
	S_STANDBYS, S_REASON, S_POLICY, S_TARGET, S_ROLE, S_PEER_ERROR,
	S_A_IP, S_A_NAME, S_A_WITNESS, S_A_MASTER, S_A_SLAVES, S_HBA_ERROR,
	S_LAST_EXIT, S_COUNT
};

struct input {
	char	*s[S_COUNT];
	char	**list[S_COUNT];
	size_t	 n_list[S_COUNT];
};

static char *
dup_bytes(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	memcpy(s, p, n);
	s[n] = '\0';	/* an embedded NUL ends it, as in a C string */
	return s;
}

static char **
split(const char *s, size_t *n)
{
	size_t cap = 1;
	char **l, *copy = strdup(s), *tok, *save = NULL;

	for (const char *p = s; *p; p++)
		cap += *p == ',';
	l = calloc(cap + 1, sizeof(*l));
	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save))
		l[(*n)++] = strdup(tok);
	free(copy);
	return l;
}

/* ---- a minimal RFC 8259 validator ---- */

struct json {
	const char	*p;
	const char	*end;
	int		 depth;
};

static void
ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int
lit(struct json *j, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return -1;
	j->p += n;
	return 0;
}

static int
string(struct json *j)
{
	size_t n;

	if (j->p >= j->end || *j->p++ != '"')
		return -1;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p;

		if (c < 0x20)
			return -1;	/* raw control character */
		if (c == '\\') {
			if (++j->p >= j->end)
				return -1;
			if (*j->p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (j->p + i >= j->end ||
					    !strchr("0123456789abcdefABCDEF",
					    j->p[i]) || j->p[i] == '\0')
						return -1;
				j->p += 5;
			} else if (strchr("\"\\/bfnrt", *j->p) && *j->p) {
				j->p++;
			} else
				return -1;
			continue;
		}
		if (c >= 0x80) {
			char tmp[5] = { 0 };

			memcpy(tmp, j->p, (size_t)(j->end - j->p) < 4 ?
			    (size_t)(j->end - j->p) : 4);
			if ((n = ipc_utf8_seq_len(tmp)) == 0)
				return -1;
			j->p += n;
			continue;
		}
		j->p++;
	}
	if (j->p >= j->end)
		return -1;
	j->p++;
	return 0;
}

static int
number(struct json *j)
{
	const char *start = j->p;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return -1;
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return -1;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	return j->p > start ? 0 : -1;
}

static int value(struct json *);

static int
members(struct json *j, char close, int keyed)
{
	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		ws(j);
		if (keyed) {
			if (string(j) == -1)
				return -1;
			ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return -1;
		}
		if (value(j) == -1)
			return -1;
		ws(j);
		if (j->p >= j->end)
			return -1;
		if (*j->p == close) {
			j->p++;
			return 0;
		}
		if (*j->p++ != ',')
			return -1;
	}
}

static int
value(struct json *j)
{
	int r;

	ws(j);
	if (j->p >= j->end || ++j->depth > 32)
		return -1;
	switch (*j->p) {
	case '{': r = members(j, '}', 1); break;
	case '[': r = members(j, ']', 0); break;
	case '"': r = string(j); break;
	case 't': r = lit(j, "true"); break;
	case 'f': r = lit(j, "false"); break;
	case 'n': r = lit(j, "null"); break;
	default: r = number(j);
	}
	j->depth--;
	return r;
}

static void
check_json(const char *buf, size_t len)
{
	struct json j = { buf, buf + len, 0 };

	FUZZ_CHECK(value(&j) == 0, "invalid JSON near offset %zu:\n%s",
	    (size_t)(j.p - buf), buf);
	ws(&j);
	FUZZ_CHECK(j.p == j.end, "trailing bytes after the JSON:\n%s", buf);
	FUZZ_CHECK(len > 0 && buf[len - 1] == '\n' &&
	    memchr(buf, '\n', len) == buf + len - 1,
	    "the JSON is not one line");
}

/* ---- the text: nothing a terminal would obey ---- */

static void
check_text(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		FUZZ_CHECK((c >= 0x20 || c == '\n') && c != 0x7f,
		    "control byte 0x%02x at offset %zu of the text:\n%s", c, i,
		    buf);
		FUZZ_CHECK(!(c == 0xc2 && i + 1 < len &&
		    (unsigned char)buf[i + 1] < 0xa0 &&
		    (unsigned char)buf[i + 1] >= 0x80),
		    "C1 control at offset %zu of the text", i);
	}
	FUZZ_CHECK(ipc_utf8_valid(buf), "the text is not UTF-8:\n%s", buf);
}

/* ---- the harness ---- */

/* harepdctl check: one line whatever the peers and workers said. */
static void
print_check(const struct status *st)
{
	struct metrics_now now = { .boot_ms = 1000000, .watchdog_ms = 2000 };
	char line[1400];
	size_t len;

	FUZZ_CHECK(check_judge(st, &now, line, sizeof(line)) <= CHECK_UNKNOWN,
	    "check level");
	len = strlen(line);
	FUZZ_CHECK(len > 0 && line[len - 1] == '\n', "check ends its line");
	for (size_t i = 0; i + 1 < len; i++)
		FUZZ_CHECK((unsigned char)line[i] >= 0x20 && line[i] != 0x7f,
		    "check: one line, no control byte");
}

static void
print_both(const struct status *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	FUZZ_CHECK((fp = open_memstream(&buf, &len)) != NULL, "memstream");
	status_print_text(fp, st);
	FUZZ_CHECK(fclose(fp) == 0, "fclose");
	FUZZ_CHECK(len > 0 && buf[len - 1] == '\n', "text output");
	check_text(buf, len);
	free(buf);
	buf = NULL;
	FUZZ_CHECK((fp = open_memstream(&buf, &len)) != NULL, "memstream");
	status_print_json(fp, st);
	FUZZ_CHECK(fclose(fp) == 0, "fclose");
	check_json(buf, len);
	free(buf);
	print_check(st);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Harepd__LocalView view;
	Harepd__Verdict verdict;
	Harepd__PeerAnswer peer, *peers[1] = { &peer };
	Models__IKnow answer;
	Models__Observation obs;
	Harepd__HbaApplied hba;
	struct status st;
	struct input in;
	struct fuzz_in f;
	const uint8_t *buf;
	size_t len;
	uint8_t fl[4];
	int64_t num[8];

	fuzz_in_init(&f, data, size);
	for (int i = 0; i < 4; i++)
		fl[i] = fuzz_byte(&f);
	for (int i = 0; i < 8; i++)
		num[i] = (int64_t)fuzz_u64(&f, 8);
	memset(&in, 0, sizeof(in));
	for (int i = 0; i < S_COUNT; i++) {
		in.s[i] = fuzz_chunk(&f, &buf, &len) ? dup_bytes(buf, len) :
		    strdup("");
		in.list[i] = split(in.s[i], &in.n_list[i]);
	}

	harepd__local_view__init(&view);
	view.node_id = (int32_t)num[0];
	view.node_name = in.s[S_NODE_NAME];
	view.ip = in.s[S_IP];
	view.witness = in.s[S_WITNESS];
	view.db_error = in.s[S_DB_ERROR];
	view.primaries = in.list[S_PRIMARIES];
	view.n_primaries = in.n_list[S_PRIMARIES];
	view.standbys = in.list[S_STANDBYS];
	view.n_standbys = in.n_list[S_STANDBYS];
	view.in_recovery = fl[0] & 1;
	view.timeline = (uint32_t)num[0];
	view.collected_at_ms = num[1];

	models__iknow__init(&answer);
	models__observation__init(&obs);
	answer.ip = in.s[S_A_IP];
	answer.nodename = in.s[S_A_NAME];
	answer.nodeid = (int32_t)(num[0] >> 32);
	answer.witness = in.s[S_A_WITNESS];
	answer.master = in.list[S_A_MASTER];
	answer.n_master = in.n_list[S_A_MASTER];
	answer.slaves = in.list[S_A_SLAVES];
	answer.n_slaves = in.n_list[S_A_SLAVES];
	obs.inrecovery = (fl[0] & 2) != 0;
	obs.timeline = (uint32_t)(num[0] >> 32);
	answer.observation = fl[0] & 4 ? &obs : NULL;
	harepd__peer_answer__init(&peer);
	peer.target = in.s[S_TARGET];
	peer.role = in.s[S_ROLE];
	peer.answered = (fl[0] & 8) != 0;
	peer.error = in.s[S_PEER_ERROR];
	peer.latency_us = num[2];
	peer.agrees = (fl[0] & 16) != 0;
	peer.answer = fl[0] & 32 ? &answer : NULL;

	harepd__verdict__init(&verdict);
	verdict.seq = (uint64_t)num[3];
	verdict.rw_allow = fl[1] & 1;
	verdict.ro_allow = (fl[1] & 2) != 0;
	verdict.reason = in.s[S_REASON];
	verdict.policy = in.s[S_POLICY];
	verdict.evidence = peers;
	verdict.n_evidence = fl[1] & 4 ? 1 : 0;
	verdict.lease_ms = (uint32_t)num[3];
	verdict.decided_at_ms = num[4];
	verdict.tick_us = num[5];

	harepd__hba_applied__init(&hba);
	hba.seq = (uint64_t)num[6];
	hba.changed = fl[2] & 1;
	hba.reloaded = (fl[2] & 2) != 0;
	hba.error = in.s[S_HBA_ERROR];
	hba.warnings = in.list[S_HBA_ERROR];
	hba.n_warnings = in.n_list[S_HBA_ERROR];
	hba.fenced = (fl[2] & 4) != 0;
	hba.rw_allow = (fl[2] & 8) != 0;
	hba.ro_allow = (fl[2] & 16) != 0;
	hba.applied_at_ms = num[7];

	/* what the supervisor owns: its clocks, the config path, workers */
	memset(&st, 0, sizeof(st));
	st.pid = 4242;
	st.mode = "client";
	st.config = in.s[S_CONFIG];
	st.now_ms = 1700000000000LL;
	st.started_ms = st.now_ms - (fl[3] * 1000003LL);
	st.paused = fl[3] & 1;
	st.ready = (fl[3] & 2) != 0;
	st.view = fl[1] & 8 ? &view : NULL;
	st.verdict = fl[1] & 16 ? &verdict : NULL;
	st.hba = fl[1] & 32 ? &hba : NULL;
	st.hba_changed_ms = fl[2] & 32 ? st.now_ms - fl[3] * 997LL : 0;
	for (size_t i = 0; i < ROLE_COUNT; i++) {
		struct status_worker *w = &st.workers[st.n_workers++];

		w->name = i == 0 ? "rpc" : i == 1 ? "probe" : "hba";
		w->user = "nobody";
		w->state = fl[3] & 4 ? "backoff" : "running";
		w->pid = fl[3] & 8 ? 0 : 100 + (pid_t)i;
		w->uptime_ms = fl[3] * 1009LL;
		w->restarts = fl[3];
		/* a worker's last words (fatal()'s message) */
		w->last_exit = in.s[S_LAST_EXIT];
		w->restart_in_ms = fl[3] & 4 ? 500 : 0;
		w->crash_loop = (fl[3] & 16) != 0;
	}
	print_both(&st);

	for (int i = 0; i < S_COUNT; i++) {
		for (size_t k = 0; k < in.n_list[i]; k++)
			free(in.list[i][k]);
		free(in.list[i]);
		free(in.s[i]);
	}
	return 0;
}
