#include <string.h>
#include <stdlib.h>

#include "util/pem.h"
#include "util/xmalloc.h"

char *
pem_string(const uint8_t *data, size_t len)
{
	char *s;

	if (len == 0)
		return NULL;
	s = xmalloc(len + 1);
	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

void
pem_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}
