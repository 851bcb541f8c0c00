/*
 * Fault injection for the tests, by LD_PRELOAD: what the kernel may do to
 * any program, done often.  Nothing changes unless FAULT_SEED is set.
 *
 *   FAULT_SEED=N        turn it on; the faults follow from N
 *   FAULT_RATE=P        percent of the calls below that get a fault (20)
 *   FAULT_KINDS=LIST    of short,eintr,eagain (all three)
 *   FAULT_SOCKBUF=B     SO_SNDBUF and SO_RCVBUF of B bytes on every socket
 *                       made, accepted or paired
 *   FAULT_FORK_FAIL=F:N forks F to F+N-1 of each process (from 1) fail
 *                       with EAGAIN
 *   FAULT_PROC=hidden   other processes' /proc entries cannot be opened
 *                       (EACCES), as with the hidepid=2 mount option
 *   FAULT_LOG=FILE      each process appends what it did at its exit
 *   FAULT_ONLY=LIST     only in these programs (comma-separated names):
 *                       not in the shells of libtool's wrapper scripts
 *
 * read, write, readv, writev, recv, send, recvmsg and sendmsg on a pipe
 * or a stream socket, and only there, return a short count (at least one
 * byte), fail with EINTR before doing anything where they could block, or
 * fail with EAGAIN where they could not (a non-blocking descriptor, or
 * MSG_DONTWAIT), a write only while earlier bytes wait unread.  A forked child draws its faults from the seed and the number
 * of its fork, so a run repeats itself as far as the scheduling lets it.
 *
 * Built as a plain shared object by make check, without the sanitizers of
 * the tree, so that it loads into any program of the tests.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <linux/sockios.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHORT	1
#define EINTR_	2
#define EAGAIN_	4
#define IOV_COPY 64

static ssize_t	(*real_read)(int, void *, size_t);
static ssize_t	(*real_write)(int, const void *, size_t);
static ssize_t	(*real_readv)(int, const struct iovec *, int);
static ssize_t	(*real_writev)(int, const struct iovec *, int);
static ssize_t	(*real_recv)(int, void *, size_t, int);
static ssize_t	(*real_send)(int, const void *, size_t, int);
static ssize_t	(*real_recvmsg)(int, struct msghdr *, int);
static ssize_t	(*real_sendmsg)(int, const struct msghdr *, int);
static int	(*real_socket)(int, int, int);
static int	(*real_socketpair)(int, int, int, int[2]);
static int	(*real_accept)(int, struct sockaddr *, socklen_t *);
static int	(*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static pid_t	(*real_fork)(void);
static FILE	*(*real_fopen)(const char *, const char *);
static FILE	*(*real_fopen64)(const char *, const char *);
static int	(*real_open)(const char *, int, ...);
static int	(*real_openat)(int, const char *, int, ...);
static void	(*real__exit)(int) __attribute__((noreturn));

static int		 on;
static unsigned		 rate = 20;
static unsigned		 kinds = SHORT | EINTR_ | EAGAIN_;
static int		 sockbuf;
static unsigned long	 fork_first, fork_count, forks;
static int		 proc_hidden;
static char		 log_path[4096];	/* a copy: titles overwrite the
					   environment's strings */
static uint64_t		 seed, state;
static int		 child;
static int		 logged;

static struct {
	unsigned long	calls, shorts, eintrs, eagains, forkfails, denied,
			sockbufs;
} n;

