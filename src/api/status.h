/*
 * The client side of the admin API: `vpcd status` (tables or raw JSON) and
 * the resolver look-up that `vpcd exec` needs.
 */
#ifndef VPCD_API_STATUS_H
#define VPCD_API_STATUS_H

#include <stdint.h>

/* Prints the stack of the vpcd at api ("ADDR:PORT") as tables (or JSON).
 * Returns the process exit code: 0, or 1 with a message. */
int status_main(const char *api, int json);
/* `vpcd host stop ID`: POST /v1/hosts/ID/stop. Returns the exit code. */
int status_host_stop(const char *api, const char *id);
/* Asks the vpcd at api for its resolver address. Returns 0 or -1. */
int status_resolver(const char *api, uint32_t *addr);

#endif
