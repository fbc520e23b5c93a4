/*
 * Test helper: what HAProxy's `option pgsql-check user U` does (docs/HBA.md),
 * from a chosen source address: one StartupMessage with only user=U, then
 * the first reply. libpq cannot bind a source address, this can.
 *
 *   hba_pgcheck SRC_IP DST_IP PORT USER
 *     -> "auth N"      an authentication request (HAProxy: UP)
 *     -> "error TEXT"  an ErrorResponse, TEXT its message (HAProxy: DOWN)
 *     -> "closed" / "connect: ..." otherwise; exit 0 only for auth/error
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

static size_t
startup_message(uint8_t *buf, const char *user)
{
	size_t n = 8;
	uint32_t v;

	memcpy(buf + n, "user", 5);
	n += 5;
	memcpy(buf + n, user, strlen(user) + 1);
	n += strlen(user) + 1;
	buf[n++] = '\0';
	v = htonl((uint32_t)n);
	memcpy(buf, &v, 4);
	v = htonl(196608);	/* protocol 3.0 */
	memcpy(buf + 4, &v, 4);
	return n;
}

static int
dial(const char *src, const char *dst, int port)
{
	struct sockaddr_in s = { .sin_family = AF_INET };
	struct sockaddr_in d = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	d.sin_port = htons((uint16_t)port);
	if (fd == -1 || inet_pton(AF_INET, src, &s.sin_addr) != 1 ||
	    inet_pton(AF_INET, dst, &d.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&s, sizeof(s)) == -1 ||
	    connect(fd, (struct sockaddr *)&d, sizeof(d)) == -1) {
		perror("connect");
		printf("connect: failed\n");
		exit(1);
	}
	return fd;
}

/* The 'M' field of an ErrorResponse body. */
static const char *
error_message(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && p[i] != '\0';) {
		const char *val = (const char *)p + i + 1;

		if (p[i] == 'M')
			return val;
		i += 1 + strnlen(val, n - i - 1) + 1;
	}
	return "(no message)";
}

int
main(int argc, char *argv[])
{
	uint8_t buf[4096];
	ssize_t got = 0, r;
	uint32_t len, code;
	int fd;

	if (argc != 5) {
		fprintf(stderr, "usage: hba_pgcheck SRC DST PORT USER\n");
		return 64;
	}
	fd = dial(argv[1], argv[2], atoi(argv[3]));
	if (write(fd, buf, startup_message(buf, argv[4])) < 0)
		return 1;
	/* one message, as HAProxy reads it: the server then waits for a
	 * password and would not close for a minute */
	len = 0;
	while (got < (ssize_t)sizeof(buf) - 1 && (got < 5 ||
	    (size_t)got < 1 + (size_t)len) &&
	    (r = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0) {
		got += r;
		if (got >= 5) {
			memcpy(&len, buf + 1, 4);
			len = ntohl(len);
		}
	}
	close(fd);
	if (got < 9) {
		printf("closed\n");
		return 1;
	}
	buf[got] = '\0';
	if (buf[0] == 'R') {
		memcpy(&code, buf + 5, 4);
		printf("auth %u\n", ntohl(code));
		return 0;
	}
	if (buf[0] == 'E') {
		printf("error %s\n", error_message(buf + 5, (size_t)got - 5));
		return 0;
	}
	printf("closed\n");
	return 1;
}