/* splitmix64: a good spread from any seed, one step per decision. */
static uint64_t
next(void)
{
	uint64_t	z = (state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
report(void)
{
	char	line[256];
	int	fd, len;

	if (!on || log_path[0] == '\0' || logged)
		return;
	logged = 1;
	len = snprintf(line, sizeof line, "pid %d %s %s: calls %lu short %lu "
	    "eintr %lu eagain %lu forkfail %lu denied %lu sockbuf %lu\n",
	    (int)getpid(), program_invocation_short_name,
	    child ? "child" : "parent", n.calls, n.shorts, n.eintrs,
	    n.eagains, n.forkfails, n.denied, n.sockbufs);
	if ((fd = real_open(log_path, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0644)) == -1)
		return;
	(void)real_write(fd, line, len);
	close(fd);
}

static unsigned long
number(const char *s)
{
	return s == NULL ? 0 : strtoul(s, NULL, 10);
}

/*
 * Finds the functions wrapped.  Called first thing by every wrapper too:
 * another library's constructor may open or read before ours has run.
 */
static void
resolve(void)
{
	if (real__exit != NULL)
		return;
	real_read = dlsym(RTLD_NEXT, "read");
	real_write = dlsym(RTLD_NEXT, "write");
	real_readv = dlsym(RTLD_NEXT, "readv");
	real_writev = dlsym(RTLD_NEXT, "writev");
	real_recv = dlsym(RTLD_NEXT, "recv");
	real_send = dlsym(RTLD_NEXT, "send");
	real_recvmsg = dlsym(RTLD_NEXT, "recvmsg");
	real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
	real_socket = dlsym(RTLD_NEXT, "socket");
	real_socketpair = dlsym(RTLD_NEXT, "socketpair");
	real_accept = dlsym(RTLD_NEXT, "accept");
	real_accept4 = dlsym(RTLD_NEXT, "accept4");
	real_fork = dlsym(RTLD_NEXT, "fork");
	real_fopen = dlsym(RTLD_NEXT, "fopen");
	real_fopen64 = dlsym(RTLD_NEXT, "fopen64");
	real_open = dlsym(RTLD_NEXT, "open");
	real_openat = dlsym(RTLD_NEXT, "openat");
	real__exit = dlsym(RTLD_NEXT, "_exit");
}

/* Whether this program is one of FAULT_ONLY, when that is set. */
static int
chosen(void)
{
	const char	*list = getenv("FAULT_ONLY"), *p;
	size_t		 len = strlen(program_invocation_short_name);

	if (list == NULL)
		return 1;
	for (p = list; (p = strstr(p, program_invocation_short_name)) != NULL;
	    p += len)
		if ((p == list || p[-1] == ',') &&
		    (p[len] == ',' || p[len] == '\0'))
			return 1;
	return 0;
}

__attribute__((constructor)) static void
init(void)
{
	const char	*s;

	resolve();

	if ((s = getenv("FAULT_SEED")) == NULL || !chosen())
		return;
	on = 1;
	seed = state = strtoull(s, NULL, 10);
	if ((s = getenv("FAULT_RATE")) != NULL)
		rate = number(s);
	if ((s = getenv("FAULT_KINDS")) != NULL)
		kinds = (strstr(s, "short") ? SHORT : 0) |
		    (strstr(s, "eintr") ? EINTR_ : 0) |
		    (strstr(s, "eagain") ? EAGAIN_ : 0);
	sockbuf = (int)number(getenv("FAULT_SOCKBUF"));
	if ((s = getenv("FAULT_FORK_FAIL")) != NULL) {
		fork_first = number(s);
		if ((s = strchr(s, ':')) != NULL)
			fork_count = number(s + 1);
	}
	proc_hidden = (s = getenv("FAULT_PROC")) != NULL &&
	    strcmp(s, "hidden") == 0;
	if ((s = getenv("FAULT_LOG")) != NULL)
		snprintf(log_path, sizeof log_path, "%s", s);
}

__attribute__((destructor)) static void
fini(void)
{
	report();
}

/* Pipes and stream sockets: where a short count can happen. */
static int
is_stream(int fd)
{
	struct stat	st;
	int		type;
	socklen_t	len = sizeof type;

	if (fstat(fd, &st) == -1)
		return 0;
	if (S_ISFIFO(st.st_mode))
		return 1;
	return S_ISSOCK(st.st_mode) && getsockopt(fd, SOL_SOCKET, SO_TYPE,
	    &type, &len) == 0 && type == SOCK_STREAM;
}

static int
nonblocking(int fd, int flags)
{
	int	fl;

	if (flags & MSG_DONTWAIT)
		return 1;
	return (fl = fcntl(fd, F_GETFL)) != -1 && (fl & O_NONBLOCK);
}

/* Bytes written and not yet read: a reader is due to wake up for them. */
static int
unread(int fd)
{
	struct stat	st;
	int		q = 0;

	if (fstat(fd, &st) == -1)
		return 0;
	if (ioctl(fd, S_ISFIFO(st.st_mode) ? FIONREAD : SIOCOUTQ, &q) == -1)
		return 0;
	return q > 0;
}

/*
 * Whether this call gets a fault, and which: 0, or EINTR/EAGAIN to fail
 * with, or SHORT with *len cut to a count of 1 to *len - 1.  As the
 * kernel does: EINTR only where the call could block; EAGAIN only where
 * it could not, and for a write only while earlier bytes wait unread (so
 * that whoever waits for them is woken, as by a full buffer).
 */
static int
fault(int fd, size_t *len, int flags, int writing)
{
	uint64_t	r;
	unsigned	pick;
	int		nb;

	if (!on || rate == 0 || *len == 0 || !is_stream(fd))
		return 0;
	n.calls++;
	r = next();
	if (r % 100 >= rate)
		return 0;
	r /= 100;
	pick = r % 3;
	r /= 3;
	nb = nonblocking(fd, flags);
	if (pick == 2 && (kinds & EAGAIN_) && nb && (!writing || unread(fd))) {
		n.eagains++;
		return EAGAIN;
	}
	if (pick == 1 && (kinds & EINTR_) && !nb) {
		n.eintrs++;
		return EINTR;
	}
	if ((kinds & SHORT) && *len > 1) {
		*len = 1 + r % (*len - 1);
		n.shorts++;
		return SHORT;
	}
	return 0;
}

static ssize_t
failed(int err)
{
	errno = err;
	return -1;
}

static size_t
iov_total(const struct iovec *iov, size_t cnt)
{
	size_t	total = 0, i;

	for (i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	return total;
}

/* Copies iov into out, cut to len bytes; returns the new count. */
static size_t
iov_cut(const struct iovec *iov, size_t cnt, size_t len, struct iovec *out)
{
	size_t	i;

	for (i = 0; i < cnt && len > 0; i++) {
		out[i] = iov[i];
		if (out[i].iov_len > len)
			out[i].iov_len = len;
		len -= out[i].iov_len;
	}
	return i;
}

ssize_t
read(int fd, void *buf, size_t len)
{
	int	f;

	resolve();
	if ((f = fault(fd, &len, 0, 0)) == EINTR || f == EAGAIN)
		return failed(f);
	return real_read(fd, buf, len);
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	int	f;

	resolve();
	if ((f = fault(fd, &len, 0, 1)) == EINTR || f == EAGAIN)
		return failed(f);
	return real_write(fd, buf, len);
}

ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	int	f;

	resolve();
	if ((f = fault(fd, &len, flags, 0)) == EINTR || f == EAGAIN)
		return failed(f);
	return real_recv(fd, buf, len, flags);
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	int	f;

	resolve();
	if ((f = fault(fd, &len, flags, 1)) == EINTR || f == EAGAIN)
		return failed(f);
	return real_send(fd, buf, len, flags);
}

/*
 * The fault for a call on an iovec, and the iovec to make the call with:
 * a copy cut short for a short count.
 */
static int
iov_fault(int fd, const struct iovec **iov, size_t *cnt, int flags,
    int writing, struct iovec *cut)
{
	size_t	len = iov_total(*iov, *cnt);
	int	f;

	resolve();
	if (*cnt > IOV_COPY)
		return 0;
	if ((f = fault(fd, &len, flags, writing)) == SHORT) {
		*cnt = iov_cut(*iov, *cnt, len, cut);
		*iov = cut;
	}
	return f;
}

ssize_t
readv(int fd, const struct iovec *iov, int cnt)
{
	struct iovec	cut[IOV_COPY];
	size_t		iovcnt = cnt < 0 ? 0 : (size_t)cnt;
	int		f = iov_fault(fd, &iov, &iovcnt, 0, 0, cut);

	if (f == EINTR || f == EAGAIN)
		return failed(f);
	return real_readv(fd, iov, cnt < 0 ? cnt : (int)iovcnt);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	struct iovec	cut[IOV_COPY];
	size_t		iovcnt = cnt < 0 ? 0 : (size_t)cnt;
	int		f = iov_fault(fd, &iov, &iovcnt, 0, 1, cut);

	if (f == EINTR || f == EAGAIN)
		return failed(f);
	return real_writev(fd, iov, cnt < 0 ? cnt : (int)iovcnt);
}

ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct msghdr		 m = *msg;
	struct iovec		 cut[IOV_COPY];
	const struct iovec	*iov = msg->msg_iov;
	int			 f = iov_fault(fd, &iov, &m.msg_iovlen, flags,
				    0, cut);
	ssize_t			 r;

	if (f == EINTR || f == EAGAIN)
		return failed(f);
	if (iov == cut)
		m.msg_iov = cut;
	r = real_recvmsg(fd, &m, flags);
	msg->msg_namelen = m.msg_namelen;
	msg->msg_controllen = m.msg_controllen;
	msg->msg_flags = m.msg_flags;
	return r;
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct msghdr		 m = *msg;
	struct iovec		 cut[IOV_COPY];
	const struct iovec	*iov = msg->msg_iov;
	int			 f = iov_fault(fd, &iov, &m.msg_iovlen, flags,
				    1, cut);

	if (f == EINTR || f == EAGAIN)
		return failed(f);
	if (iov == cut)
		m.msg_iov = cut;
	return real_sendmsg(fd, &m, flags);
}

static int
small_buffers(int fd)
{
	if (on && sockbuf > 0 && fd != -1) {
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sockbuf,
		    sizeof sockbuf);
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sockbuf,
		    sizeof sockbuf);
		n.sockbufs++;
	}
	return fd;
}

