/*
 * Reading fw_cfg files (see fw_cfg.h) through the device's I/O ports, the interface every
 * QEMU x86 machine has: write a 16-bit selector to the selector port, then read the selected
 * item byte by byte from the data port. Item FW_CFG_FILE_DIR lists the named files:
 *
 *     be32 count, then count entries of { be32 size; be16 select; be16 reserved; char name[56] }
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "fw_cfg.h"
#include "x86.h"

#define FW_CFG_PORT_SELECTOR 0x510
#define FW_CFG_PORT_DATA     0x511
#define FW_CFG_SIGNATURE     0x0000
#define FW_CFG_FILE_DIR	     0x0019
#define FW_CFG_NAME_MAX	     56

struct fw_cfg_file {
	uint32_t size; /* big-endian, as every number fw_cfg gives */
	uint16_t select;
	uint16_t reserved;
	char name[FW_CFG_NAME_MAX];
};

_Static_assert(sizeof(struct fw_cfg_file) == 64, "a fw_cfg directory entry is 64 bytes");

static void read_bytes(void *buf, size_t n)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < n; i++)
		p[i] = inb(FW_CFG_PORT_DATA);
}

static uint32_t be32(uint32_t v)
{
	return __builtin_bswap32(v);
}

static uint16_t be16(uint16_t v)
{
	return __builtin_bswap16(v);
}

static bool present(void)
{
	char sig[4];

	outw(FW_CFG_PORT_SELECTOR, FW_CFG_SIGNATURE);
	read_bytes(sig, sizeof(sig));
	return !memcmp(sig, "QEMU", sizeof(sig));
}

long fw_cfg_read_file(const char *name, void *buf, size_t size)
{
	uint32_t count;

	if (!present())
		return -1;
	outw(FW_CFG_PORT_SELECTOR, FW_CFG_FILE_DIR);
	read_bytes(&count, sizeof(count));
	count = be32(count);
	for (uint32_t i = 0; i < count; i++) {
		struct fw_cfg_file f;

		read_bytes(&f, sizeof(f));
		f.name[FW_CFG_NAME_MAX - 1] = '\0';
		if (strcmp(f.name, name))
			continue;
		uint32_t n = be32(f.size);
		outw(FW_CFG_PORT_SELECTOR, be16(f.select));
		read_bytes(buf, n < size ? n : size);
		return n;
	}
	return -1;
}
