/*
 * harepd: the command line (check or print the config, dry-run pg_hba,
 * run the supervisor, or, for the supervisor's exec, run a worker) and
 * the role table, the one place that says which processes harepd is made
 * of. Read it first: every worker, what it may say, what it is told, where
 * it runs, as whom, and how it is restarted.
 */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/conf.h"
#include "harepd.h"
#include "ipc/log.h"
#include "supervisor/sup.h"
#include "supervisor/supervisor.h"
#include "util/version.h"
#include "worker-hba/hba.h"
#include "worker-metrics/scrape.h"
#include "worker-probe/probe.h"
#include "worker-rpc/rpc.h"

#define BODY(x)	BODY_BIT(HAREPD__ENVELOPE__BODY_##x)
#define BODY_NONE HAREPD__ENVELOPE__BODY__NOT_SET

/* Every worker is needed for as long as harepd runs. */
#define PERMANENT { RESTART_PERMANENT, BACKOFF_MIN_MS, BACKOFF_MAX_MS, \
	BACKOFF_HEALTHY_MS, RESTART_BURST, RESTART_WINDOW_MS }

/* The metrics worker runs only when there is an address to serve on. */
static bool
metrics_wanted(const struct conf *c)
{
	return c->metrics_listen != NULL;
}

/*
 * may_send is enforced (OpenSSH's monitor table): any other body gets the
 * worker restarted. Stop order: stop deciding first (probe), then stop
 * editing pg_hba.conf (hba), and stop answering peers last (rpc). The
 * probe's LocalView comes every watchDog seconds whatever happens, so
 * it doubles as its heartbeat. The TLS PEMs (the private key among them)
 * go only to the workers that speak gRPC: rpc as server, probe as client.
 * The metrics worker (metrics.listen) parses HTTP from whoever can reach
 * it, so it runs unprivileged apart from the supervisor and from the
 * gRPC worker's failure domain, and is only told the rendered page; it
 * stops last, so a scrape during a stop sees the workers go.
 */
static const struct role roles[ROLE_COUNT] = {
	[ROLE_RPC] = { "rpc", ROLE_RPC, RPC_USER, rpc_worker_main,
	    BODY(HELLO) | BODY(LOG) | BODY(GATE_SERVED) | BODY(RPC_SERVED),
	    BODY(CONFIG) | BODY(CONTROL) | BODY(LOCAL_VIEW) | BODY(HBA_APPLIED) |
	    BODY(GATE_DECLARED),
	    MODE_BIT(MODE_DUAL) | MODE_BIT(MODE_SERVER_ONLY),
	    PERMANENT, 2, false, BODY_NONE, true },
	[ROLE_PROBE] = { "probe", ROLE_PROBE, POSTGRES_USER, probe_worker_main,
	    BODY(HELLO) | BODY(LOG) | BODY(LOCAL_VIEW) | BODY(VERDICT) |
	    BODY(GATE_DECLARED),
	    BODY(CONFIG) | BODY(CONTROL) | BODY(GATE_SERVED),
	    MODE_BIT(MODE_DUAL) | MODE_BIT(MODE_SERVER_ONLY) |
	    MODE_BIT(MODE_CLIENT_ONLY),
	    PERMANENT, 0, true, HAREPD__ENVELOPE__BODY_LOCAL_VIEW, true },
	[ROLE_HBA] = { "hba", ROLE_HBA, POSTGRES_USER, hba_worker_main,
	    BODY(HELLO) | BODY(LOG) | BODY(HBA_APPLIED),
	    BODY(CONFIG) | BODY(CONTROL) | BODY(VERDICT),
	    MODE_BIT(MODE_DUAL) | MODE_BIT(MODE_CLIENT_ONLY),
	    PERMANENT, 1, true, BODY_NONE, false },
	[ROLE_METRICS] = { "metrics", ROLE_METRICS, RPC_USER,
	    metrics_worker_main,
	    BODY(HELLO) | BODY(LOG),
	    BODY(CONFIG) | BODY(CONTROL) | BODY(METRICS_TEXT),
	    MODE_BIT(MODE_DUAL) | MODE_BIT(MODE_SERVER_ONLY) |
	    MODE_BIT(MODE_CLIENT_ONLY),
	    PERMANENT, 3, false, BODY_NONE, false, metrics_wanted },
};

static const struct role *
role_by_name(const char *name)
{
	for (size_t i = 0; i < ROLE_COUNT; i++)
		if (strcmp(roles[i].name, name) == 0)
			return &roles[i];
	return NULL;
}

/* -h asks for it: stdout, exit 0; a mistake: stderr, exit 64. */
static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: harepd [-f file] [-v] [--server-only | --client-only]\n"
	    "       harepd --version\n"
	    "       harepd [-f file] -t | -n\n"
	    "       harepd [-f file] --print-hba rw=allow|deny[,ro=allow|deny]\n"
	    "       harepd -h | --help\n"
	    "the config file is %s unless -f names another\n",
	    CONF_DEFAULT_PATH);
	exit(status);
}

static void __attribute__((noreturn))
conflict(const char *a, const char *b)
{
	fprintf(stderr, "harepd: %s and %s cannot go together\n", a, b);
	usage(64);
}

static void
print_diag(const struct conf_diag *d)
{
	for (size_t i = 0; i < d->n_warnings; i++)
		fprintf(stderr, "warning: %s\n", d->warnings[i]);
	for (size_t i = 0; i < d->n_errors; i++)
		fprintf(stderr, "%s\n", d->errors[i]);
}

