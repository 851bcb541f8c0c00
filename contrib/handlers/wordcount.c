/*
 * An example plugin (forkpool_handler(3)): counts the lines, words and
 * bytes of each payload, as wc(1) does, and answers "LINES WORDS BYTES".
 * A line is a newline; a word is a run of characters other than space,
 * tab, newline, carriage return, vertical tab and form feed.
 *
 *	forkpool -w 4 /usr/local/lib/forkpool/wordcount.so < documents
 *
 * It keeps no state: handle() may run in several threads at once.
 */
#include <stdio.h>

#include "forkpool_handler.h"

static int
is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int
wordcount_init(int argc, char *const argv[], void **state, char *err,
    size_t errlen)
{
	(void)argv;
	if (argc != 0) {
		snprintf(err, errlen, "wordcount takes no arguments");
		return -1;
	}
	*state = NULL;
	return 0;
}

static int
wordcount_handle(void *state, const struct fp_job *job,
    struct fp_output *out)
{
	unsigned long long	 lines = 0, words = 0;
	char			 buf[80];
	size_t			 i;
	int			 in_word = 0, n;

	(void)state;
	for (i = 0; i < job->paylen; i++) {
		unsigned char	c = job->payload[i];

		if (c == '\n')
			lines++;
		if (is_space(c))
			in_word = 0;
		else if (!in_word) {
			in_word = 1;
			words++;
		}
	}
	n = snprintf(buf, sizeof buf, "%llu %llu %zu", lines, words,
	    job->paylen);
	if (fp_output_append(out, buf, n) == -1)
		return FP_HANDLER_ERROR;
	return FP_HANDLER_OK;
}

const struct fp_handler forkpool_handler = {
	.abi_version = FP_HANDLER_ABI_VERSION,
	.name = "wordcount",
	.init = wordcount_init,
	.handle = wordcount_handle,
};
