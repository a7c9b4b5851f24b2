/* pprofs.h: the run's heap profiles: --pprof FILE at the end, --pprof-dir DIR at each
 * record, /debug/pprof/heap and /debug/pprof/allocs on the --prometheus server */
#ifndef MS_PPROFS_H
#define MS_PPROFS_H

#include "pprof.h"
#include "prom.h"
#include "tracer.h"

struct ms_pprofs;

/* The run's profiles, when it asks for any (--pprof, --pprof-dir, or --prometheus with
 * --stacks): NULL and errno 0 when it does not, NULL and errno ENOMEM on failure. With po
 * (before the server starts), its endpoints are added to the server's paths. */
struct ms_pprofs *ms_pprofs_new(struct ms_tracer *t, struct ms_prom_opts *po);

/* At each record: a new snapshot of every process' sites, served from now on and written
 * to --pprof-dir (a failed write is said once, and the directory written no more). 0 or
 * -ENOMEM. Accepts NULL. */
int ms_pprofs_report(struct ms_pprofs *pp);

/* At the end: the last snapshot (the final record's) to --pprof. 0 or -errno (said).
 * Accepts NULL. */
int ms_pprofs_end(struct ms_pprofs *pp);

/* After the server that serves it has stopped; accepts NULL */
void ms_pprofs_free(struct ms_pprofs *pp);

#endif
