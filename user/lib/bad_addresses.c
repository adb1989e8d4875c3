/*
 * The bad addresses of bad_addresses.h: one list for every program that tries them, so that
 * each call is refused the same addresses.
 */
#include "bad_addresses.h"

void bad_addresses(const struct user_layout *l, struct bad_address out[BAD_ADDRESSES])
{
	const struct bad_address list[BAD_ADDRESSES] = {
		{0, "NULL"},
		{1, "next to NULL"},
		{0x3fffff, "the last byte below USER_BOTTOM"},
		{0x00007ffffffff000UL, "USER_TOP: the last page of the lower half"},
		{0x0000800000000000UL, "the first address that is not canonical"},
		{0x8000000000000000UL, "far from canonical"},
		{0xffff7ffffffffff8UL, "the last address that is not canonical"},
		{0xffff800000100000UL, "the kernel's direct map"},
		{0xffffffff80100000UL, "the kernel image"},
		{0xfffffffffffffff8UL, "the very top"},
		{l->image_end, "the page after the image: never mapped"},
		{l->stack_bottom - 8, "the guard page under the stack"},
		{l->stack_top, "the page above the stack"},
	};

	for (int i = 0; i < BAD_ADDRESSES; i++)
		out[i] = list[i];
}
