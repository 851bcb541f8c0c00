/*
 * The configuration file, forkpool.conf(5): an INI file without sections,
 * read with libinih.  The command line wins over the file, so main.c says
 * in a struct config_set which settings it has already taken.
 */
#ifndef FORKPOOL_CONFIG_H
#define FORKPOOL_CONFIG_H

#include <stddef.h>

struct options;

/*
 * One flag per key of the file, set (non-zero) by main.c when the command
 * line has given that setting: config_load() then still checks the key's
 * value but leaves the option alone.  log_level's flag is verbose (-v).
 */
struct config_set {
	int	workers;
	int	listen;
	int	listen_mode;
	int	listen_group;
	int	allow_users;
	int	allow_groups;
	int	pidfile;
	int	max_clients;
	int	client_budget;
	int	queue;
	int	window;
	int	attempts;
	int	timeout;
	int	kill_grace;
	int	start_timeout;
	int	shutdown_timeout;
	int	frame_max;
	int	partitions;
	int	restart_intensity;
	int	idle_timeout;
	int	rate_limit;
	int	max_jobs;
	int	max_jobs_jitter;
	int	max_rss;
	int	heartbeat_timeout;
	int	source;
	int	consumer;
	int	claim_idle;
	int	user;
	int	group;
	int	chroot;
	int	rlimit_as;
	int	rlimit_cpu;
	int	rlimit_nofile;
	int	isolation;
	int	verbose;
	int	handler;
	int	preload;
};

/*
 * Reads a forkpool.conf(5) file into o; only settings not already set on
 * the command line are taken (cli says which; NULL: none).  Returns 0, or
 * -1 with "FILE:LINE: message" (or "FILE: message") in err, and o as it was.
 * Defaults are not set here: o holds them already.
 */
int	config_load(const char *, struct options *,
	    const struct config_set *, char *, size_t);

/* Frees what config_load() allocated in the first, which the second
 * (the options it started from) does not share. */
void	config_free(struct options *, const struct options *);

/* The numbers the file takes, which the command line takes the same way:
 * 0, or -1 if s is not one. */
int	conf_decimal(const char *, double *);
int	conf_octal_mode(const char *, unsigned *);

#endif
