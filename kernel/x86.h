/* Thin wrappers for the x86_64 instructions that C cannot express. */
#pragma once

#include "const.h"

#define CR0_PE	  (_UL(1) << 0)
#define CR0_WP	  (_UL(1) << 16)
#define CR0_PG	  (_UL(1) << 31)
#define CR4_PAE	  (_UL(1) << 5)
#define CR4_PGE	  (_UL(1) << 7)

#define MSR_EFER  0xc0000080
#define EFER_SCE  (_UL(1) << 0)
#define EFER_LME  (_UL(1) << 8)
#define EFER_LMA  (_UL(1) << 10)
#define EFER_NXE  (_UL(1) << 11)

#define RFLAGS_IF (_UL(1) << 9)

#ifndef __ASSEMBLER__
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t value;
	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

static inline void outw(uint16_t port, uint16_t value)
{
	__asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t value)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)));
}

#define DEFINE_READ_CR(n)                                         \
	static inline uint64_t read_cr##n(void)                   \
	{                                                         \
		uint64_t v;                                       \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); \
		return v;                                         \
	}
DEFINE_READ_CR(0)
DEFINE_READ_CR(2)
DEFINE_READ_CR(3)
DEFINE_READ_CR(4)
#undef DEFINE_READ_CR

static inline void write_cr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static inline void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline void write_cr4(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

/* Drop the TLB entry for the page holding va. */
static inline void invlpg(const void *va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static inline uint64_t read_rflags(void)
{
	uint64_t f;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

static inline uint16_t read_cs(void)
{
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs;
}

static inline void cli(void)
{
	__asm__ volatile("cli" : : : "memory");
}

static inline void sti(void)
{
	__asm__ volatile("sti" : : : "memory");
}

static inline void hlt(void)
{
	__asm__ volatile("hlt" : : : "memory");
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause");
}

/* The operand of lgdt/lidt/sgdt/sidt. */
struct descriptor_table_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static inline void lidt(const struct descriptor_table_ptr *p)
{
	__asm__ volatile("lidt %0" : : "m"(*p));
}

static inline void sgdt(struct descriptor_table_ptr *p)
{
	__asm__ volatile("sgdt %0" : "=m"(*p));
}

static inline void sidt(struct descriptor_table_ptr *p)
{
	__asm__ volatile("sidt %0" : "=m"(*p));
}

static inline uint64_t read_rbp(void)
{
	uint64_t rbp;
	__asm__ volatile("mov %%rbp, %0" : "=r"(rbp));
	return rbp;
}
#endif /* !__ASSEMBLER__ */
