/* format.h: figures in words and units, shared by the records, findings and metrics */
#ifndef MS_FORMAT_H
#define MS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* a / b, or 0 when b is 0: shares, ratios and averages in records and findings */
static inline double ms_ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / b : 0;
}

/* The name of a BPF loss counter (enum ms_counter) in records and metrics */
const char *ms_lost_name(unsigned counter);

/* A size in human units ("1.5 KiB") into buf */
const char *ms_human_bytes(uint64_t v, char *buf, size_t len);
/* A count in human units ("12.3k") into buf */
const char *ms_human_count(double v, char *buf, size_t len);

#endif
