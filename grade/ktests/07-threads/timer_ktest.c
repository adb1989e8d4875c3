/*
 * Lab 07, steps 1 and 2: the PICs and the timer. The PIT's own counter, read through its
 * ports, is the reference clock: it runs whether or not interrupts arrive.
 */
#include "irq.h"
#include "pic.h"
#include "thread_fixture.h"
#include "timer.h"
#include "x86.h"

#define PIT_DIVISOR_100HZ    ((PIT_FREQUENCY_HZ + TIMER_HZ / 2) / TIMER_HZ) /* 11932 */
#define DIVISOR_SLACK	     (PIT_DIVISOR_100HZ / 100) /* the largest count seen: within 1% */
#define PERIODS_TO_WATCH     10
#define SAMPLE_PERIODS_MAX   20
#define TICKS_SLACK	     3 /* ticks merged, or wraps missed, while QEMU waited for the host */
#define WATCHES		     5 /* tries at PERIODS_TO_WATCH periods: one must count right */
#define STATUS_MODE(s)	     (((s) >> 1) & 7)
#define STATUS_ACCESS(s)     (((s) >> 4) & 3)
#define STATUS_BCD	     1u
#define PIT_ACCESS_BITS_LOHI 3
#define SLAVE_LINE	     8 /* the RTC's: quiet unless the RTC is told to interrupt */
/* The RTC (MC146818): a register's number to RTC_INDEX, then its value at RTC_DATA. */
#define RTC_INDEX	 0x70
#define RTC_DATA	 0x71
#define RTC_REG_A	 0x0a /* its low 4 bits: the rate of the periodic interrupt */
#define RTC_REG_B	 0x0b
#define RTC_REG_C	 0x0c /* reading it acknowledges an interrupt */
#define RTC_RATE_MASK	 0x0f
#define RTC_RATE_1024_HZ 6
#define RTC_PERIODIC	 0x40 /* register B: periodic interrupt enabled */
#define RTC_INTERRUPTS	 3    /* to wait for: more than one needs the slave's EOI */
#define RTC_WAIT_PERIODS 10   /* PIT periods, once a PIC holds IRQ 8 back (it fires every ms) */

static uint8_t rtc_read(uint8_t reg)
{
	outb(RTC_INDEX, reg);
	return inb(RTC_DATA);
}

static void rtc_write(uint8_t reg, uint8_t value)
{
	outb(RTC_INDEX, reg);
	outb(RTC_DATA, value);
}

static volatile int rtc_interrupts;

/* The RTC's interrupt: reading register C lets the RTC raise the next one; then the EOI. */
static void rtc_interrupt(struct trap_frame *tf)
{
	(void)tf;
	rtc_read(RTC_REG_C);
	rtc_interrupts++;
	pic_eoi(SLAVE_LINE);
}

/*
 * The RTC raises its periodic interrupt (1024 Hz) on IRQ 8 for a while: it must arrive on
 * vector PIC_SLAVE_VECTOR_BASE, and more than once, which it does only if pic_eoi sent the
 * slave its EOI too. Everything is put back as it was afterwards (the RTC quiet, the masks,
 * the vector's handler).
 */
static void a_slave_line_interrupts(struct ktest *t)
{
	unsigned long flags = irq_save();
	uint8_t master = inb(PIC1_DATA), slave = inb(PIC2_DATA);
	uint8_t rate = rtc_read(RTC_REG_A), mode = rtc_read(RTC_REG_B);
	trap_handler_t old = trap_register(PIC_SLAVE_VECTOR_BASE, rtc_interrupt);

	rtc_interrupts = 0;
	rtc_write(RTC_REG_A, (uint8_t)((rate & ~RTC_RATE_MASK) | RTC_RATE_1024_HZ));
	rtc_write(RTC_REG_B, mode | RTC_PERIODIC);
	rtc_read(RTC_REG_C); /* nothing pending from before */
	pic_unmask(SLAVE_LINE);
	irq_restore(flags);

	/* As a tick (thread_fixture.h): patience while nothing at the PICs holds IRQ 8 back. */
	uint16_t last = pit_read_count();
	int wraps = 0;
	while (rtc_interrupts < RTC_INTERRUPTS) {
		uint16_t now = pit_read_count();
		if (now > last && ++wraps >= RTC_WAIT_PERIODS &&
		    (irq_held_back(SLAVE_LINE) || wraps >= TEST_TICK_PATIENCE_PERIODS))
			break;
		last = now;
	}

	flags = irq_save();
	rtc_write(RTC_REG_B, mode & (uint8_t)~RTC_PERIODIC);
	rtc_write(RTC_REG_A, rate);
	rtc_read(RTC_REG_C);
	outb(PIC1_DATA, master);
	outb(PIC2_DATA, slave);
	trap_register(PIC_SLAVE_VECTOR_BASE, old);
	int got = rtc_interrupts;
	irq_restore(flags);

	if (got == 0)
		FAIL(t,
		     "the RTC's periodic interrupt on IRQ %d never reached vector %d in %d periods of "
		     "the PIT: pic_init gives the slave the vector base PIC_SLAVE_VECTOR_BASE (its "
		     "ICW2), and pic_unmask(%d) opens the line",
		     SLAVE_LINE, PIC_SLAVE_VECTOR_BASE, wraps, SLAVE_LINE);
	else if (got < RTC_INTERRUPTS)
		FAIL(t,
		     "the RTC's periodic interrupt on IRQ %d arrived once, and never again in %d "
		     "periods of the PIT: for a line of the slave pic_eoi sends the EOI to the slave "
		     "too, not only to the master; until it gets one the slave holds its lines back",
		     SLAVE_LINE, wraps);
}

