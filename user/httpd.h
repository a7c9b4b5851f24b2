/* httpd.h: the HTTP server (libmicrohttpd): paths served from buffers the daemon publishes */
#ifndef MS_HTTPD_H
#define MS_HTTPD_H

#include <stddef.h>
#include <sys/socket.h>

/* The server's bounds (defaults): connections at once, all clients together and from one
 * client address; ms for a request head to be complete after the accept, for a response to
 * be sent after its request head, and for a kept-alive connection's next request head to be
 * complete after the previous response */
#define MS_HTTPD_CONNECTIONS 32
#define MS_HTTPD_PER_CLIENT 8
#define MS_HTTPD_REQUEST_MS 5000
#define MS_HTTPD_RESPONSE_MS 10000
#define MS_HTTPD_IDLE_MS 30000

#define MS_HTTPD_MAX_PATHS 8 /* paths one server serves */

/*
 * What one HTTP client can hold, and for how long; 0 in a field: its default. The
 * deadlines are absolute: bytes that trickle in do not move them. A new connection is
 * always let in: past a limit, the oldest connection of the client (at the per-client
 * limit) or of the client with the most connections (at the total) is closed, one whose
 * first request head is incomplete first, then an idle kept-alive one, then one being
 * answered.
 */
struct ms_httpd_limits {
	unsigned connections, per_client;
	unsigned request_ms, response_ms, idle_ms;
};

/*
 * Parses the value of option (e.g. "--prometheus"): "PORT", ":PORT" (127.0.0.1),
 * "A.B.C.D:PORT", "[IPv6]:PORT" or "localhost:PORT"; port 0 asks for a free port. Returns
 * 0, or -EINVAL with a lowercase message naming option in err.
 */
int ms_httpd_parse_addr(const char *text, const char *option, struct sockaddr_storage *sa,
			socklen_t *len, char *err, size_t errlen);

/*
 * A server that serves nothing yet and listens nowhere: add its paths, publish their first
 * buffers, then start it. limits NULL for the defaults; verbose: libmicrohttpd's messages
 * (malformed requests) on stderr. NULL with errno ENOMEM.
 */
struct ms_httpd *ms_httpd_new(const struct ms_httpd_limits *limits, int verbose);

/*
 * Serves GET and HEAD path (exact; a query string is ignored) from the buffer published for
 * it, as content_type; hint names it in the 404 answer to other paths ("the metrics are at
 * /metrics"). The strings are not copied: constants. Before ms_httpd_start only. Returns
 * the path's id for ms_httpd_publish, or -ENOSPC past MS_HTTPD_MAX_PATHS, -EBUSY once
 * started. A path nothing is published for is served empty.
 */
int ms_httpd_add_path(struct ms_httpd *h, const char *path, const char *content_type,
		      const char *hint);

/* A request to a path a handler answers: its query arguments */
struct ms_httpd_request;

/* The value of query argument name of req ("" for "?name"), NULL when absent */
const char *ms_httpd_arg(const struct ms_httpd_request *req, const char *name);

/*
 * A handler, called in the server's thread for each GET or HEAD of its path: it puts its
 * body (malloc'd, the server frees it) in *body and *len and its content type in *type (a
 * constant), and returns the HTTP status (200, 400, 404, ...). It must not block long: the
 * server answers one request at a time.
 */
typedef unsigned (*ms_httpd_handler_fn)(void *ctx, const struct ms_httpd_request *req, char **body,
					size_t *len, const char **type);

/* Serves GET and HEAD path with fn (ctx its first argument); as ms_httpd_add_path for the
 * rest: its id, -ENOSPC or -EBUSY */
int ms_httpd_add_handler(struct ms_httpd *h, const char *path, ms_httpd_handler_fn fn, void *ctx,
			 const char *hint);

/*
 * Makes buf (len bytes, malloc'd; the server owns it from now on) the one served for path
 * id, and frees the one before. Any thread; a response being sent has a copy of its own.
 * O(1): a swap under the lock the server's thread holds while it copies a buffer.
 */
void ms_httpd_publish(struct ms_httpd *h, int id, char *buf, size_t len);

/* A NUL-terminated copy of what is served for path id now (free() it), its length in *len;
 * NULL on ENOMEM. O(len) */
char *ms_httpd_copy(struct ms_httpd *h, int id, size_t *len);

/*
 * Listens on addr_port (ms_httpd_parse_addr) and serves from a thread of its own that runs
 * libmicrohttpd and enforces the limits; HTTP/1.1 connections are kept alive. The thread
 * takes no signal. Returns 0, or -EINVAL for a bad value, the bind's or listen's -errno
 * (-EADDRINUSE, -EADDRNOTAVAIL, -EACCES), -EIO when libmicrohttpd does not start, -ENOMEM,
 * -EBUSY when started already; after a failure, only ms_httpd_free.
 */
int ms_httpd_start(struct ms_httpd *h, const char *addr_port);

/* "http://127.0.0.1:9464", with the port actually bound; "" before a start */
const char *ms_httpd_url(const struct ms_httpd *h);

/* Stops the server (waits for its thread) and frees it and its buffers; accepts NULL */
void ms_httpd_free(struct ms_httpd *h);

#endif
