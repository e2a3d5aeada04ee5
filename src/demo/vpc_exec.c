/*
 * `vpcd exec -- CMD`: run a command "as a host inside the VPC", which for
 * name resolution means: its /etc/resolv.conf names the VPC resolver. The
 * file is replaced only for this process tree, by a bind mount in a private
 * mount namespace; the host's own file is never touched. Without privilege
 * an unprivileged user namespace provides the right to mount.
 */
#include "demo/demo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/addr.h"

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(text);
	ssize_t w;
	if (fd < 0)
		return -errno;
	w = write(fd, text, n);
	if (w < 0 || (size_t)w != n) {
		int err = w < 0 ? -errno : -EIO;
		close(fd);
		return err;
	}
	close(fd);
	return 0;
}

/* Enters a new mount namespace, through a user namespace if plain unshare
 * is not allowed. Returns 0 or -errno (of the last attempt). */
static int enter_namespace(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];
	int rc;

	if (unshare(CLONE_NEWNS) == 0)
		return 0;
	if (errno != EPERM)
		return -errno;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return -errno;
	/* Map our own ids onto themselves, so files and the command keep the
	 * caller's identity; setgroups must be denied before gid_map. */
	rc = write_file("/proc/self/setgroups", "deny");
	if (rc < 0 && rc != -ENOENT)
		return rc;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if ((rc = write_file("/proc/self/uid_map", map)) < 0)
		return rc;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	if ((rc = write_file("/proc/self/gid_map", map)) < 0)
		return rc;
	return 0;
}

/* Writes the replacement resolv.conf to a temporary file and returns its
 * descriptor-free path in tmp; 0 or -errno. */
static int make_resolv(uint32_t resolver_addr, char *tmp, size_t len)
{
	char a[16], text[128];
	int fd, n;
	ssize_t w;
	const char *dir = getenv("TMPDIR");

	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(tmp, len, "%s/vpcd-resolv-XXXXXX", dir) >= len)
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	n = snprintf(text, sizeof(text), "nameserver %s\noptions attempts:2 timeout:1\n",
	             addr4_str(resolver_addr, a));
	w = write(fd, text, (size_t)n);
	if (w != n || fchmod(fd, 0644) < 0) {
		int err = w < 0 ? -errno : -EIO;
		close(fd);
		unlink(tmp);
		return err;
	}
	close(fd);
	return 0;
}

int vpc_exec_write_resolv(uint32_t resolver_addr, char *path, size_t len)
{
	return make_resolv(resolver_addr, path, len);
}

int vpc_exec_resolv_enter(const char *resolv)
{
	char target[PATH_MAX];
	int rc;
	if (!realpath("/etc/resolv.conf", target))
		return -errno;
	rc = enter_namespace();
	if (rc < 0)
		return rc;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	if (mount(resolv, target, NULL, MS_BIND, NULL) < 0)
		return -errno;
	return 0;
}

int vpc_exec_main(uint32_t resolver_addr, char **argv)
{
	char target[PATH_MAX], tmp[PATH_MAX];
	sigset_t none;
	int rc;

	if (!argv || !argv[0]) {
		fprintf(stderr, "vpcd exec: no command given (usage: vpcd exec -- CMD [ARG]...)\n");
		return 1;
	}
	/* /etc/resolv.conf is often a symlink (systemd-resolved, containers):
	 * the mount goes onto the file it points at. */
	if (!realpath("/etc/resolv.conf", target)) {
		fprintf(stderr,
		        "vpcd exec: /etc/resolv.conf does not resolve to a file (%s); create it "
		        "(it may be an empty file) so that it can be replaced for CMD\n",
		        strerror(errno));
		return 1;
	}
	rc = enter_namespace();
	if (rc < 0) {
		fprintf(
		    stderr,
		    "vpcd exec: cannot create a private mount namespace (%s).\n"
		    "  vpcd exec needs root or CAP_SYS_ADMIN, or unprivileged user namespaces\n"
		    "  (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0).\n"
		    "  Alternatives: run it with sudo, or point the command's resolver at\n"
		    "  the VPC resolver yourself (nameserver in /etc/resolv.conf).\n",
		    strerror(-rc));
		return 1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "vpcd exec: cannot make / private in the new namespace: %s\n",
		        strerror(errno));
		return 1;
	}
	rc = make_resolv(resolver_addr, tmp, sizeof(tmp));
	if (rc < 0) {
		fprintf(stderr, "vpcd exec: cannot write a temporary resolv.conf: %s\n",
		        strerror(-rc));
		return 1;
	}
	if (mount(tmp, target, NULL, MS_BIND, NULL) < 0) {
		fprintf(stderr, "vpcd exec: cannot bind-mount %s over %s: %s\n", tmp, target,
		        strerror(errno));
		unlink(tmp);
		return 1;
	}
	/* The mount holds the inode; the name is no longer needed. */
	unlink(tmp);
	/* A blocked mask survives exec; the command should start clean even
	 * if the caller had already set up a loop with signalfd. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], argv);
	fprintf(stderr, "vpcd exec: %s: %s\n", argv[0], strerror(errno));
	return 127;
}
