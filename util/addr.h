/*
 * Whether a host as written in the config is this machine: "localhost",
 * 127.0.0.0/8 or ::1 (also ::ffff:127.x). A name other than localhost is
 * not resolved: it counts as another host.
 */
#ifndef HAREPD_UTIL_ADDR_H
#define HAREPD_UTIL_ADDR_H

#include <stdbool.h>

bool	 addr_is_loopback(const char *host);

#endif
