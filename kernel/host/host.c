/*
 * The host side of ktest: what a host test program needs from the kernel, provided by the C
 * library instead. The arguments are the command line (ktest=all by default):
 *
 *     build/host/.../tests ktest=bump ktest.seed=42
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmdline.h"
#include "fw_cfg.h"
#include "kprintf.h"
#include "ktest.h"
#include "ktry.h"
#include "panic.h"

#define FW_CFG_ENV_MAX 128

void console_write(const char *s, size_t n)
{
	fwrite(s, 1, n, stdout);
}

unsigned long console_lock(void)
{
	return 0;
}

void console_unlock(unsigned long flags)
{
	(void)flags;
}

void panic(const char *fmt, ...)
{
	char msg[KTRY_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ktry_raise(KTRY_PANIC, msg);
	printf("\nPANIC: %s\n", msg);
	fflush(stdout);
	abort();
}

void backtrace_print(uint64_t rbp)
{
	(void)rbp; /* AddressSanitizer prints its own */
}

/*
 * QEMU's fw_cfg files, from the environment: file "opt/teachos/ktest-key" is the variable
 * FW_CFG_OPT_TEACHOS_KTEST_KEY (letters in capitals, anything else as '_').
 */
long fw_cfg_read_file(const char *name, void *buf, size_t size)
{
	char var[FW_CFG_ENV_MAX] = "FW_CFG_";
	size_t n = strlen(var);

	for (; *name && n < sizeof(var) - 1; name++, n++)
		var[n] = isalnum((unsigned char)*name) ? (char)toupper((unsigned char)*name) : '_';
	var[n] = '\0';
	const char *value = getenv(var);
	if (!value)
		return -1;
	size_t len = strlen(value);
	memcpy(buf, value, len < size ? len : size);
	return (long)len;
}

int main(int argc, char **argv)
{
	char line[CMDLINE_MAX] = "";
	size_t used = 0;

	setvbuf(stdout, NULL, _IONBF, 0); /* keep every line even if a sanitizer aborts us */
	for (int i = 1; i < argc; i++)
		used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s", i > 1 ? " " : "",
					 argv[i]);
	cmdline_set(argc > 1 ? line : "ktest=all");
	return ktest_main() ? 0 : 1;
}
