/*
 * The service's pidfile, locked with flock(2) while the service runs, as
 * libbsd's pidfile_open() does it, but never through a symbolic link or
 * into a file with other names: a service started as root must not
 * truncate whatever a link at SOCKET.pid points to.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor.h"

#define OPEN_TRIES	10	/* the file went away under us: try again */

static int	 pid_fd = -1;
static char	 pid_path[PATH_MAX];

/* The pid written in a pidfile someone else holds, or 0. */
static pid_t
holder(int fd)
{
	char		 buf[32];
	const char	*errstr;
	ssize_t		 n;
	pid_t		 pid;

	if ((n = pread(fd, buf, sizeof buf - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	pid = strtonum(buf, 1, INT_MAX, &errstr);
	return errstr == NULL ? pid : 0;
}

/* Writes our pid in the pidfile held: 0, or -1 with errno. */
int
pidfile_rewrite(void)
{
	char	line[32];
	int	len;

	len = snprintf(line, sizeof line, "%d\n", (int)getpid());
	if (ftruncate(pid_fd, 0) == -1 || pwrite(pid_fd, line, len, 0) != len)
		return -1;
	return 0;
}

/*
 * Opens path, locks it and writes our pid in it: 0, or -1.  Then *why
 * says why the file was not fit to be written (a symbolic link, not a
 * regular file, one with other names), or is NULL and errno says what
 * failed: EEXIST when a live process holds it, its pid in *other (0 if
 * unknown).
 */
int
pidfile_take(const char *path, pid_t *other, const char **why)
{
	struct stat	 st, now;
	int		 fd, tries, saved;

	*other = 0;
	*why = NULL;
	if (strlcpy(pid_path, path, sizeof pid_path) >= sizeof pid_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (tries = 0; tries < OPEN_TRIES; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC, 0644);
		if (fd == -1) {
			if (errno == ELOOP && lstat(path, &st) == 0 &&
			    S_ISLNK(st.st_mode))
				*why = "is a symbolic link";
			return -1;
		}
		if (fstat(fd, &st) == -1)
			goto fail;
		if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
			*why = S_ISREG(st.st_mode) ? "has other names (hard "
			    "links)" : "is not a regular file";
			goto fail;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno == EWOULDBLOCK) {
				*other = holder(fd);
				errno = EEXIST;
			}
			goto fail;
		}
		/*
		 * Its holder may have removed it between our open and our
		 * lock: then what we hold is no longer at path.
		 */
		if (lstat(path, &now) == 0 && now.st_dev == st.st_dev &&
		    now.st_ino == st.st_ino)
			break;
		close(fd);
	}
	if (tries == OPEN_TRIES) {
		errno = EAGAIN;
		return -1;
	}
	pid_fd = fd;
	if (pidfile_rewrite() == -1)
		goto fail;
	return 0;
fail:
	saved = errno;
	close(fd);
	pid_fd = -1;
	errno = saved;
	return -1;
}

/* Removes the pidfile, at exit; its lock goes with the descriptor. */
void
pidfile_drop(void)
{
	if (pid_fd == -1)
		return;
	unlink(pid_path);
	close(pid_fd);
	pid_fd = -1;
}

/*
 * An upgrade: the descriptor of the pidfile, locked, is handed to the new
 * supervisor, which shares the lock and writes its pid once it serves.
 */
int
pidfile_fd(void)
{
	return pid_fd;
}

/* The new supervisor takes the pidfile its predecessor handed it. */
int
pidfile_adopt(int fd, const char *path)
{
	if (strlcpy(pid_path, path, sizeof pid_path) >= sizeof pid_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	pid_fd = fd;
	return 0;
}

/*
 * The old supervisor lets go of the pidfile without removing it: the new
 * one holds the lock and has written its pid there.
 */
void
pidfile_release(void)
{
	if (pid_fd == -1)
		return;
	close(pid_fd);
	pid_fd = -1;
}
