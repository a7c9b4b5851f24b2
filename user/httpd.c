/* httpd.c: the HTTP server: libmicrohttpd run by a thread of ours, which keeps the bounds
 * it lacks, serving the buffers the daemon thread publishes, copied under a mutex */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>
#include "clock.h"
#include "httpd.h"

#define HTTP_MEMORY (32 << 10) /* bytes per connection: request line and headers */

/*
 * The server. libmicrohttpd parses and answers, run from a thread of ours on its epoll
 * set, so that the bounds it lacks are kept between its runs: its timeout is one of
 * inactivity, renewed by every byte received (a client sending a header line every few
 * seconds holds a connection for ever), and its limit per IP refuses a scraper that
 * shares an attacker's address (loopback). Here every connection has a slot with its
 * state and an absolute deadline; one past its deadline, or chosen to make room for a new
 * one, is shut down, and libmicrohttpd closes it on its next run. The callbacks are
 * called from MHD_run in that thread: the slots need no lock.
 */

enum conn_state {
	C_HEAD,	  /* its first request head is not complete */
	C_KEPT,	  /* kept alive after a response: the next request head is not complete */
	C_ANSWER, /* a request head is complete, its response is not sent yet */
};

/* A client: its address, IPv4-mapped IPv6 as IPv4 */
struct client {
	uint8_t a[16];
	uint8_t len; /* 4 or 16 */
};

struct conn {
	bool used;
	bool closing; /* shut down here, libmicrohttpd closes it: it counts no more */
	enum conn_state state;
	int fd;
	struct client from;
	uint64_t since;	   /* ms: when the state began */
	uint64_t deadline; /* ms: when the connection is shut down */
	uint64_t order;	   /* when the state began, as a count: the oldest of those that
			      began in one millisecond */
};

/* A path served, and the buffer published for it (or the handler that answers it) */
struct path {
	const char *path, *type, *hint;
	char *buf; /* under the lock */
	size_t len;
	ms_httpd_handler_fn fn;
	void *ctx;
};

struct ms_httpd_request {
	struct MHD_Connection *conn;
};

const char *ms_httpd_arg(const struct ms_httpd_request *req, const char *name)
{
	const char *v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);

	if (v)
		return v;
	/* "?name" without "=": libmicrohttpd keeps the key with a NULL value */
	return MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name),
					     NULL, NULL) == MHD_YES ?
		       "" :
		       NULL;
}

struct ms_httpd {
	struct ms_httpd_limits b;
	int verbose;
	pthread_mutex_t lock; /* guards the buffers, the only data the daemon thread shares */
	struct path path[MS_HTTPD_MAX_PATHS];
	unsigned npaths;
	char *not_found, *not_allowed; /* the bodies of 404 and 405, made at the start */
	char url[80];
	struct MHD_Daemon *mhd;
	struct conn *conn; /* as many slots as libmicrohttpd's connection limit */
	unsigned nconn;
	uint64_t entered; /* states entered: conn.order */
	int epoll_fd;	  /* libmicrohttpd's */
	int wake;	  /* eventfd: ms_httpd_free ends the thread */
	pthread_t thread;
	bool running;
};

