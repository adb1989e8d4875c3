/* sleepy [ms] [times]: sleeps ms milliseconds (default 50; 0: no sleep), times times (default
 * 1), yielding after each; prints a dot after each sleep. */
#include "user.h"

int main(int argc, char **argv)
{
	long ms = atol_or(argc > 1 ? argv[1] : NULL, 50),
	     times = atol_or(argc > 2 ? argv[2] : NULL, 1);

	for (long i = 0; i < times; i++) {
		if (ms && sleep_ms((uint64_t)ms) < 0) {
			printf("sleepy: sleep(%ld) failed\n", ms);
			return 1;
		}
		printf(".");
		yield();
	}
	printf("\n");
	return 0;
}
