/*
 * The client side of the admin API: `vpcd status` (tables or raw JSON) and
 * the resolver look-up that `vpcd exec` needs.
 */
#ifndef VPCD_API_STATUS_H
#define VPCD_API_STATUS_H

#include <stdint.h>

#include <jansson.h>

/* One blocking request to the admin API at api ("ADDR:PORT"), with an
 * optional JSON body (NUL-terminated) and a send/receive timeout. Returns
 * the response's JSON body (the caller owns it) or NULL, and its status in
 * *code (0 when no response came). Used by every client subcommand. */
json_t *status_api_call(const char *api, const char *method, const char *path,
			const char *body, int timeout_s, int *code);

/* Prints the stack of the vpcd at api ("ADDR:PORT") as tables (or JSON).
 * Returns the process exit code: 0, or 1 with a message. */
int status_main(const char *api, int json);
/* `vpcd host stop ID`: POST /v1/hosts/ID/stop. Returns the exit code. */
int status_host_stop(const char *api, const char *id);
/* Asks the vpcd at api for its resolver address. Returns 0 or -1. */
int status_resolver(const char *api, uint32_t *addr);

#endif
