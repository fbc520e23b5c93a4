/* gRPC status codes by name, as logs, status and tests print them. */
#ifndef HAREPD_UTIL_GRPC_STATUS_H
#define HAREPD_UTIL_GRPC_STATUS_H

/* "OK", "CANCELLED", ... "UNAUTHENTICATED"; "UNKNOWN" outside 0..16. */
const char *grpc_status_name(int code);

#endif
