/*
 * What a worker is told: its struct worker_conf (worker/worker.h), taken
 * from the configuration it is started with, which in a reload is not yet
 * the running one.  The worker reads nothing of the supervisor but this.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "supervisor.h"
#include "worker/worker.h"

/* The supervisor is parent: its pid, taken before a fork. */
void
wconf_fill(struct worker_conf *wc, const struct options *o, int slot,
    struct slot_board *board, pid_t parent)
{
	memset(wc, 0, sizeof *wc);
	wc->slot = slot;
	wc->board = board;
	wc->parent = parent;
	wc->handler = o->handler_obj;
	/* The generation a worker starts with splits its cmd: fields. */
	if (o->handler_obj->kind == HANDLER_CMD) {
		o->handler_obj->colsep = o->colsep;
		o->handler_obj->frame_max = o->frame_max;
	}
	wc->frame_max = o->frame_max;
	wc->heartbeat_ns = o->heartbeat_ns;
	wc->start_timeout_ns = o->start_timeout_ns;
	wc->kill_grace_ns = o->kill_grace_ns;
	wc->run_uid = o->run_uid;
	wc->run_gid = o->run_gid;
	wc->drop_privileges = o->drop_privileges;
	wc->chroot_dir = o->chroot_dir;
	wc->rlimit_as = o->rlimit_as;
	wc->rlimit_cpu = o->rlimit_cpu;
	wc->rlimit_nofile = o->rlimit_nofile;
}

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
