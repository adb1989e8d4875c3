/* Shared by the files of layer 02 only (kernel/layers/02-paging). */
#pragma once

#include "kvm.h"

/* Where the kernel image's parts are, for kvm_map_image and the tour. */
void paging_kernel_layout(struct kvm_layout *l);

/* The end of the highest usable region of RAM. */
phys_addr_t paging_ram_end(void);

/* This layer's part of the tour (tour.c). */
void paging_tour(void);
