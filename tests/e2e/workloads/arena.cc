// arena.cc: a C++ arena allocator, traced by its names as written in source
//
// usage: arena
// Prints "ready <pid>", waits for SIGUSR1, runs the window, prints the ground truth (one
// JSON line, agt.h), waits for SIGUSR2 and exits. Built with g++ (see run.py).
//
// Traced as --alloc 'arena=Arena::Allocate(_, size)' --free 'arena=Arena::Free(_, ptr)'
// (`this` is the first argument). Arena::Allocate bumps through 4 KiB chunks from
// malloc (its backing); a request above the largest block fails (nullptr). Arena::Free
// releases a chunk with free, inside the call, once every block carved from it is freed
// and it is no longer the chunk being carved. Nothing else allocates in the window: no
// new, no std containers, no iostream (the output is agt.h's write(2)).
#include "agt.h"

class Arena {
      public:
	static const size_t kChunk = 4096;

	Arena() : cur_(nullptr), end_(nullptr), chunk_(nullptr)
	{
	}
	void *Allocate(size_t n);
	void Free(void *p);

      private:
	struct Chunk {
		size_t live; // blocks carved from it not yet freed
		size_t pad;
	};
	struct Header {
		Chunk *chunk;
		size_t pad;
	};

	char *cur_, *end_;
	Chunk *chunk_; // the chunk being carved
};

static struct agt arena_gt = { "arena", "custom", 1, {}, {}, 0, {}, {} };

static void *(*volatile arena_malloc_fn)(size_t) = malloc;
static void (*volatile arena_free_fn)(void *) = free;

static const size_t kMaxBlock = Arena::kChunk - 32;

__attribute__((noipa)) void *Arena::Allocate(size_t n)
{
	size_t need = sizeof(Header) + ((n + 15) & ~static_cast<size_t>(15));

	if (n > kMaxBlock)
		return nullptr;
	if (!chunk_ || static_cast<size_t>(end_ - cur_) < need) {
		Chunk *c = static_cast<Chunk *>(arena_malloc_fn(kChunk));

		agt_backing_alloc(&arena_gt, c, kChunk);
		if (!c)
			return nullptr;
		if (chunk_ && chunk_->live == 0) {
			arena_free_fn(chunk_);
			agt_backing_free(&arena_gt, kChunk);
		}
		c->live = 0;
		chunk_ = c;
		cur_ = reinterpret_cast<char *>(c + 1);
		end_ = reinterpret_cast<char *>(c) + kChunk;
	}
	Header *h = reinterpret_cast<Header *>(cur_);
	h->chunk = chunk_;
	chunk_->live++;
	cur_ += need;
	return h + 1;
}

__attribute__((noipa)) void Arena::Free(void *p)
{
	if (!p)
		return;
	Chunk *c = (static_cast<Header *>(p) - 1)->chunk;
	if (--c->live == 0 && c != chunk_) {
		arena_free_fn(c);
		agt_backing_free(&arena_gt, kChunk);
	}
}

static Arena *volatile the_arena;

static void *get(size_t n)
{
	void *p = the_arena->Allocate(n);

	agt_alloc(&arena_gt, "Arena::Allocate", p, n);
	return p;
}

static void put(struct blk *b)
{
	the_arena->Free(b->p);
	if (b->p)
		agt_free(&arena_gt, "Arena::Free", b->n);
	b->p = nullptr;
}

int main()
{
	static Arena arena;
	static struct blk b[300];
	struct agt *all[1] = { &arena_gt };
	sigset_t set;
	unsigned i;

	the_arena = &arena;
	gt_block_signals(&set);
	gt_ready();
	gt_wait_signal(SIGUSR1);

	// ---- the window ----
	// 300 blocks of 1 to 700 bytes; the first 200 freed (their chunks released as they
	// empty), then every other one of the rest
	for (i = 0; i < 300; i++) {
		b[i].n = 1 + (i * 131u) % 700;
		b[i].p = get(b[i].n);
	}
	for (i = 0; i < 200; i++)
		put(&b[i]);
	for (i = 200; i < 300; i += 2)
		put(&b[i]);
	// too large: a failed call; Free(nullptr): no call for the tracer
	if (get(kMaxBlock + 1) || get(100000))
		gt_die("Arena::Allocate above its chunk succeeded");
	put(&b[0]);

	agt_print(all, 1);
	gt_wait_signal(SIGUSR2);
	return 0;
}
