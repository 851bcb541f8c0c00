/*
 * C plugins: a shared object that exports a struct fp_handler under
 * FP_HANDLER_SYMBOL (forkpool_handler.h, forkpool_handler(3)).  Loaded in
 * the supervisor before the workers are forked, so that they share it
 * copy-on-write, or in each worker with --no-preload.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "handler.h"

/*
 * Loads the plugin at path and checks what it exports.  0 with *dl and
 * *abi set, or -1 with a message (and nothing left loaded).
 */
int
plugin_open(const char *path, void **dl, const struct fp_handler **abi,
    char *err, size_t errlen)
{
	const struct fp_handler	*h;
	void			*d;

	/* RTLD_NOW: an unresolved symbol is an error here, not a crash in
	 * the middle of a job. */
	if ((d = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "cannot load it: %s", dlerror());
		return -1;
	}
	if ((h = dlsym(d, FP_HANDLER_SYMBOL)) == NULL) {
		snprintf(err, errlen, "it exports no %s: not a forkpool "
		    "handler (see forkpool_handler(3))", FP_HANDLER_SYMBOL);
		goto fail;
	}
	if (h->abi_version != FP_HANDLER_ABI_VERSION) {
		snprintf(err, errlen, "it was built for handler ABI version "
		    "%u, but this forkpool takes version %d: rebuild it with "
		    "this forkpool's forkpool_handler.h",
		    (unsigned)h->abi_version, FP_HANDLER_ABI_VERSION);
		goto fail;
	}
	if (h->handle == NULL) {
		snprintf(err, errlen, "its %s has no handle function",
		    FP_HANDLER_SYMBOL);
		goto fail;
	}
	*dl = d;
	*abi = h;
	return 0;
fail:
	dlclose(d);
	return -1;
}

void
plugin_close(void *dl)
{
	if (dl != NULL)
		dlclose(dl);
}
