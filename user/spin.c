/* spin: loops in ring 3 for ever, never making a system call: only the timer stops it. */
#include "user.h"

volatile uint64_t spins;

int main(int argc, char **argv)
{
	printf("spin: pid %d spins\n", getpid());
	for (;;)
		spins++;
}
