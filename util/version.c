#include "util/version.h"

#include "version_def.h"

const char *
harepd_version(void)
{
	return HAREPD_VERSION;
}

const char *
harepd_git_hash(void)
{
	return HAREPD_GIT_HASH;
}

const char *
harepd_default_config(void)
{
	return HAREPD_SYSCONFDIR "/harepd/conf.yml";
}