static struct conf *
load_or_exit(const char *path)
{
	struct conf_diag diag = { 0 };
	struct conf *c = conf_load(path, &diag);

	print_diag(&diag);
	conf_diag_free(&diag);
	if (c == NULL)
		exit(EX_CONFIG_BAD);
	return c;
}

/*
 * What the hba worker would find in a local database, asked as the user
 * it runs as (peer authentication, that user's ~/.pgpass), in a child:
 * the findings are warnings, one per line from the pipe.
 */
static void
check_database(const struct conf *c)
{
	struct privdrop pd;
	struct passwd *pw;
	char line[2048], why[256];
	int p[2], st;
	pid_t pid;
	FILE *in;

	/* a bad user is an error of the files check already */
	if (!hba_check_is_local(c->repmgr_host) ||
	    privdrop_prepare(&pd, c->pg_user, why, sizeof(why)) == -1 ||
	    pipe(p) == -1)
		return;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(p[0]);
		if (privdrop_apply(&pd, why, sizeof(why)) == -1)
			_exit(1);
		if (pd.drop && (pw = getpwuid(pd.uid)) != NULL)
			setenv("HOME", pw->pw_dir, 1);
		hba_check_database(c, p[1]);
		_exit(0);
	}
	close(p[1]);
	if (pid == -1 || (in = fdopen(p[0], "r")) == NULL) {
		close(p[0]);
		return;
	}
	while (fgets(line, sizeof(line), in) != NULL)
		fprintf(stderr, "warning: %s", line);
	fclose(in);
	while (waitpid(pid, &st, 0) == -1)
		;
}

/* harepd -t: every message of the loader and of the files it names, in
 * one run; exit 78 on any error. Then, on a valid config, what the local
 * database says of the hba worker's role. */
static int
check_config(const char *path)
{
	struct conf_diag diag = { 0 };
	struct conf *c = conf_check(path, &diag);

	print_diag(&diag);
	conf_diag_free(&diag);
	if (c == NULL)
		return EX_CONFIG_BAD;
	check_database(c);
	conf_free(c);
	printf("configuration OK\n");
	return EX_CONFIG_OK;
}

static int
run_role(const char *name)
{
	const struct role *r = role_by_name(name);

	if (r == NULL) {
		fprintf(stderr, "harepd: unknown role \"%s\"\n", name);
		return 64;
	}
	return r->entry();
}

enum { OPT_SERVER_ONLY = 256, OPT_CLIENT_ONLY, OPT_PRINT_HBA, OPT_ROLE,
    OPT_VERSION };

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "server-only", no_argument, NULL, OPT_SERVER_ONLY },
		{ "client-only", no_argument, NULL, OPT_CLIENT_ONLY },
		{ "print-hba", required_argument, NULL, OPT_PRINT_HBA },
		{ "role", required_argument, NULL, OPT_ROLE },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = CONF_DEFAULT_PATH, *print_hba = NULL, *role = NULL;
	const char *action = NULL, *mode_opt = NULL;
	enum harepd_mode mode = MODE_DUAL;
	int ch, check = 0, print = 0, verbose = 0;
	struct conf *c;

	while ((ch = getopt_long(argc, argv, "f:tnvh", longopts, NULL)) != -1) {
		const char *this_action = NULL, *this_mode = NULL;

		switch (ch) {
		case 'f': path = optarg; break;
		case 't': check = 1; this_action = "-t"; break;
		case 'n': print = 1; this_action = "-n"; break;
		case 'v': verbose++; break;
		case 'h': usage(0);
		case OPT_SERVER_ONLY:
			mode = MODE_SERVER_ONLY;
			this_mode = "--server-only";
			break;
		case OPT_CLIENT_ONLY:
			mode = MODE_CLIENT_ONLY;
			this_mode = "--client-only";
			break;
		case OPT_PRINT_HBA:
			print_hba = optarg;
			this_action = "--print-hba";
			break;
		case OPT_ROLE: role = optarg; this_action = "--role"; break;
		case OPT_VERSION:
			printf("harepd %s (git %s)\n", harepd_version(),
			    harepd_git_hash());
			return 0;
		default: usage(64);
		}
		/* one thing to do, in one mode: a second is a mistake, not
		 * something to pick silently */
		if (this_action != NULL && action != NULL)
			conflict(action, this_action);
		if (this_mode != NULL && mode_opt != NULL &&
		    strcmp(this_mode, mode_opt) != 0)
			conflict(mode_opt, this_mode);
		if (this_action != NULL)
			action = this_action;
		if (this_mode != NULL)
			mode_opt = this_mode;
	}
	if (optind != argc)
		usage(64);
	/* -t accepts a mode (a unit's ExecStartPre= may pass the same
	 * options as its ExecStart=); -n, --print-hba and --role have none */
	if (mode_opt != NULL && action != NULL && strcmp(action, "-t") != 0)
		conflict(action, mode_opt);
	log_set_verbose(verbose);
	if (role != NULL)
		return run_role(role);

	if (check)
		return check_config(path);
	c = load_or_exit(path);
	if (print) {
		conf_print(stdout, c);
		conf_free(c);
		return EX_CONFIG_OK;
	}
	if (print_hba != NULL) {
		int rc = hba_print_main(c, print_hba);
		conf_free(c);
		return rc;
	}
	return supervisor_main(roles, path, c, mode, verbose);
}