int
socket(int domain, int type, int protocol)
{
	resolve();
	return small_buffers(real_socket(domain, type, protocol));
}

int
socketpair(int domain, int type, int protocol, int sv[2])
{
	int	r;

	resolve();
	if ((r = real_socketpair(domain, type, protocol, sv)) == 0) {
		small_buffers(sv[0]);
		small_buffers(sv[1]);
	}
	return r;
}

int
accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	resolve();
	return small_buffers(real_accept(fd, sa, len));
}

int
accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	resolve();
	return small_buffers(real_accept4(fd, sa, len, flags));
}

pid_t
fork(void)
{
	pid_t	pid;

	resolve();
	if (!on)
		return real_fork();
	forks++;
	if (fork_count > 0 && forks >= fork_first &&
	    forks < fork_first + fork_count) {
		n.forkfails++;
		errno = EAGAIN;
		return -1;
	}
	if ((pid = real_fork()) == 0) {
		/* The child's own faults: from the seed and this fork. */
		state = seed ^ (forks * 0xd1b54a32d192ed03ULL);
		child = 1;
		forks = 0;
		fork_count = 0;	/* its own forks, if any, are not counted */
		memset(&n, 0, sizeof n);
	}
	return pid;
}

/* /proc/PID/... of a process other than this one. */
static int
hidden(const char *path)
{
	const char	*p;
	long		 pid;

	if (!on || !proc_hidden || strncmp(path, "/proc/", 6) != 0)
		return 0;
	p = path + 6;
	if (!isdigit((unsigned char)*p))
		return 0;
	pid = strtol(p, NULL, 10);
	if (pid == (long)getpid())
		return 0;
	n.denied++;
	errno = EACCES;
	return 1;
}

FILE *
fopen(const char *path, const char *mode)
{
	resolve();
	return hidden(path) ? NULL : real_fopen(path, mode);
}

FILE *
fopen64(const char *path, const char *mode)
{
	resolve();
	return hidden(path) ? NULL : real_fopen64(path, mode);
}

int
open(const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode = 0;

	resolve();
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return hidden(path) ? -1 : real_open(path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode = 0;

	resolve();
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return hidden(path) ? -1 : real_openat(dirfd, path, flags, mode);
}

void
_exit(int status)
{
	resolve();
	report();
	real__exit(status);
}
