/* fuzz_prom_addr.c: --prometheus values (user input): "PORT", ":PORT", "A.B.C.D:PORT",
 * "[IPv6]:PORT", "localhost:PORT" */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include "fuzz.h"
#include "prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fz_cstr(data, size), err[256];
	struct sockaddr_storage sa;
	socklen_t len = 0;
	int rc;

	memset(err, 'X', sizeof(err));
	rc = ms_prom_parse_addr(text, &sa, &len, err, sizeof(err));
	FZ_CHECK(rc == 0 || rc == -EINVAL, "returned %d", rc);
	if (rc) {
		FZ_CHECK(memchr(err, '\0', sizeof(err)), "error message not terminated");
	} else if (sa.ss_family == AF_INET) {
		FZ_CHECK(len == sizeof(struct sockaddr_in), "length %u for IPv4", (unsigned)len);
	} else {
		FZ_CHECK(sa.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6),
			 "family %u length %u", sa.ss_family, (unsigned)len);
		FZ_CHECK(text[0] == '[', "IPv6 without brackets: %s", text);
	}
	free(text);
	return 0;
}
