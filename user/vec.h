/* vec.h: the growable array of every module (capacity doubles, new room zeroed) */
#ifndef MS_VEC_H
#define MS_VEC_H

#include <stddef.h>

/*
 * Makes room for need elements of sz bytes in the array *v that has room for *cap:
 * the capacity doubles (from 8) until need fits, and the new room is zeroed. 0, or
 * -ENOMEM with *v and *cap as they were (also when the size would overflow).
 */
int ms_vec_reserve(void **v, size_t *cap, size_t need, size_t sz);

/* The room already there, checked inline (the daemon's per-record path asks several
 * times a record) */
static inline int ms_vec_room(void **v, size_t *cap, size_t need, size_t sz)
{
	return need <= *cap ? 0 : ms_vec_reserve(v, cap, need, sz);
}

/* The same for an array v with a size_t capacity cap: MS_VEC_RESERVE(s->v, s->cap, s->n + 1) */
#define MS_VEC_RESERVE(v, cap, need) ms_vec_room((void **)&(v), &(cap), (need), sizeof(*(v)))

/* Appends the sz bytes at elem to *v, which holds *n elements and has room for *cap; 0 or
 * -ENOMEM (then nothing changed) */
int ms_vec_push(void **v, size_t *n, size_t *cap, size_t sz, const void *elem);

/* The same for an element elem of v's type (checked, not evaluated twice):
 * MS_VEC_PUSH(p->links, p->nlinks, p->cap_links, l) */
#define MS_VEC_PUSH(v, n, cap, elem)                                                               \
	((void)sizeof((v)[0] = (elem)),                                                            \
	 ms_vec_push((void **)&(v), &(n), &(cap), sizeof(*(v)), &(elem)))

#endif
