// leaks_cpp.cc: a namespaced C++ method leaking through operator new, for demangled
// allocation sites
//
// usage: leaks_cpp
// Built by run.py: g++ -O1 -g -fno-omit-frame-pointer (the C workloads' flags). Run from
// its first instruction under the tracer (launched). ns::Cache::grow() allocates one
// Entry with new (the global operator new of libstdc++, which calls malloc) and never
// frees it; main calls it 50 times, 20 ms apart, waits 0.5 s and exits. Entry is 200
// bytes, so the site holds 50 blocks and 10000 bytes at the exit, all older than 0.25 s.
// The new's line carries a "SITE:grow" marker that run.py reads for the expected
// file:line.
//
// Prints one JSON line before exiting: {"pid", "blocks", "bytes"} (write(2): no iostream,
// nothing allocates but grow()).
#include <stdint.h>
#include <time.h>
#include "gt.h"

namespace ns {

struct Entry {
	Entry *next;
	char data[192];
};

class Cache {
      public:
	Cache() : head_(nullptr), blocks_(0), bytes_(0)
	{
	}
	void grow(unsigned long n);
	uint64_t blocks() const
	{
		return blocks_;
	}
	uint64_t bytes() const
	{
		return bytes_;
	}
	unsigned sum() const;

      private:
	Entry *head_;
	uint64_t blocks_, bytes_;
};

// n entries, each one block of sizeof(Entry) from operator new, chained and never freed
__attribute__((noinline)) void Cache::grow(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++) {
		Entry *e = new Entry; // SITE:grow

		e->next = head_;
		e->data[0] = static_cast<char>(i);
		head_ = e;
		blocks_++;
		bytes_ += sizeof(Entry);
	}
}

unsigned Cache::sum() const
{
	unsigned s = 0;

	for (const Entry *e = head_; e; e = e->next)
		s += static_cast<unsigned char>(e->data[0]);
	return s;
}

} // namespace ns

static_assert(sizeof(ns::Entry) == 200, "Entry is 200 bytes");

int main()
{
	static ns::Cache cache;
	static struct gt_buf b;
	struct timespec ts = { 0, 20 * 1000 * 1000 }, rest = { 0, 500 * 1000 * 1000 };
	volatile unsigned sink;

	for (int i = 0; i < 50; i++) {
		cache.grow(1); // CALL:grow
		nanosleep(&ts, nullptr);
	}
	nanosleep(&rest, nullptr);
	sink = cache.sum(); // the entries are read: none could be dropped
	(void)sink;
	gt_puts(&b, "{\"pid\": ");
	gt_putu(&b, static_cast<uint64_t>(getpid()));
	gt_field(&b, "blocks", cache.blocks());
	gt_field(&b, "bytes", cache.bytes());
	gt_puts(&b, "}\n");
	gt_write(1, b.s, b.len);
	return 0;
}
