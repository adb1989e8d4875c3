/* Integer constants that work in both C and assembly (GNU as rejects the UL suffix). */
#pragma once

#ifdef __ASSEMBLER__
#define _UL(x) x
#else
#define _UL(x) x##UL
#endif
