/*
 * Address parsing and socket set-up shared by every plane.
 */
#include "core/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

uint32_t cidr4_mask(uint8_t prefix)
{
	return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

int addr4_parse(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

int cidr4_parse(const char *s, struct cidr4 *out)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	char *end;
	long p;
	size_t n;

	if (!slash || (n = (size_t)(slash - s)) >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (addr4_parse(buf, &out->addr) < 0)
		return -1;
	errno = 0;
	p = strtol(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || p < 0 || p > 32)
		return -1;
	out->prefix = (uint8_t)p;
	out->addr &= cidr4_mask(out->prefix);
	return 0;
}

int addrport4_parse(const char *s, uint32_t *addr, uint16_t *port)
{
	char buf[32];
	const char *colon = strrchr(s, ':');
	char *end;
	long p;
	size_t n;

	if (!colon || (n = (size_t)(colon - s)) >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (addr4_parse(buf, addr) < 0)
		return -1;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

bool cidr4_contains(struct cidr4 c, uint32_t addr)
{
	return (addr & cidr4_mask(c.prefix)) == c.addr;
}

char *addr4_str(uint32_t addr, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255,
		 addr & 255);
	return buf;
}

void sockaddr4_make(struct sockaddr_in *sa, uint32_t addr, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(addr);
	sa->sin_port = htons(port);
}

int sock_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int sock_listen4(uint32_t addr, uint16_t port, int type)
{
	return sock_listen4_opt(addr, port, type, false);
}

int sock_listen4_opt(uint32_t addr, uint16_t port, int type, bool reuseport)
{
	struct sockaddr_in sa;
	int one = 1, fd, err;

	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	sockaddr4_make(&sa, addr, port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 1024) < 0)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

int sock_connect4(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sa;
	int one = 1, fd, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sockaddr4_make(&sa, addr, port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}
