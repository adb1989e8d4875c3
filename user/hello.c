/* hello: the first program. Prints its name, pid and arguments; exits with how many it got. */
#include "user.h"

int main(int argc, char **argv)
{
	printf("hello from ring 3: I am '%s', pid %d, with %d argument%s", argv[0], getpid(),
	       argc - 1, argc == 2 ? "" : "s");
	for (int i = 1; i < argc; i++)
		printf("%s '%s'", i == 1 ? ":" : ",", argv[i]);
	printf("\n");
	return argc - 1;
}
