/*
 * The three clocks harepd reads, one name each.
 *
 *	clock_mono_ms	CLOCK_MONOTONIC: timers and intervals inside one
 *			process (stops while the machine is suspended)
 *	clock_boot_ms	CLOCK_BOOTTIME: ages that must survive a process
 *			restart and count suspended time (verdict leases);
 *			never stepped, shared by every process of the node
 *	clock_wall_ms	CLOCK_REALTIME: only for what people read (log
 *			times, status "since"); never for an age
 */
#ifndef HAREPD_UTIL_CLOCK_H
#define HAREPD_UTIL_CLOCK_H

#include <stdint.h>

int64_t	 clock_mono_ms(void);
int64_t	 clock_mono_us(void);
int64_t	 clock_boot_ms(void);
int64_t	 clock_wall_ms(void);

#endif
