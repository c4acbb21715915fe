// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Keeps dfuflash-sim alive when a client's uevent socket goes away under umockdev.
 *
 * umockdev_testbed_uevent() sends each uevent to every "event<fd>" socket in the test
 * bed's root; the preload binds one for every netlink uevent socket a client opens.
 * libumockdev 0.17 ends the whole process (abort(), or err() in later releases) when:
 *  - connect() fails with ENOENT: a new client's preload unlinks a stale "event<fd>" of a
 *    process that has exited just before it binds its own, and the sender's glob() saw the
 *    old name;
 *  - sendmsg() fails at all in 0.17 (ECONNREFUSED when the client closed its socket after
 *    our connect(), EAGAIN when it does not read fast enough).
 * Both happen when a client ends or starts while the device re-enumerates (a `:leave`
 * followed by the next command), which is what every test does.
 *
 * These two wrappers replace the C library's functions for the whole process (the
 * executable comes first in symbol lookup and libumockdev calls them through its PLT;
 * tests/sim/uevent-race.sh checks that they are exported) but change
 * nothing except failures on such event sockets:
 *  - connect() ENOENT: tried again for up to about 10 ms (the new client binds right
 *    after its unlink); then reported as ECONNREFUSED, which umockdev skips;
 *  - sendmsg() to a client that is gone: the uevent is dropped, reported as sent;
 *  - sendmsg() EAGAIN: tried again for up to about 200 ms, then dropped with a warning.
 */
#include "config.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* the tree builds with -fvisibility=hidden: these two must be seen by libumockdev */
#define INTERPOSED __attribute__((visibility("default")))

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);

static connect_fn next_connect;
static sendmsg_fn next_sendmsg;
static pthread_once_t resolved = PTHREAD_ONCE_INIT;

static void resolve(void)
{
	next_connect = (connect_fn)dlsym(RTLD_NEXT, "connect");
	next_sendmsg = (sendmsg_fn)dlsym(RTLD_NEXT, "sendmsg");
}

/* Is @sa (of @len bytes) the "event<fd>" socket of a client in the test bed
 * ($UMOCKDEV_DIR)?  Reads nothing past @len. */
static bool is_event_socket(const void *sa, socklen_t len)
{
	const struct sockaddr_un *un = sa;
	const char *root = getenv("UMOCKDEV_DIR");
	size_t n, plen;

	if (!sa || len <= offsetof(struct sockaddr_un, sun_path) || !root || !*root)
		return false;
	if (un->sun_family != AF_UNIX)
		return false;
	plen = strnlen(un->sun_path, len - offsetof(struct sockaddr_un, sun_path));
	n = strlen(root);
	if (plen <= n + 6 || memcmp(un->sun_path, root, n) != 0 ||
	    memcmp(un->sun_path + n, "/event", 6) != 0)
		return false;
	for (size_t i = n + 6; i < plen; i++)
		if (!isdigit((unsigned char)un->sun_path[i]))
			return false;
	return true;
}

INTERPOSED int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int r;

	pthread_once(&resolved, resolve);
	r = next_connect(fd, sa, len);
	if (r == 0 || errno != ENOENT || !is_event_socket(sa, len))
		return r;
	for (int i = 0; i < 20 && r < 0 && errno == ENOENT; i++) {
		usleep(500);
		r = next_connect(fd, sa, len);
	}
	if (r < 0 && errno == ENOENT)
		errno = ECONNREFUSED; /* gone for good: umockdev skips that client */
	return r;
}

static ssize_t msg_length(const struct msghdr *msg)
{
	ssize_t n = 0;

	for (size_t i = 0; i < msg->msg_iovlen; i++)
		n += (ssize_t)msg->msg_iov[i].iov_len;
	return n;
}

INTERPOSED ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	/* umockdev leaves msg_namelen 0 beside its whole struct sockaddr_un */
	socklen_t namelen = msg && msg->msg_namelen ? msg->msg_namelen : sizeof(struct sockaddr_un);
	ssize_t r;

	pthread_once(&resolved, resolve);
	r = next_sendmsg(fd, msg, flags);
	if (r >= 0 || !msg || !is_event_socket(msg->msg_name, namelen))
		return r;
	for (int i = 0; i < 40 && r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK); i++) {
		usleep(5000);
		r = next_sendmsg(fd, msg, flags);
	}
	if (r >= 0)
		return r;
	switch (errno) {
	case ECONNREFUSED:
	case ENOENT:
	case ECONNRESET:
	case EPIPE:
		return msg_length(msg); /* the client has gone: nobody to tell */
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
		fprintf(stderr,
			"dfuflash-sim: a client does not read its uevents (%s); one dropped\n",
			((const struct sockaddr_un *)msg->msg_name)->sun_path);
		return msg_length(msg);
	default:
		return r;
	}
}
