/* The tour: what `make qemu` shows of the current checkpoint. */
#pragma once

void tour(void);
