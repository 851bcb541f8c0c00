/*
 * An independent reference for the fnv and cpu builtins, used by the tests
 * to check forkpool's output: FNV-1a 64 of each input line (repeated ITER
 * times with "cpu ITER"), as 16 lowercase hex digits per line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 n;
	long		 iter = 1, r, i;
	uint64_t	 h;

	if (argc == 3 && strcmp(argv[1], "cpu") == 0)
		iter = atol(argv[2]);
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		h = 0xcbf29ce484222325ULL;
		for (r = 0; r < iter; r++)
			for (i = 0; i < n; i++) {
				h ^= (unsigned char)line[i];
				h *= 0x100000001b3ULL;
			}
		printf("%016llx\n", (unsigned long long)h);
	}
	free(line);
	return 0;
}
