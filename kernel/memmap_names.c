/* Names of memory-map region types, for printing. */
#include "memmap.h"

const char *memmap_type_name(uint32_t type)
{
	switch (type) {
	case MEMMAP_USABLE:
		return "usable";
	case MEMMAP_RESERVED:
		return "reserved";
	case MEMMAP_ACPI:
		return "ACPI";
	case MEMMAP_NVS:
		return "ACPI NVS";
	case MEMMAP_BAD:
		return "bad";
	default:
		return "unknown";
	}
}
