#ifndef HAREPD_VERSION_H
#define HAREPD_VERSION_H

/*
 * The release number lives in the top-level VERSION file and nowhere
 * else; the Makefile turns it, and the git commit the tree was built
 * from, into $(BUILD)/version_def.h.  A build outside a git checkout
 * (a Debian source package) reports the hash as "unknown".
 */
const char *harepd_version(void);
const char *harepd_git_hash(void);
/* $(SYSCONFDIR)/harepd/conf.yml, SYSCONFDIR given at build time (/etc). */
const char *harepd_default_config(void);

#endif
