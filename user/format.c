/* format.c: figures in words and units, shared by the records, findings and metrics */
#include <inttypes.h>
#include <stdio.h>
#include "format.h"
#include "memscope.h"

static const char *const lost_name[MS_CNT_MAX] = {
	[MS_CNT_RINGBUF_FULL] = "ringbuf_full",
	[MS_CNT_THREADS_FULL] = "threads_full",
	[MS_CNT_DEPTH] = "too_deep",
	[MS_CNT_UNMATCHED_RET] = "unmatched_returns",
	[MS_CNT_STALE_FRAME] = "stale_calls",
	[MS_CNT_STACK_COLLISION] = "stack_collisions",
	[MS_CNT_STACK_FULL] = "stack_map_full",
};

const char *ms_lost_name(unsigned counter)
{
	return counter < MS_CNT_MAX && lost_name[counter] ? lost_name[counter] : "other";
}

const char *ms_human_bytes(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = v;
	unsigned u = 0;

	while (d >= 1024 && u < 6) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", v);
	else
		snprintf(buf, len, "%.1f %s", d, unit[u]);
	return buf;
}

const char *ms_human_count(double v, char *buf, size_t len)
{
	if (v < 10000)
		snprintf(buf, len, "%.0f", v);
	else if (v < 10e6)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else if (v < 10e9)
		snprintf(buf, len, "%.1fM", v / 1e6);
	else
		snprintf(buf, len, "%.1fG", v / 1e9);
	return buf;
}
