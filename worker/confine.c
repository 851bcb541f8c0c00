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
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "handler.h"
#include "supervisor/supervisor.h"
#include "worker.h"

/*
 * Resolves o's user and group to ids and checks that they can be taken:
 * 0, or -1 with a message.  At start and for every reload.
 */
int
confine_check(struct options *o, char *err, size_t len)
{
	struct passwd	*pw;
	struct group	*gr;

	o->drop_privileges = 0;
	if (o->user == NULL && o->group == NULL)
		return 0;
	if (o->user != NULL) {
		if ((pw = getpwnam(o->user)) == NULL) {
			snprintf(err, len, "user %s: no such user", o->user);
			return -1;
		}
		o->run_uid = pw->pw_uid;
		o->run_gid = pw->pw_gid;
	} else {
		o->run_uid = getuid();
		o->run_gid = getgid();
	}
	if (o->group != NULL) {
		if ((gr = getgrnam(o->group)) == NULL) {
			snprintf(err, len, "group %s: no such group", o->group);
			return -1;
		}
		o->run_gid = gr->gr_gid;
	}
	if (o->run_uid == geteuid() && o->run_gid == getegid())
		return 0;	/* already who the workers should be */
	if (geteuid() != 0) {
		snprintf(err, len, "workers can run as another user or group "
		    "only when forkpool is started as root");
		return -1;
	}
	o->drop_privileges = 1;
	return 0;
}

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
drop_privileges(void)
{
	uid_t	ruid, euid, suid;
	gid_t	rgid, egid, sgid, gid = opts->run_gid;
	char	msg[128];

	if (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(opts->run_uid, opts->run_uid, opts->run_uid) == -1) {
		snprintf(msg, sizeof msg, "dropping privileges to uid %d, gid "
		    "%d: %s", (int)opts->run_uid, (int)gid, strerror(errno));
		worker_start_failed(msg);
	}
	/* Checked, not trusted: every id changed, and no way back. */
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1 ||
	    ruid != opts->run_uid || euid != ruid || suid != ruid ||
	    rgid != gid || egid != gid || sgid != gid ||
	    (opts->run_uid != 0 && setuid(0) != -1))
		worker_start_failed("dropping privileges: the ids did not "
		    "all change");
}

void
worker_confine(struct handler *h)
{
	char	err[512], msg[768];

	limit(RLIMIT_AS, opts->rlimit_as, "address space");
	limit(RLIMIT_CPU, opts->rlimit_cpu, "CPU time");
	limit(RLIMIT_NOFILE, opts->rlimit_nofile, "open files");
	if (opts->chroot_dir != NULL) {
		/* A plugin not preloaded must be read before the chroot. */
		if (handler_load(h, err, sizeof err) == -1)
			worker_start_failed(err);
		if (chroot(opts->chroot_dir) == -1 || chdir("/") == -1) {
			snprintf(msg, sizeof msg, "chroot %s: %s",
			    opts->chroot_dir, strerror(errno));
			worker_start_failed(msg);
		}
	}
	if (opts->drop_privileges)
		drop_privileges();
	if (opts->drop_privileges || opts->chroot_dir != NULL)
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}