static void client_of(const struct sockaddr *sa, struct client *c)
{
	memset(c, 0, sizeof(*c));
	if (sa && sa->sa_family == AF_INET) {
		memcpy(c->a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		c->len = 4;
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		c->len = IN6_IS_ADDR_V4MAPPED(a6) ? 4 : 16;
		memcpy(c->a, a6->s6_addr + 16 - c->len, c->len);
	}
}

static bool same_client(const struct client *a, const struct client *b)
{
	return a->len == b->len && !memcmp(a->a, b->a, a->len);
}

static bool counted(const struct conn *x)
{
	return x->used && !x->closing;
}

/* The connections counted now from client c (NULL: from every client) */
static unsigned count_from(const struct ms_httpd *h, const struct client *c)
{
	unsigned i, n = 0;

	for (i = 0; i < h->nconn; i++)
		n += counted(&h->conn[i]) && (!c || same_client(&h->conn[i].from, c));
	return n;
}

/* x enters state s now; its deadline is s's bound from now */
static void conn_enter(struct ms_httpd *h, struct conn *x, enum conn_state s)
{
	x->state = s;
	x->order = ++h->entered;
	x->since = ms_now_ns() / 1000000;
	x->deadline = x->since + (s == C_HEAD ? h->b.request_ms :
				  s == C_KEPT ? h->b.idle_ms :
						h->b.response_ms);
}

/* Shuts x down: libmicrohttpd sees the end of the stream on its next run and closes it */
static void conn_close(struct conn *x)
{
	shutdown(x->fd, SHUT_RDWR);
	x->closing = true;
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* Which of two connections goes first to make room: one whose first request head is
 * incomplete (a slow or idle client, as slowloris holds them), then an idle kept-alive
 * one, then one being answered; the oldest in its state first */
static bool goes_first(const struct conn *a, const struct conn *b)
{
	if (a->state != b->state)
		return a->state < b->state;
	return a->order < b->order;
}

/* The connection to close for room: the first to go of client c's, or (c NULL) of the
 * connections of the clients that have the most. Cost: O(slots^2) */
static struct conn *first_to_go(struct ms_httpd *h, const struct client *c)
{
	struct conn *v = NULL;
	unsigned i, n, most = 0;

	for (i = 0; !c && i < h->nconn; i++)
		if (counted(&h->conn[i]) && (n = count_from(h, &h->conn[i].from)) > most)
			most = n;
	for (i = 0; i < h->nconn; i++) {
		struct conn *x = &h->conn[i];

		if (!counted(x) || (c ? !same_client(&x->from, c) : count_from(h, &x->from) < most))
			continue;
		if (!v || goes_first(x, v))
			v = x;
	}
	return v;
}

/*
 * A new connection from sa, before libmicrohttpd takes it: always let in. At the limit per
 * client, the client's first to go is closed: a client cannot hold more, and a scraper
 * behind the same address as a flood of slow connections still gets in. At the total
 * limit, the first to go of the clients with the most connections is closed.
 */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct ms_httpd *h = cls;
	struct conn *v = NULL;
	struct client c;

	client_of(sa, &c);
	if (count_from(h, &c) >= h->b.per_client)
		v = first_to_go(h, &c);
	else if (count_from(h, NULL) >= h->b.connections)
		v = first_to_go(h, NULL);
	if (v)
		conn_close(v);
	return MHD_YES;
}

/* A connection starts (a slot of its own, its request deadline) or ends */
static void on_connection(void *cls, struct MHD_Connection *mc, void **ctx,
			  enum MHD_ConnectionNotificationCode what)
{
	struct ms_httpd *h = cls;
	const union MHD_ConnectionInfo *fd, *sa;
	struct conn *x = *ctx;
	unsigned i;

	if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (x)
			x->used = false;
		*ctx = NULL;
		return;
	}
	fd = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	sa = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	for (i = 0; i < h->nconn && h->conn[i].used; i++)
		;
	if (!fd)
		return;
	if (i == h->nconn || !sa) { /* never: libmicrohttpd holds no more than the slots */
		shutdown(fd->connect_fd, SHUT_RDWR);
		return;
	}
	x = &h->conn[i];
	*x = (struct conn){ .used = true, .fd = fd->connect_fd };
	client_of(sa->client_addr, &x->from);
	conn_enter(h, x, C_HEAD);
	*ctx = x;
}

/* A response is sent: the connection is kept alive for the next request (or closes) */
static void on_completed(void *cls, struct MHD_Connection *mc, void **req,
			 enum MHD_RequestTerminationCode why)
{
	struct conn *x = conn_of(mc);

