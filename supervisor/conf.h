/*
 * The configuration file, forkpool.conf(5): an INI file without sections,
 * read with libinih.  Its keys are lines of the table in options.c.  The
 * command line wins over the file, so main.c says, one bit per line of
 * that table (OPTIONS_BIT), which settings it has already taken.
 */
#ifndef FORKPOOL_CONFIG_H
#define FORKPOOL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct options;

/*
 * Reads a forkpool.conf(5) file into o; a key the command line has given
 * (its bit in cli) is still checked, but leaves o alone.  Returns 0, or -1
 * with "FILE:LINE: message" (or "FILE: message") in err, and o as it was.
 * Defaults are not set here: o holds them already.
 */
int	config_load(const char *, struct options *, uint64_t, char *,
	    size_t);

#endif
