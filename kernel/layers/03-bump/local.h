/* Shared by the files of layer 03 only (kernel/layers/03-bump). */
#pragma once

#include <stdbool.h>

/* Map the heap's first KHEAP_INITIAL bytes at KHEAP_BASE; false, with a note, when there can
 * be no heap (no kernel page tables, no frames). */
bool kheap_map_arena(void);
