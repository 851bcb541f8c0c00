/*
 * A process's descendants, however deep, found and killed.  A worker and
 * the supervisor each make themselves a child subreaper, so that whatever
 * a handler's program starts, and then abandons, is reparented to them
 * rather than to init: it stays theirs to find and to kill.
 *
 * subtree_kill() only makes async-signal-safe calls (open, read, kill,
 * waitpid), so that a worker can run it in its SIGTERM handler.
 */
#ifndef SUBTREE_H
#define SUBTREE_H

#include <sys/types.h>

/* Orphans of our descendants are reparented to us; -1 with errno. */
int	subtree_adopt(void);

/*
 * Calls fn for each child of this process (each pid once per call, a
 * zombie included), until fn returns non-zero; -1 if /proc cannot say.
 */
int	subtree_children(int (*fn)(pid_t, void *), void *);

/*
 * SIGKILLs every descendant, with its process group, and reaps them,
 * until none is left; returns how many were killed.  Blocking: for the
 * end of a process.
 */
int	subtree_kill(void);

#endif
