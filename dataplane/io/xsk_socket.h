// One AF_XDP socket and its mmap'd rings.
//
// An owner socket registers a UMEM (the packet memory) and has the fill and
// completion rings of its (interface, queue); a sharing socket is bound to the
// same (interface, queue) with XDP_SHARED_UMEM and has only an RX ring: the
// kernel fills it from the owner's fill ring, with frames of the owner's UMEM.
// That is how frames arriving on one receive queue reach another queue's
// worker (see xsk_group.h).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "io/xsk_ring.h"

namespace vitesse {

// Packet memory for AF_XDP: `frames` chunks of `frame_size` bytes.
class Umem {
 public:
  Umem(uint32_t frames, uint32_t frame_size);
  ~Umem();
  Umem(const Umem&) = delete;
  Umem& operator=(const Umem&) = delete;
  uint8_t* base() const { return base_; }
  size_t bytes() const { return bytes_; }
  uint32_t frame_size() const { return frame_size_; }
  uint32_t frames() const { return frames_; }

 private:
  uint8_t* base_ = nullptr;
  size_t bytes_;
  uint32_t frames_, frame_size_;
};

enum class XskBind { automatic, copy, zero_copy };

struct XskRingSizes {
  uint32_t fill = 0, completion = 0, rx = 0, tx = 0;  // powers of two; 0: no such ring
};

class XskSocket {
 public:
  struct Target {
    std::string ifname;  // for error messages
    int ifindex;
    uint32_t queue;
  };
  // An owner socket for `umem`, its rings set up and mapped but not yet bound,
  // so that the fill ring can be stocked first. Throws std::runtime_error.
  static std::unique_ptr<XskSocket> owner(const Target& at, const Umem& umem, XskRingSizes sizes);
  // A socket sharing bound `owner`'s UMEM and fill ring, with an RX ring only.
  // Bound on return.
  static std::unique_ptr<XskSocket> sharing(const Target& at, const XskSocket& owner, uint32_t rx_size);
  ~XskSocket();
  XskSocket(const XskSocket&) = delete;
  XskSocket& operator=(const XskSocket&) = delete;

  void bind(XskBind how);
  int fd() const { return fd_; }
  bool zero_copy() const { return zero_copy_; }
  // Frames one TX kick may send in copy mode (XDP_MAX_TX_SKB_BUDGET, Linux
  // 6.17+; the kernel's default, 32, before).
  uint32_t tx_budget() const { return tx_budget_; }
  // Asks the kernel to let this socket's polling drive the queue's NAPI
  // (SO_PREFER_BUSY_POLL, Linux 5.11+): for workers that poll without
  // sleeping. False if the kernel does not offer it.
  bool prefer_busy_poll();

  XskRing<xdp_desc> rx, tx;
  XskRing<uint64_t> fill, completion;

 private:
  explicit XskSocket(const Target& at);
  void map_rings(XskRingSizes sizes);
  std::runtime_error error(const std::string& what, int err) const;

  Target at_;
  int fd_ = -1;
  bool zero_copy_ = false;
  uint32_t tx_budget_ = 32;
};

}  // namespace vitesse
