// leaks_string.cc: a C++ leak through std::string, built with frame pointers as a user
// builds (-O1 -fno-omit-frame-pointer), whose allocation is in libstdc++ (built without
// them): std::basic_string::_M_construct calls operator new.
//
// usage: leaks_string [N]   (default 300)
// Keeps N strings of 200 characters (one 201-byte block each) made in leak_strings, then
// prints {"blocks": N, "bytes": 201 * N} with write(2) and exits.
#include <string>
#include <vector>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>

static std::vector<std::string> *keep;

__attribute__((noinline)) static void leak_strings(int n)
{
	for (int i = 0; i < n; i++)
		keep->emplace_back(200, 'a' + i % 26); // SITE:leak_strings
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 300;
	char line[64];
	int len;

	keep = new std::vector<std::string>;
	keep->reserve(n);
	leak_strings(n);
	len = snprintf(line, sizeof(line), "{\"blocks\": %d, \"bytes\": %d}\n", n, 201 * n);
	return write(1, line, len) == len ? 0 : 1;
}
