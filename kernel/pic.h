/*
 * The two 8259A programmable interrupt controllers (PICs) of a PC: lab 07 writes these
 * (labs/07-threads/pic.c). Each has eight interrupt request lines (IRQs); the second one's
 * output enters the first one on IRQ 2, so the pair has 15 usable lines:
 *
 *       PIT timer -> IRQ 0 --+
 *       keyboard  -> IRQ 1 --|  master PIC          slave PIC
 *                    IRQ 2 <-|------------------<-- output    <-- IRQ 8-15
 *       COM1      -> IRQ 4 --|  (ports 0x20, 0x21)  (ports 0xa0, 0xa1)
 *                    ...   --+--> INTR pin of the CPU: "vector base + irq"
 *
 * At reset the master delivers IRQ 0-7 on vectors 8-15, which the CPU uses for exceptions
 * (IRQ 0 would look like a double fault), so the kernel programs new bases: IRQ n arrives on
 * vector PIC_VECTOR_BASE + n, right after the 32 exception vectors.
 *
 * Each PIC has a mask register (the IMR, read and written at its data port): bit n set means
 * line n is ignored. The kernel masks every line it has no handler for. After an interrupt the
 * PIC delivers nothing of that line or lower priority until it gets an end-of-interrupt (EOI).
 */
#pragma once

#include <stdint.h>
#include "trap.h"

#define PIC1_COMMAND 0x20 /* master: command (write), IRR/ISR (read) */
#define PIC1_DATA    0x21 /* master: mask register (IMR) */
#define PIC2_COMMAND 0xa0 /* slave */
#define PIC2_DATA    0xa1

/* Initialization command words (8259A datasheet). */
#define PIC_ICW1_INIT	       0x10 /* start initialization: three or four more words follow */
#define PIC_ICW1_ICW4	       0x01 /* ... and the fourth (ICW4) is one of them */
#define PIC_ICW3_SLAVE_ON_IRQ2 0x04 /* master: a slave on line 2 (one bit per line) */
#define PIC_ICW3_CASCADE_ID    0x02 /* slave: its line on the master (a number) */
#define PIC_ICW4_8086	       0x01 /* 8086 mode (not 8080) */
#define PIC_EOI		       0x20 /* OCW2: non-specific end of interrupt */

#define PIC_IRQS	       16
#define PIC_IRQ_CASCADE	       2		  /* the master's line the slave is wired to */
#define PIC_VECTOR_BASE	       VEC_IRQ_BASE	  /* IRQ 0-7: vectors 32-39 */
#define PIC_SLAVE_VECTOR_BASE  (VEC_IRQ_BASE + 8) /* IRQ 8-15: vectors 40-47 */
#define PIC_MASK_ALL	       0xff

#define IRQ_TIMER	       0 /* the PIT's channel 0 */

/*
 * Initialize both PICs: IRQ 0-7 on vectors PIC_VECTOR_BASE.., IRQ 8-15 on
 * PIC_SLAVE_VECTOR_BASE.., edge-triggered, the slave on the master's IRQ 2, and every line
 * masked. Call it with interrupts disabled.
 */
void pic_init(void);

/* Let IRQ irq (0-15) through; a line of the slave also unmasks the cascade line, IRQ 2. */
void pic_unmask(unsigned irq);

/* Ignore IRQ irq (0-15) from now on. */
void pic_mask(unsigned irq);

/*
 * End of interrupt for IRQ irq: the PIC may deliver that line (and those of lower priority)
 * again. An IRQ of the slave needs an EOI sent to both PICs, slave first.
 */
void pic_eoi(unsigned irq);