/*
 * Only the timer's line is open: every other line of both PICs is masked. Then a line of the
 * slave (the RTC's, which raises nothing unless asked to) is unmasked and masked again, with
 * interrupts off: unmasking opens its bit of the slave's mask and the cascade's line of the
 * master, masking closes the bit again. Last, the RTC is made to interrupt for a moment: its
 * interrupts arrive on the slave's first vector, again and again (see a_slave_line_interrupts).
 * The masks are put back as they were at the end.
 */
KTEST(timer, pic_masks_every_line_but_the_timer, 2)
{
	if (!timer_require(t))
		return;
	unsigned long flags = irq_save();
	uint8_t master = inb(PIC1_DATA), slave = inb(PIC2_DATA);
	pic_unmask(SLAVE_LINE);
	uint8_t master_open = inb(PIC1_DATA), slave_open = inb(PIC2_DATA);
	pic_mask(SLAVE_LINE);
	uint8_t slave_closed = inb(PIC2_DATA);
	outb(PIC1_DATA, master);
	outb(PIC2_DATA, slave);
	irq_restore(flags);
	EXPECT_EQ(t, master, (uint8_t) ~(1u << IRQ_TIMER));
	EXPECT_EQ(t, slave, PIC_MASK_ALL);
	if (master_open != (uint8_t)(master & ~(1u << PIC_IRQ_CASCADE)) ||
	    slave_open != (uint8_t)(slave & ~(1u << (SLAVE_LINE - 8)))) {
		FAIL(t,
		     "after pic_unmask(%d) the masks are 0x%02x (master) and 0x%02x (slave), not "
		     "0x%02x and 0x%02x: IRQ %d is bit %d of the slave's mask (port 0x%x), and the "
		     "slave's lines reach the CPU only through the master's IRQ %d, which must be "
		     "unmasked too",
		     SLAVE_LINE, master_open, slave_open,
		     (uint8_t)(master & ~(1u << PIC_IRQ_CASCADE)),
		     (uint8_t)(slave & ~(1u << (SLAVE_LINE - 8))), SLAVE_LINE, SLAVE_LINE - 8,
		     PIC2_DATA, PIC_IRQ_CASCADE);
	} else if (slave_closed != slave) {
		FAIL(t,
		     "after pic_unmask(%d) and pic_mask(%d) the slave's mask is 0x%02x, not 0x%02x: "
		     "pic_mask sets the line's bit (irq %% 8) in the mask of its PIC",
		     SLAVE_LINE, SLAVE_LINE, slave_closed, slave);
	} else {
		a_slave_line_interrupts(t);
	}
}

/*
 * Channel 0 runs in mode 2 with the divisor for TIMER_HZ: the read-back status says the
 * mode, and while it counts down from the divisor to 1 the largest count seen is the
 * divisor (or a little less: the samples are a few counts apart).
 */
KTEST(timer, pit_is_a_100_hz_rate_generator, 2)
{
	if (!timer_require(t))
		return;
	unsigned long flags = irq_save();
	outb(PIT_COMMAND, PIT_READBACK_STATUS0);
	uint8_t status = inb(PIT_CHANNEL0);
	irq_restore(flags);
	EXPECT_TRUE(t, STATUS_MODE(status) == 2 || STATUS_MODE(status) == 6);
	EXPECT_EQ(t, STATUS_ACCESS(status), PIT_ACCESS_BITS_LOHI);
	EXPECT_EQ(t, status & STATUS_BCD, 0);

	/* Until a sample falls in the first 1% of a period (one does within a period or two,
	 * unless QEMU itself is kept off the host's CPU for a while: then more periods). */
	uint16_t last = pit_read_count(), largest = last;
	for (int wraps = 0;
	     wraps < SAMPLE_PERIODS_MAX && largest < PIT_DIVISOR_100HZ - DIVISOR_SLACK;) {
		uint16_t now = pit_read_count();
		if (now > last)
			wraps++;
		if (now > largest)
			largest = now;
		last = now;
	}
	if (largest > PIT_DIVISOR_100HZ || largest < PIT_DIVISOR_100HZ - DIVISOR_SLACK)
		FAIL(t,
		     "channel 0 counts down from about %u, not from %u (%u Hz / %u Hz): check the "
		     "divisor in timer_init and that its low byte goes first",
		     largest, PIT_DIVISOR_100HZ, PIT_FREQUENCY_HZ, TIMER_HZ);
}

/*
 * Over ten periods of the PIT, ten ticks: each time its output rises the PIC delivers IRQ 0
 * on vector 32, timer_interrupt counts it and sends the EOI that lets the next one in. (Give
 * or take three: when the host keeps QEMU waiting, rising edges can merge into one interrupt,
 * the test can miss a turn of the counter, and QEMU may deliver the periods it owes in a
 * burst. So the count must come out right in one of five watches, not in each: a timer that
 * counts wrong does so every time.)
 */
KTEST(timer, one_tick_per_pit_period, 3)
{
	uint64_t ticks = 0;

	if (!timer_require(t))
		return;
	for (int watch = 0; watch < WATCHES; watch++) {
		uint16_t last = pit_read_count();
		uint64_t start = timer_ticks();
		int wraps = 0;

		while (wraps < PERIODS_TO_WATCH) {
			uint16_t now = pit_read_count();
			if (now > last)
				wraps++;
			last = now;
		}
		ticks = timer_ticks() - start;
		if (ticks + TICKS_SLACK >= PERIODS_TO_WATCH &&
		    ticks <= PERIODS_TO_WATCH + TICKS_SLACK)
			return;
	}
	FAIL(t,
	     "%lu ticks during %d periods of the PIT (and as far off in each of %d watches): one "
	     "interrupt per period, counted once, is what timer_interrupt should see",
	     ticks, PERIODS_TO_WATCH, WATCHES);
}
