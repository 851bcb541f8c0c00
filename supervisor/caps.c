/*
 * A supervisor started as root to run its workers as another user keeps
 * root only for what that takes: starting workers that drop to the user
 * (setuid, setgid, chroot, resource limits), signalling them, and reading
 * its configuration and plugins again on a reload (CAP_DAC_READ_SEARCH:
 * to read any file, never to write one).  Every other capability goes,
 * from the bounding set too, so that neither it nor anything it starts
 * can get one back.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <linux/capability.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "supervisor.h"

static const int	 kept[] = {
	CAP_SETUID, CAP_SETGID, CAP_KILL, CAP_SYS_CHROOT, CAP_SYS_RESOURCE,
	CAP_DAC_READ_SEARCH,
	CAP_DAC_OVERRIDE,	/* only with Redis on a Unix socket: see below */
};

static int
last_cap(void)
{
	FILE	*fp;
	int	 n = CAP_LAST_CAP;

	/* A newer kernel may know more than this header does. */
	if ((fp = fopen("/proc/sys/kernel/cap_last_cap", "re")) != NULL) {
		if (fscanf(fp, "%d", &n) != 1)
			n = CAP_LAST_CAP;
		fclose(fp);
	}
	return n;
}

/*
 * Connecting to a Unix socket takes write access to its file: Redis's
 * belongs to the redis user, and the link is made again each time Redis
 * comes back.  Nothing else the supervisor does once running writes to
 * a file that is not its own.
 */
static size_t
nkept(void)
{
	size_t	n = sizeof kept / sizeof kept[0];

	if (opts->source != NULL && strncmp(opts->source, "redis+unix:", 11) == 0)
		return n;
	return n - 1;
}

static int
is_kept(int cap)
{
	size_t	i;

	for (i = 0; i < nkept(); i++)
		if (kept[i] == cap)
			return 1;
	return 0;
}

void
caps_limit(void)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2], have[2];
	size_t				 i;
	int				 cap, last;

	if (!opts->drop_privileges || geteuid() != 0)
		return;
	last = last_cap();
	for (cap = 0; cap <= last; cap++)
		if (!is_kept(cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 &&
		    errno != EINVAL)
			fatal("dropping capability %d", cap);
	memset(&hdr, 0, sizeof hdr);
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capget, &hdr, have) == -1)
		fatal("capget");
	memset(data, 0, sizeof data);
	for (i = 0; i < nkept(); i++) {
		data[kept[i] / 32].effective |= 1U << (kept[i] % 32);
		data[kept[i] / 32].permitted |= 1U << (kept[i] % 32);
	}
	/* Only what it has: a container may have given it less. */
	for (i = 0; i < 2; i++) {
		data[i].permitted &= have[i].permitted;
		data[i].effective &= have[i].permitted;
	}
	if (syscall(SYS_capset, &hdr, data) == -1)
		fatal("capset");
	log_info("keeping only the capabilities that starting workers as "
	    "uid %d takes", (int)opts->run_uid);
}