	if (x && counted(x) && why == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		conn_enter(cls, x, C_KEPT);
}

/* Shuts down the connections past their deadline; returns the next deadline (UINT64_MAX:
 * none) */
static uint64_t enforce(struct ms_httpd *h, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	unsigned i;

	for (i = 0; i < h->nconn; i++) {
		struct conn *x = &h->conn[i];

		if (!counted(x))
			continue;
		if (now >= x->deadline)
			conn_close(x);
		else if (x->deadline < next)
			next = x->deadline;
	}
	return next;
}

/* The server's thread: waits on libmicrohttpd's epoll set until its timeout or the next
 * deadline, runs it, keeps the deadlines; until ms_httpd_free wakes it */
static void *serve(void *arg)
{
	struct ms_httpd *h = arg;
	struct pollfd fds[2] = { { .fd = h->epoll_fd, .events = POLLIN },
				 { .fd = h->wake, .events = POLLIN } };

	for (;;) {
		MHD_UNSIGNED_LONG_LONG mhd_ms;
		uint64_t now = ms_now_ns() / 1000000, next = enforce(h, now);
		uint64_t wait = next == UINT64_MAX ? UINT64_MAX : next - now;
		int ms;

		if (MHD_get_timeout(h->mhd, &mhd_ms) == MHD_YES && mhd_ms < wait)
			wait = mhd_ms;
		ms = wait == UINT64_MAX ? -1 : wait > INT_MAX ? INT_MAX : (int)wait;
		if (poll(fds, 2, ms) < 0 && errno != EINTR)
			usleep(10000); /* ENOMEM: try again */
		if (fds[1].revents)
			break;
		MHD_run(h->mhd);
	}
	return NULL;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
			     bool allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A request's *req once its head is seen, when it asks for no path served: its error is
 * answered */
static char answered;

/*
 * GET or HEAD of a path: a copy of its latest buffer; nothing else is read here. The first
 * call comes with the request head: the response's deadline starts, and an error is
 * answered at once (libmicrohttpd then closes the connection, unread body and all). 200 is
 * queued at the last call, after the body (none, or dropped): libmicrohttpd 0.9.75 closes a
 * connection whose response was queued with the head, and keep-alive needs it open.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req)
{
	struct ms_httpd *h = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned i, status;
	struct path *p;
	struct conn *x;

	if (!*req) {
		*req = &answered;
		x = conn_of(conn);
		if (x && counted(x))
			conn_enter(h, x, C_ANSWER);
		if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
			return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, h->not_allowed, true);
		for (i = 0; i < h->npaths && strcmp(url, h->path[i].path); i++)
			;
		if (i == h->npaths)
			return reply(conn, MHD_HTTP_NOT_FOUND, h->not_found, false);
		*req = &h->path[i];
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*req == &answered)
		return MHD_NO;
	p = *req;
	if (p->fn) {
		struct ms_httpd_request r = { conn };
		const char *type = "text/plain; charset=utf-8";
		char *body = NULL;
		size_t len = 0;

		status = p->fn(p->ctx, &r, &body, &len, &type);
		resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(body);
			return MHD_NO;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
		ret = MHD_queue_response(conn, status, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	pthread_mutex_lock(&h->lock);
	resp = MHD_create_response_from_buffer(p->len, p->buf, MHD_RESPMEM_MUST_COPY);
	pthread_mutex_unlock(&h->lock);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, p->type);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	fputs("memscope-bpf: http: ", stderr);
	vfprintf(stderr, fmt, ap);
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

int ms_httpd_parse_addr(const char *text, const char *option, struct sockaddr_storage *sa,
			socklen_t *len, char *err, size_t errlen)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
	char host[INET6_ADDRSTRLEN + 8];
	const char *colon, *port;
	uint16_t pnum;
	size_t hl;

	memset(sa, 0, sizeof(*sa));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			goto bad;
		hl = close - text - 1;
		port = close + 2;
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, text + 1, hl);
		host[hl] = '\0';
		if (parse_port(port, &pnum) || inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(pnum);
		*len = sizeof(*in6);
		return 0;
	}
	colon = strrchr(text, ':');
	hl = colon ? (size_t)(colon - text) : 0;
	port = colon ? colon + 1 : text;
	if (hl >= sizeof(host) || (colon && memchr(text, ':', hl)))
		goto bad; /* an IPv6 address needs its brackets */
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (!hl || !strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (parse_port(port, &pnum) || inet_pton(AF_INET, host, &in4->sin_addr) != 1)
		goto bad;
	in4->sin_family = AF_INET;
	in4->sin_port = htons(pnum);
	*len = sizeof(*in4);
	return 0;
bad:
	snprintf(err, errlen,
		 "invalid %s '%s': ADDR:PORT, e.g. 127.0.0.1:9464, :9464 (loopback), "
		 "0.0.0.0:9464 or [::1]:9464",
		 option, text);
	return -EINVAL;
}

/* A bound, listening socket for sa; -errno */
static int listen_on(const struct sockaddr_storage *sa, socklen_t len)
{
	int fd, one = 1, err;

	fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, len) || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

struct ms_httpd *ms_httpd_new(const struct ms_httpd_limits *limits, int verbose)
{
	struct ms_httpd_limits none = { 0 };
	struct ms_httpd *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	if (!limits)
		limits = &none;
	h->b.connections = or_default(limits->connections, MS_HTTPD_CONNECTIONS);
	h->b.per_client = or_default(limits->per_client, MS_HTTPD_PER_CLIENT);
	h->b.request_ms = or_default(limits->request_ms, MS_HTTPD_REQUEST_MS);
	h->b.response_ms = or_default(limits->response_ms, MS_HTTPD_RESPONSE_MS);
	h->b.idle_ms = or_default(limits->idle_ms, MS_HTTPD_IDLE_MS);
	h->verbose = verbose;
	h->epoll_fd = h->wake = -1;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

int ms_httpd_add_path(struct ms_httpd *h, const char *path, const char *content_type,
		      const char *hint)
{
	if (h->mhd)
		return -EBUSY;
	if (h->npaths == MS_HTTPD_MAX_PATHS)
		return -ENOSPC;
	h->path[h->npaths] = (struct path){ .path = path, .type = content_type, .hint = hint };
	return h->npaths++;
}

int ms_httpd_add_handler(struct ms_httpd *h, const char *path, ms_httpd_handler_fn fn, void *ctx,
			 const char *hint)
{
	int id = ms_httpd_add_path(h, path, NULL, hint);

	if (id >= 0) {
		h->path[id].fn = fn;
		h->path[id].ctx = ctx;
	}
	return id;
}

void ms_httpd_publish(struct ms_httpd *h, int id, char *buf, size_t len)
{
	struct path *p = &h->path[id];
	char *old;

	pthread_mutex_lock(&h->lock);
	old = p->buf;
	p->buf = buf;
	p->len = len;
	pthread_mutex_unlock(&h->lock);
	free(old);
}

char *ms_httpd_copy(struct ms_httpd *h, int id, size_t *len)
{
	const struct path *p = &h->path[id];
	char *t;

	pthread_mutex_lock(&h->lock);
	t = malloc(p->len + 1);
	if (t) {
		if (p->len)
			memcpy(t, p->buf, p->len);
		t[p->len] = '\0';
		*len = p->len;
	}
	pthread_mutex_unlock(&h->lock);
	return t;
}

/* lead, then the paths' hints (or names) with sep between them, and a newline: the body of
 * an error answer; NULL on ENOMEM */
static char *listing(const struct ms_httpd *h, const char *lead, const char *sep, bool hints)
{
	char *s = NULL;
	size_t len;
	unsigned i;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	fputs(lead, f);
	for (i = 0; i < h->npaths; i++)
		fprintf(f, "%s%s", i ? sep : "", hints ? h->path[i].hint : h->path[i].path);
	fputc('\n', f);
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}

/* h->url for the socket fd is bound to */
static void set_url(struct ms_httpd *h, int fd)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	getsockname(fd, (struct sockaddr *)&bound, &blen);
	if (bound.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&bound)->sin6_addr, host,
			  sizeof(host));
		port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
		snprintf(h->url, sizeof(h->url), "http://[%s]:%u", host, port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&bound)->sin_addr, host, sizeof(host));
		port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
		snprintf(h->url, sizeof(h->url), "http://%s:%u", host, port);
	}
}

