/*
 * The 8259A interrupt controllers (see kernel/pic.h): remapped so that IRQ 0-15 arrive on
 * vectors 32-47, every line masked until a driver unmasks it, and the end-of-interrupt that
 * lets a line through again.
 */
#include "compiler.h"
#include "pic.h"
#include "todo.h"
#include "x86.h"

/*
 * Step 1: initialize both PICs. Four initialization words go to each, in order: ICW1 to the
 * command port, then ICW2 (the vector base), ICW3 (the wiring) and ICW4 (the mode) to the
 * data port. Then mask every line: the kernel unmasks only what it handles.
 */
void pic_init(void)
{
	TODO("step 1: send ICW1-ICW4 to both PICs (vector bases PIC_VECTOR_BASE and PIC_SLAVE_VECTOR_BASE, slave on IRQ 2), then mask every line");
}

/*
 * The data port of the PIC that has line irq, and the line's bit in its mask register
 * (__unused: only your code calls them).
 */
static __unused uint16_t mask_port(unsigned irq)
{
	return irq < 8 ? PIC1_DATA : PIC2_DATA;
}

static __unused uint8_t mask_bit(unsigned irq)
{
	return (uint8_t)(1u << (irq % 8));
}

/* Step 1: clear the line's bit in its PIC's mask (and the cascade's, for the slave's lines). */
void pic_unmask(unsigned irq)
{
	TODO("step 1: clear bit irq % 8 of the right PIC's mask register (and unmask IRQ 2 for a line of the slave)");
}

/* Step 1: set the line's bit in its PIC's mask. */
void pic_mask(unsigned irq)
{
	TODO("step 1: set bit irq % 8 of the right PIC's mask register");
}

/* Step 1: the end of interrupt: to the slave too for its lines, then to the master. */
void pic_eoi(unsigned irq)
{
	TODO("step 1: write PIC_EOI to the command port of the slave (for IRQ 8-15) and of the master");
}
