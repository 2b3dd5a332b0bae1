// Fixed-size arrays for lookup tables. An array of at least one huge page
// (2 MiB) is mapped on its own, aligned, with MADV_HUGEPAGE: a table of
// several megabytes read at random addresses otherwise misses the TLB on
// most lookups. Smaller arrays come from the ordinary heap, which recycles
// memory instead of faulting in fresh pages for every table built.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

namespace vitesse::route {

template <class T>
class TableArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  TableArray() = default;
  explicit TableArray(std::span<const T> from) : size_(from.size()) {
    if (size_ == 0) return;
    const size_t bytes = size_ * sizeof(T);
    if (bytes >= kHugePage) {
      mapped_ = (bytes + kHugePage - 1) / kHugePage * kHugePage;
      data_ = static_cast<T*>(map_huge(mapped_));
    } else {
      data_ = static_cast<T*>(std::aligned_alloc(kCacheLine, (bytes + kCacheLine - 1) / kCacheLine * kCacheLine));
      if (!data_) throw std::bad_alloc();
    }
    std::memcpy(data_, from.data(), bytes);
  }
  TableArray(TableArray&& o) noexcept { swap(o); }
  TableArray& operator=(TableArray&& o) noexcept { swap(o); return *this; }
  TableArray(const TableArray&) = delete;
  TableArray& operator=(const TableArray&) = delete;
  ~TableArray() {
    if (mapped_) munmap(data_, mapped_);
    else std::free(data_);
  }

  const T* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  static constexpr size_t kHugePage = size_t{2} << 20;
  static constexpr size_t kCacheLine = 64;

  // Maps `bytes` (a multiple of kHugePage) at a huge-page boundary, so that
  // the kernel can back all of it with huge pages.
  static void* map_huge(size_t bytes) {
    const size_t slack = kHugePage;
    void* m = mmap(nullptr, bytes + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    const uintptr_t start = reinterpret_cast<uintptr_t>(m);
    const uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
    if (aligned > start) munmap(m, aligned - start);
    if (start + slack > aligned) munmap(reinterpret_cast<void*>(aligned + bytes), start + slack - aligned);
    // Advice only: without huge pages the table works the same, a little slower.
    madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
    return reinterpret_cast<void*>(aligned);
  }

  void swap(TableArray& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(mapped_, o.mapped_);
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;  // 0: from the heap
};

}  // namespace vitesse::route