/* libmicrohttpd on the listening socket fd (which it owns from then on, even on failure),
 * and the server's thread; -errno */
static int run(struct ms_httpd *h, int fd)
{
	const union MHD_DaemonInfo *di;
	unsigned longest;
	sigset_t all, old;
	int err;

	h->not_found = listing(h, "not found: ", "; ", true);
	h->not_allowed = listing(h, "only GET and HEAD ", ", ", false);
	/* room for the connections shut down here until libmicrohttpd's next run closes them;
	 * at its limit, libmicrohttpd leaves new ones in the listen queue until then */
	h->nconn = 2 * h->b.connections;
	h->conn = calloc(h->nconn, sizeof(*h->conn));
	longest = h->b.request_ms > h->b.idle_ms ? h->b.request_ms : h->b.idle_ms;
	longest = longest > h->b.response_ms ? longest : h->b.response_ms;
	if (h->conn && h->not_found && h->not_allowed)
		/* its inactivity timeout only backs the deadlines up */
		h->mhd = MHD_start_daemon(MHD_USE_EPOLL | (h->verbose ? MHD_USE_ERROR_LOG : 0), 0,
					  on_accept, h, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
					  on_mhd_log, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
					  MHD_OPTION_CONNECTION_LIMIT, h->nconn,
					  MHD_OPTION_CONNECTION_TIMEOUT, longest / 1000 + 1,
					  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY,
					  MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
					  MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
					  MHD_OPTION_END);
	if (!h->mhd) {
		close(fd);
		return h->conn && h->not_found && h->not_allowed ? -EIO : -ENOMEM;
	}
	di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	h->epoll_fd = di ? di->epoll_fd : -1;
	h->wake = eventfd(0, EFD_CLOEXEC);
	if (h->epoll_fd < 0 || h->wake < 0)
		return h->wake < 0 ? -errno : -EIO;
	/* the server's thread takes no signal: Ctrl-C stays the daemon's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&h->thread, NULL, serve, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	h->running = !err;
	return -err;
}

int ms_httpd_start(struct ms_httpd *h, const char *addr_port)
{
	struct sockaddr_storage sa;
	socklen_t len;
	char err[256];
	int fd;

	if (h->mhd)
		return -EBUSY;
	if (ms_httpd_parse_addr(addr_port, "address", &sa, &len, err, sizeof(err)))
		return -EINVAL;
	fd = listen_on(&sa, len);
	if (fd < 0)
		return fd;
	set_url(h, fd);
	return run(h, fd);
}

const char *ms_httpd_url(const struct ms_httpd *h)
{
	return h->url;
}

void ms_httpd_free(struct ms_httpd *h)
{
	uint64_t one = 1;
	unsigned i;

	if (!h)
		return;
	if (h->running && write(h->wake, &one, sizeof(one)) == sizeof(one))
		pthread_join(h->thread, NULL);
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	if (h->wake >= 0)
		close(h->wake);
	free(h->conn);
	free(h->not_found);
	free(h->not_allowed);
	for (i = 0; i < h->npaths; i++)
		free(h->path[i].buf);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
