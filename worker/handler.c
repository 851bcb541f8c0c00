/*
 * Resolving a handler spec, and the one path every in-process handler
 * (builtin or plugin) takes: init once, handle per job, fini at a
 * graceful exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "proto/frame.h"
#include "handler.h"

_Static_assert(FP_HANDLER_OK == STATUS_OK && FP_HANDLER_ERROR == STATUS_ERROR,
    "handle() returns a RESULT status");

static int
has_suffix(const char *s, const char *suffix)
{
	size_t	n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Splits an external or cmd: command and checks that its program is
 * there, unless a cmd: template makes the program of each job's line.
 */
static int
resolve_external(struct handler *h, const char *cmd, int argc, char **argv,
    char *err, size_t errlen)
{
	char	**words, **all, msg[256];
	int	  n, i;

	if (cmdline_split(cmd, &words, &n, msg, sizeof msg) == -1) {
		snprintf(err, errlen, "handler %s: %s", h->spec, msg);
		return -1;
	}
	if ((h->kind != HANDLER_CMD || !cmd_has_replacement(words[0])) &&
	    cmdline_find(words[0], msg, sizeof msg) == -1) {
		snprintf(err, errlen, "handler %s: %s", h->spec, msg);
		cmdline_free(words);
		return -1;
	}
	/* The words after the handler are more arguments of the command. */
	if ((all = calloc(n + argc + 1, sizeof *all)) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		cmdline_free(words);
		return -1;
	}
	memcpy(all, words, n * sizeof *all);
	for (i = 0; i < argc; i++)
		all[n + i] = argv[i];
	h->cmd = all;
	/* words[0], the store of the split words, is kept through all[0];
	 * only the array goes. */
	free(words);
	return 0;
}

int
handler_resolve(struct handler *h, const char *spec, int argc, char **argv,
    int load, char *err, size_t errlen)
{
	memset(h, 0, sizeof *h);
	h->spec = spec;
	h->argc = argc;
	h->argv = argv;
	if (strncmp(spec, "builtin:", 8) == 0) {
		h->kind = HANDLER_BUILTIN;
		if ((h->abi = builtin_find(spec + 8)) == NULL) {
			snprintf(err, errlen, "no builtin handler %s (there "
			    "are: %s)", spec + 8, builtin_names());
			return -1;
		}
		return 0;
	}
	if (strncmp(spec, "exec:", 5) == 0) {
		h->kind = HANDLER_EXEC;
		return resolve_external(h, spec + 5, argc, argv, err, errlen);
	}
	if (strncmp(spec, "lines:", 6) == 0) {
		h->kind = HANDLER_LINES;
		return resolve_external(h, spec + 6, argc, argv, err, errlen);
	}
	if (strncmp(spec, "cmd:", 4) == 0) {
		h->kind = HANDLER_CMD;
		h->abi = &cmd_handler;
		return resolve_external(h, spec + 4, argc, argv, err, errlen);
	}
	if (strchr(spec, '/') == NULL && !has_suffix(spec, ".so")) {
		snprintf(err, errlen, "handler %s: expected builtin:NAME, a "
		    "plugin (a path with a slash or ending in .so), exec:CMD, "
		    "lines:CMD or cmd:TEMPLATE", spec);
		return -1;
	}
	h->kind = HANDLER_PLUGIN;
	/* An absolute path: a plugin named "x.so" is the file here, not
	 * one dlopen() would search for in the library path. */
	if ((h->path = realpath(spec, NULL)) == NULL) {
		snprintf(err, errlen, "handler %s: %s", spec, strerror(errno));
		return -1;
	}
	return load ? handler_load(h, err, errlen) : 0;
}

/* Loads a plugin not loaded yet; nothing to do for the other kinds. */
int
handler_load(struct handler *h, char *err, size_t errlen)
{
	char	msg[512];

	if (h->kind != HANDLER_PLUGIN || h->abi != NULL)
		return 0;
	if (plugin_open(h->path, &h->dl, &h->abi, msg, sizeof msg) == -1) {
		snprintf(err, errlen, "handler %s: %s", h->spec, msg);
		return -1;
	}
	return 0;
}

/* A handler that runs programs: never in a thread, nor chrooted. */
int
handler_is_external(const struct handler *h)
{
	return h->kind == HANDLER_EXEC || h->kind == HANDLER_LINES ||
	    h->kind == HANDLER_CMD;
}

/* One that relays jobs to a program of its own (external.c). */
int
handler_relays(const struct handler *h)
{
	return h->kind == HANDLER_EXEC || h->kind == HANDLER_LINES;
}

void
handler_free(struct handler *h)
{
	plugin_close(h->dl);
	free(h->path);
	if (h->cmd != NULL)
		cmdline_free(h->cmd);
	memset(h, 0, sizeof *h);
}

/* 0 with *state set, or -1 with the handler's message in err. */
int
handler_init(const struct handler *h, void **state, char *err, size_t errlen)
{
	*state = NULL;
	if (h->kind == HANDLER_CMD)
		return cmd_init(h, state, err, errlen);
	if (h->abi->init == NULL)
		return 0;
	err[0] = '\0';
	if (h->abi->init(h->argc, h->argv, state, err, errlen) == 0)
		return 0;
	if (err[0] == '\0')
		snprintf(err, errlen, "init failed");
	return -1;
}

static int
output_append(struct fp_output *o, const void *p, size_t len)
{
	struct handler_output	*ho = (struct handler_output *)o;

	if (len == 0)
		return 0;
	if (buf_append(ho->buf, p, len) == -1) {
		ho->failed = 1;
		return -1;
	}
	return 0;
}

void
handler_output_init(struct handler_output *ho, struct buf *b)
{
	ho->out.append = output_append;
	ho->buf = b;
	/* An empty result still points somewhere; allocated once. */
	if (b->cap == 0)
		(void)buf_reserve(b, 256);
	ho->failed = 0;
	ho->corrupt = 0;
}

void
handler_output_corrupt(struct fp_output *o)
{
	((struct handler_output *)o)->corrupt = 1;
}

/*
 * Runs one job; the result (or message) is appended to the output's
 * buffer.  Returns STATUS_OK or STATUS_ERROR, whatever the handler did.
 */
int
handler_handle(const struct handler *h, void *state, const struct fp_job *job,
    struct handler_output *ho)
{
	static const char	 nomem[] = "out of memory for the result";
	size_t			 start = ho->buf->len;
	char			 msg[64];
	int			 status;

	ho->failed = 0;
	status = h->abi->handle(state, job, &ho->out);
	if (ho->failed) {
		ho->buf->len = start;
		buf_append(ho->buf, nomem, sizeof nomem - 1);
		return STATUS_ERROR;
	}
	if (status != FP_HANDLER_OK && status != FP_HANDLER_ERROR) {
		ho->buf->len = start;
		snprintf(msg, sizeof msg, "%s returned status %d",
		    h->abi->name != NULL ? h->abi->name : "the handler",
		    status);
		buf_append(ho->buf, msg, strlen(msg));
		return STATUS_ERROR;
	}
	return status;
}

void
handler_fini(const struct handler *h, void *state)
{
	if (h->abi->fini != NULL)
		h->abi->fini(state);
}
