/*
 * The forkpool handler ABI: what a C plugin (a shared object given to
 * forkpool as its handler) exports.  See forkpool_handler(3).
 *
 * A plugin defines one object of type struct fp_handler under the name
 * FP_HANDLER_SYMBOL, with abi_version set to FP_HANDLER_ABI_VERSION:
 *
 *	const struct fp_handler forkpool_handler = {
 *		.abi_version = FP_HANDLER_ABI_VERSION,
 *		.name = "upper",
 *		.handle = upper_handle,
 *	};
 *
 * forkpool refuses a plugin whose abi_version is not its own.  Bump
 * FP_HANDLER_ABI_VERSION whenever a struct below changes its layout or a
 * function its meaning; adding a member at the end of struct fp_handler
 * is a change too, since an older forkpool would not know it is there.
 */
#ifndef FORKPOOL_HANDLER_H
#define FORKPOOL_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FP_HANDLER_ABI_VERSION	1
#define FP_HANDLER_SYMBOL	"forkpool_handler"

/* What handle() returns. */
#define FP_HANDLER_OK		0	/* the output is the result */
#define FP_HANDLER_ERROR	1	/* the output is an error message */

/* One job.  The pointers are valid until handle() returns. */
struct fp_job {
	uint64_t	 id;		/* unique among the jobs not ended */
	unsigned	 attempt;	/* 1 for the first delivery */
	const char	*key;		/* not NUL-terminated; may be empty */
	size_t		 keylen;
	const char	*payload;	/* not NUL-terminated; may be empty */
	size_t		 paylen;
};

/*
 * Where handle() writes the result or the error message: append() adds
 * bytes at the end and returns 0, or -1 when out of memory (the job then
 * ends with an error whatever handle() returns).  The runtime owns it; a
 * handler must not keep it past handle().
 */
struct fp_output {
	int	(*append)(struct fp_output *, const void *, size_t);
};

struct fp_handler {
	uint32_t	 abi_version;	/* FP_HANDLER_ABI_VERSION */
	const char	*name;		/* for messages */

	/*
	 * Optional.  Called once in each worker before its first job, with
	 * the words given after the handler on the command line.  Returns
	 * 0 and sets *state (passed to every call of handle() and fini() of
	 * this worker), or -1 with a message in err (errlen bytes, at least
	 * 256): forkpool then stops with that message instead of starting
	 * workers in a loop.
	 */
	int	(*init)(int argc, char *const argv[], void **state,
		    char *err, size_t errlen);

	/*
	 * Required.  Handles one job: appends the result to out and returns
	 * FP_HANDLER_OK, or appends a message and returns FP_HANDLER_ERROR
	 * (the job then fails without another attempt).  A crash of the
	 * process is a crash of the job: it is delivered again.
	 *
	 * In a worker process handle() is called for one job at a time.  An
	 * in-process thread pool may call it concurrently from several
	 * threads, each thread with the state its own init() returned: a
	 * handler keeps what it changes in its state, never in globals.
	 */
	int	(*handle)(void *state, const struct fp_job *job,
		    struct fp_output *out);

	/* Optional.  Called with the worker's state when it exits normally. */
	void	(*fini)(void *state);
};

static inline int
fp_output_append(struct fp_output *out, const void *p, size_t len)
{
	return out->append(out, p, len);
}

#ifdef __cplusplus
}
#endif

#endif
