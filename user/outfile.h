/* outfile.h: files the tracer writes (-o, --folded, --record), created safely as root */
#ifndef MS_OUTFILE_H
#define MS_OUTFILE_H

#include <stdbool.h>
#include <stdio.h>

/* The line buffer of stdout and -o: a record of up to this many bytes is one write */
#define MS_OUT_LINE_BUF (1 << 20)

/*
 * Creates or truncates path for writing (close-on-exec) and returns its descriptor, or
 * -errno. A symbolic link at path is not followed to a regular file (-ELOOP): a root
 * tracer told to write /tmp/x must not truncate whatever file another user pointed
 * /tmp/x at. A link to anything else (/dev/stdout to a pipe or a terminal) is opened.
 */
int ms_outfile_create(const char *path);

/* path created as ms_outfile_create does, as a stdio stream (line-buffered with lines);
 * NULL with errno set after saying "cannot create PATH: REASON" on stderr */
FILE *ms_outfile_fopen(const char *path, bool lines);

/* The reason for an error of ms_outfile_create, for "cannot create PATH: REASON" */
const char *ms_outfile_strerror(int err);

#endif
