/*
 * What a worker gives up before it touches a job, as OpenBSD's httpd does
 * in proc_run(): resource limits first, then a chroot (a plugin is loaded
 * before it), then root's privileges, for good: setgroups, setresgid,
 * setresuid, each checked, and no new privileges through exec.  A worker
 * that cannot confine itself stops the run with the reason: the same would
 * happen to every worker after it.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "handler.h"
#include "worker.h"

static void
limit(int resource, rlim_t value, const char *what)
{
	struct rlimit	rl;
	char		msg[128];

	if (value == 0)
		return;
	rl.rlim_cur = rl.rlim_max = value;
	if (setrlimit(resource, &rl) == -1) {
		snprintf(msg, sizeof msg, "%s limit %llu: %s", what,
		    (unsigned long long)value, strerror(errno));
		worker_start_failed(msg);
	}
}

static void
drop_privileges(const struct worker_conf *wc)
{
	uid_t	ruid, euid, suid, uid = wc->run_uid;
	gid_t	rgid, egid, sgid, gid = wc->run_gid;
	char	msg[128];

	if (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		snprintf(msg, sizeof msg, "dropping privileges to uid %d, gid "
		    "%d: %s", (int)uid, (int)gid, strerror(errno));
		worker_start_failed(msg);
	}
	/* Checked, not trusted: every id changed, and no way back. */
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1 ||
	    ruid != uid || euid != ruid || suid != ruid ||
	    rgid != gid || egid != gid || sgid != gid ||
	    (uid != 0 && setuid(0) != -1))
		worker_start_failed("dropping privileges: the ids did not "
		    "all change");
}

void
worker_confine(const struct worker_conf *wc)
{
	char	err[512], msg[768];

	limit(RLIMIT_AS, wc->rlimit_as, "address space");
	limit(RLIMIT_CPU, wc->rlimit_cpu, "CPU time");
	limit(RLIMIT_NOFILE, wc->rlimit_nofile, "open files");
	if (wc->chroot_dir != NULL) {
		/* A plugin not preloaded must be read before the chroot. */
		if (handler_load(wc->handler, err, sizeof err) == -1)
			worker_start_failed(err);
		if (chroot(wc->chroot_dir) == -1 || chdir("/") == -1) {
			snprintf(msg, sizeof msg, "chroot %s: %s",
			    wc->chroot_dir, strerror(errno));
			worker_start_failed(msg);
		}
	}
	if (wc->drop_privileges)
		drop_privileges(wc);
	if (wc->drop_privileges || wc->chroot_dir != NULL)
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}
