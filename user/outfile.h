/* outfile.h: files the tracer writes (-o, --folded, --record), created safely as root */
#ifndef MS_OUTFILE_H
#define MS_OUTFILE_H

/*
 * Creates or truncates path for writing (close-on-exec) and returns its descriptor, or
 * -errno. A symbolic link at path is not followed to a regular file (-ELOOP): a root
 * tracer told to write /tmp/x must not truncate whatever file another user pointed
 * /tmp/x at. A link to anything else (/dev/stdout to a pipe or a terminal) is opened.
 */
int ms_outfile_create(const char *path);

/* The reason for an error of ms_outfile_create, for "cannot create PATH: REASON" */
const char *ms_outfile_strerror(int err);

#endif
