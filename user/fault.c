/*
 * fault <kind>: does one thing a program must not do; the kernel must end it, and the program
 * never gets to print "survived" (exit status 99). `fault` alone lists the kinds.
 */
#include "user.h"

#define EXIT_SURVIVED	99
#define DIVE_FRAME	1024
#define KERNEL_READ_VA	0xffff800000200000UL /* the kernel's direct map: mapped, not the program's */
#define KERNEL_WRITE_VA 0xffff800000100000UL

static const uint8_t ret_insn[] = {0xc3}; /* in .rodata: readable, not executable */
static uint8_t data_ret[] = {0xc3};	  /* in .data: writable, not executable */
static void null_read(void)
{
	(void)*(volatile int *)0;
}

static void null_write(void)
{
	*(volatile int *)0 = 1;
}

static void code_write(void)
{
	*(volatile uint8_t *)main = 0x90;
}

static void rodata_write(void)
{
	*(volatile uint8_t *)ret_insn = 0;
}

static void exec_stack(void)
{
	uint8_t insn[] = {0xc3};

	((void (*)(void))insn)();
}

static void exec_data(void)
{
	((void (*)(void))data_ret)();
}

static void exec_heap(void)
{
	uint8_t *insn = sbrk(4096);

	if (insn == (void *)-1) {
		printf("fault: sbrk failed\n");
		exit(1);
	}
	insn[0] = 0xc3;
	((void (*)(void))insn)();
}

static void exec_rodata(void)
{
	((void (*)(void))ret_insn)();
}

static void kernel_read(void)
{
	(void)*(volatile uint64_t *)KERNEL_READ_VA;
}

static void kernel_write(void)
{
	*(volatile uint64_t *)KERNEL_WRITE_VA = 0;
}

static void kernel_jump(void)
{
	((void (*)(void))KERNEL_READ_VA)();
}

static void noncanonical(void)
{
	(void)*(volatile uint64_t *)0x0000800000000000UL;
}

static void divide(void)
{
	uint32_t q;

	__asm__ volatile("div %2" : "=a"(q) : "a"(1), "r"(0), "d"(0)); /* (edx:eax) / 0 */
	printf("%u\n", q);
}

static void ud2(void)
{
	__asm__ volatile("ud2");
}

static void cli(void)
{
	__asm__ volatile("cli");
}

static void hlt(void)
{
	__asm__ volatile("hlt");
}

static void in(void)
{
	uint8_t v;

	__asm__ volatile("inb $0x64, %0" : "=a"(v));
}

static void out(void)
{
	__asm__ volatile("outb %0, $0x80" : : "a"((uint8_t)0));
}

static void cr3(void)
{
	__asm__ volatile("mov %%rax, %%cr3" : : "a"(0UL));
}

static void wrmsr(void)
{
	__asm__ volatile("wrmsr" : : "c"(0xc0000082), "a"(0), "d"(0));
}

static void int3(void)
{
	__asm__ volatile("int3");
}

static void int80(void)
{
	__asm__ volatile("int $0x80");
}

static volatile uint64_t dive_limit = ~0UL;

static uint64_t dive(uint64_t depth)
{
	volatile uint8_t frame[DIVE_FRAME];

	frame[0] = (uint8_t)depth;
	if (depth >= dive_limit)
		return 0;
	return dive(depth + 1) + frame[0];
}

static void stack_overflow(void)
{
	printf("%lu\n", dive(0));
}

static const struct {
	const char *name;
	void (*fn)(void);
} kinds[] = {
	{"null-read", null_read},
	{"null-write", null_write},
	{"code-write", code_write},
	{"rodata-write", rodata_write},
	{"exec-stack", exec_stack},
	{"exec-data", exec_data},
	{"exec-rodata", exec_rodata},
	{"exec-heap", exec_heap},
	{"kernel-read", kernel_read},
	{"kernel-write", kernel_write},
	{"kernel-jump", kernel_jump},
	{"noncanonical", noncanonical},
	{"divide", divide},
	{"ud2", ud2},
	{"cli", cli},
	{"hlt", hlt},
	{"in", in},
	{"out", out},
	{"cr3", cr3},
	{"wrmsr", wrmsr},
	{"int3", int3},
	{"int80", int80},
	{"stack-overflow", stack_overflow},
};

int main(int argc, char **argv)
{
	for (size_t i = 0; argc > 1 && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(argv[1], kinds[i].name)) {
			kinds[i].fn();
			printf("fault: %s: survived\n", argv[1]);
			return EXIT_SURVIVED;
		}
	printf("usage: fault KIND, one of:");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		printf(" %s", kinds[i].name);
	printf("\n");
	return 1;
}
