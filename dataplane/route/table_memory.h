// Fixed-size arrays for lookup tables, backed by transparent huge pages where
// the kernel allows: a table of several megabytes read at random addresses
// otherwise misses the TLB on most lookups.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
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
    mapped_ = round_up(size_ * sizeof(T));
    data_ = static_cast<T*>(map(mapped_));
    std::memcpy(data_, from.data(), size_ * sizeof(T));
  }
  TableArray(TableArray&& o) noexcept { swap(o); }
  TableArray& operator=(TableArray&& o) noexcept { swap(o); return *this; }
  TableArray(const TableArray&) = delete;
  TableArray& operator=(const TableArray&) = delete;
  ~TableArray() { if (data_) munmap(data_, mapped_); }

  const T* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  static constexpr size_t kHugePage = size_t{2} << 20;
  // Maps `bytes` (a multiple of the page size used) aligned to a huge page
  // when it is at least one, so that the kernel can back it with huge pages.
  static void* map(size_t bytes) {
    const size_t align = bytes >= kHugePage ? kHugePage : 4096;
    const size_t slack = align - 4096;
    void* m = mmap(nullptr, bytes + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    const uintptr_t start = reinterpret_cast<uintptr_t>(m);
    const uintptr_t aligned = (start + align - 1) & ~(align - 1);
    if (aligned > start) munmap(m, aligned - start);
    if (start + slack > aligned) munmap(reinterpret_cast<void*>(aligned + bytes), start + slack - aligned);
    // Advice only: without huge pages the table works the same, a little slower.
    if (align == kHugePage) madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
    return reinterpret_cast<void*>(aligned);
  }
  static size_t round_up(size_t bytes) {
    const size_t unit = bytes >= kHugePage ? kHugePage : 4096;
    return (bytes + unit - 1) / unit * unit;
  }
  void swap(TableArray& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(mapped_, o.mapped_);
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;
};

}  // namespace vitesse::route
