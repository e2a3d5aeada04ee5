/*
 * IPv4 addresses and CIDRs as host-order uint32, and socket helpers.
 */
#ifndef VPCD_CORE_ADDR_H
#define VPCD_CORE_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

struct cidr4 {
	uint32_t addr; /* host order, network bits only */
	uint8_t prefix;
};

/* "10.0.1.0/24" -> cidr. Returns 0, or -1 if malformed. */
int cidr4_parse(const char *s, struct cidr4 *out);
/* "1.2.3.4" -> host order address. Returns 0, or -1. */
int addr4_parse(const char *s, uint32_t *out);
/* "ADDR:PORT" -> address and port. Returns 0, or -1. */
int addrport4_parse(const char *s, uint32_t *addr, uint16_t *port);
bool cidr4_contains(struct cidr4 c, uint32_t addr);
uint32_t cidr4_mask(uint8_t prefix);
/* Writes dotted quad into buf (>= 16 bytes); returns buf. */
char *addr4_str(uint32_t addr, char *buf);
void sockaddr4_make(struct sockaddr_in *sa, uint32_t addr, uint16_t port);

/* Non-blocking, close-on-exec listening socket (SO_REUSEADDR). type is
 * SOCK_STREAM or SOCK_DGRAM. Returns the fd, or -errno. */
int sock_listen4(uint32_t addr, uint16_t port, int type);
/* sock_listen4, with SO_REUSEPORT when reuseport: several sockets of this
 * user share addr:port and the kernel spreads connections over them. */
int sock_listen4_opt(uint32_t addr, uint16_t port, int type, bool reuseport);
/* Starts a non-blocking connect; returns the fd (connect may be in progress),
 * or -errno. */
int sock_connect4(uint32_t addr, uint16_t port);
int sock_set_nonblock(int fd);

#endif
