#include "packet.h"

#include <sys/mman.h>

#include <new>

namespace vitesse {

PacketPool::PacketPool(size_t count) : bytes_(count * kPacketBufferSize) {
  // mmap: untouched buffers cost no resident memory, and the pool's LIFO free
  // list keeps the same few hot buffers in use on a lightly loaded queue.
  void* m = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  memory_ = static_cast<uint8_t*>(m);
  packets_.resize(count);
  free_ = std::make_unique<Packet*[]>(count);
  for (size_t i = count; i-- > 0;) {
    packets_[i].buf = memory_ + i * kPacketBufferSize;
    packets_[i].reset();
    free_[nfree_++] = &packets_[i];
  }
}

PacketPool::~PacketPool() {
  if (memory_) munmap(memory_, bytes_);
}

}  // namespace vitesse
