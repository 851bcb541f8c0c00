/*
 * Replays every file of a fuzz corpus through its target as a TAP test, so
 * the corpus runs in make check on machines without libFuzzer.
 *   replay DIR
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int
main(int argc, char **argv)
{
	struct dirent	**names;
	char		  path[4096];
	uint8_t		 *data;
	FILE		 *fp;
	long		  len;
	int		  n, i, files = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: replay DIR\n");
		return 2;
	}
	if ((n = scandir(argv[1], &names, NULL, by_name)) == -1) {
		perror(argv[1]);
		return 2;
	}
	for (i = 0; i < n; i++)
		if (names[i]->d_name[0] != '.')
			files++;
	tap_plan(files);
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] == '.') {
			free(names[i]);
			continue;
		}
		snprintf(path, sizeof path, "%s/%s", argv[1], names[i]->d_name);
		if ((fp = fopen(path, "rb")) == NULL ||
		    fseek(fp, 0, SEEK_END) == -1 || (len = ftell(fp)) < 0) {
			tap_ok(0, "%s: cannot read", names[i]->d_name);
			if (fp != NULL)
				fclose(fp);
			free(names[i]);
			continue;
		}
		rewind(fp);
		data = malloc(len + 1);
		if (data != NULL && fread(data, 1, len, fp) == (size_t)len) {
			/* Named first: a file that crashes the target is known. */
			fprintf(stderr, "replaying %s\n", names[i]->d_name);
			LLVMFuzzerTestOneInput(data, len);
			tap_ok(1, "%s replays cleanly", names[i]->d_name);
		} else
			tap_ok(0, "%s: cannot read", names[i]->d_name);
		free(data);
		fclose(fp);
		free(names[i]);
	}
	free(names);
	return tap_done();
}
