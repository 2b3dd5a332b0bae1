#include "esp/sa_arena.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "util/asan.h"

namespace vitesse::esp {

namespace {

// Cache lines, rounded up to an odd count (sa_arena.h says why).
size_t odd_stride(size_t object_size) {
  size_t lines = (object_size + SlotArena::kLine - 1) / SlotArena::kLine;
  if (lines % 2 == 0) lines++;
  return lines * SlotArena::kLine;
}

}  // namespace

SlotArena::SlotArena(size_t object_size, std::string what)
    : object_size_(object_size), stride_(odd_stride(object_size)), what_(std::move(what)) {
  if (object_size == 0 || stride_ > kChunkBytes) throw std::invalid_argument(what_ + ": bad slot size");
}

SlotArena::~SlotArena() {
  for (void* c : chunks_) {
    // The shadow of unmapped memory is not reset by munmap: a later mapping
    // at the same address must not inherit our poison.
    VITESSE_UNPOISON(c, kChunkBytes);
    munmap(c, kChunkBytes);
  }
}

void SlotArena::grow() {
  const size_t n = slots_per_chunk();
  chunks_.reserve(chunks_.size() + 1);  // nothing can throw once the chunk is mapped
  free_.reserve(free_.size() + n);
  // Pages are touched (and so backed) as slots are used. Huge pages
  // (MADV_HUGEPAGE on 2 MiB-aligned chunks) made no difference at 1000 or
  // 10 000 routes (docs/dataplane.md, "Round five, SA arena").
  void* m = mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    const int err = errno;
    throw std::runtime_error(what_ + ": cannot map " + std::to_string(kChunkBytes >> 20) + " MiB for " +
                             std::to_string(n) + " more (" + std::to_string(in_use_) + " in use): " + std::strerror(err));
  }
  char* chunk = static_cast<char*>(m);
  chunks_.push_back(chunk);
  VITESSE_POISON(chunk, kChunkBytes);
  // The chunk's first slot starts where the previous chunk's slots would have
  // continued modulo a page (a colour offset), so the odd stride's spread
  // over the L1 sets runs on across chunks. Pushed from the last slot down,
  // so slots are handed out in address order.
  char* first = chunk + ((chunks_.size() - 1) * n * stride_) % kPage;
  for (size_t i = n; i-- > 0;) free_.push_back(first + i * stride_);
}

void* SlotArena::allocate() {
  if (free_.empty()) grow();
  void* p = free_.back();
  free_.pop_back();
  in_use_++;
  VITESSE_UNPOISON(p, object_size_);
  return p;
}

void SlotArena::release(void* p) {
  VITESSE_POISON(p, stride_);
  free_.push_back(p);
  in_use_--;
}

}  // namespace vitesse::esp
