/* vec.c: the growable array of every module */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vec.h"

int ms_vec_reserve(void **v, size_t *cap, size_t need, size_t sz)
{
	size_t m = *cap ? *cap : 8;
	void *w;

	if (need <= *cap)
		return 0;
	while (m < need) {
		if (m > SIZE_MAX / 2)
			return -ENOMEM;
		m *= 2;
	}
	if (sz && m > SIZE_MAX / sz)
		return -ENOMEM;
	w = realloc(*v, m * sz);
	if (!w)
		return -ENOMEM;
	memset((char *)w + *cap * sz, 0, (m - *cap) * sz);
	*v = w;
	*cap = m;
	return 0;
}

int ms_vec_push(void **v, size_t *n, size_t *cap, size_t sz, const void *elem)
{
	int err = ms_vec_reserve(v, cap, *n + 1, sz);

	if (err)
		return err;
	memcpy((char *)*v + *n * sz, elem, sz);
	(*n)++;
	return 0;
}
