/*
 * The sample service and the VPC shell: `vpcd demo-app` and `vpcd exec`.
 */
#ifndef VPCD_DEMO_DEMO_H
#define VPCD_DEMO_DEMO_H

#include <stddef.h>
#include <stdint.h>

/* `vpcd demo-app`: HTTP/1.1 on $HOST:$PORT (defaults 127.0.0.1:8080).
 * GET / -> "hello from <SERVICE_NAME or demo-app> task on <HOST>:<PORT>\n";
 * /application-status/health -> "OK"; /echo -> the request head back;
 * /sleep?ms=N -> answers after N ms; /burn?ms=N -> after N ms of CPU;
 * /sink -> "sank N bytes\n" after the last byte of a body of any size (read
 * and dropped); /bytes?n=N -> N 'x' bytes (N at most 256 MiB);
 * /ws -> a WebSocket echo (RFC 6455: data frames back as sent, ping ->
 * pong, close -> close); /close, /garbage, /bighead -> no answer, a
 * non-HTTP answer, a 40 KB response head (a misbehaving target); anything
 * else 404. Arguments are ignored (argv[0] is the subcommand).
 * Runs until SIGTERM or SIGINT and returns 0 then; 1 when it cannot listen. */
int demo_app_main(int argc, char **argv);

/* `vpcd exec -- CMD...`: runs argv so that getaddrinfo uses the resolver at
 * resolver_addr:53 (host order), in a private mount namespace whose
 * /etc/resolv.conf names it. Returns the exit status for vpcd to exit with
 * (127 when exec fails, 1 with a message when the namespace cannot be set
 * up). Does not return when exec succeeds. */
int vpc_exec_main(uint32_t resolver_addr, char **argv);

/* What `vpcd exec` does, in parts, for the ECS plane's tasks. write_resolv:
 * a resolv.conf naming resolver_addr (port 53) in $TMPDIR or /tmp; its path
 * into path (the caller unlinks it). resolv_enter: in the calling process,
 * a private mount namespace (through a user namespace when needed) with
 * resolv bind-mounted over /etc/resolv.conf. Both return 0 or -errno. */
int vpc_exec_write_resolv(uint32_t resolver_addr, char *path, size_t len);
int vpc_exec_resolv_enter(const char *resolv);

#endif
