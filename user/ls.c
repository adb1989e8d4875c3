/*
 * ls [-l]: the programs in the kernel image (there is no file system: these are all the files
 * there are), in name order; with -l, one a line with its size.
 */
#include "user.h"

#define NAME_MAX 32

int main(int argc, char **argv)
{
	int sizes = argc > 1 && !strcmp(argv[1], "-l");
	char name[NAME_MAX];
	long size;

	for (unsigned long i = 0; (size = image(i, name, sizeof(name))) >= 0; i++) {
		if (sizes)
			printf("%8ld  %s\n", size, name);
		else
			printf("%s%s", i ? "  " : "", name);
	}
	if (!sizes)
		printf("\n");
	return size == -ENOENT ? 0 : 1;
}
