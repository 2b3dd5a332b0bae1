#include "io/af_packet_filter.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace vitesse {

namespace {

// Frame offsets (untagged Ethernet; a VLAN tag the NIC did not strip makes
// the frame "not for a queue", so it goes to queue 0).
constexpr uint32_t kEthertype = 12, kIpv4Dst = 14 + 16, kIpv6Dst = 14 + 24;
constexpr uint32_t kWholeFrame = 0x40000;  // accept: longer than any frame

uint32_t word(const uint8_t* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return __builtin_bswap32(w);  // classic BPF loads words big-endian
}

// Classic BPF jumps are relative 8-bit offsets: the program is assembled with
// labels and the offsets are filled in once every label is placed.
class Assembler {
 public:
  using Label = size_t;
  Label label() {
    at_.push_back(SIZE_MAX);
    return at_.size() - 1;
  }
  void place(Label l) { at_[l] = code_.size(); }

  void load_half(uint32_t off) { code_.push_back(BPF_STMT(BPF_LD | BPF_H | BPF_ABS, off)); }
  void load_word(uint32_t off) { code_.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off)); }
  void ret(uint32_t k) { code_.push_back(BPF_STMT(BPF_RET | BPF_K, k)); }
  void jeq(uint32_t k, Label t, Label f) {
    fixups_.push_back({code_.size(), t, f});
    code_.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 0));
  }
  void jump(Label t) {
    fixups_.push_back({code_.size(), t, t});
    code_.push_back(BPF_STMT(BPF_JMP | BPF_JA, 0));
  }

  std::vector<sock_filter> finish() {
    for (const auto& f : fixups_) {
      sock_filter& ins = code_[f.at];
      if (std::max(at_[f.t], at_[f.f]) - f.at - 1 > 255) {
        throw std::length_error("af-packet: too many queue addresses for one socket filter");
      }
      if (BPF_OP(ins.code) == BPF_JA) {
        ins.k = static_cast<uint32_t>(at_[f.t] - f.at - 1);
      } else {
        ins.jt = static_cast<uint8_t>(at_[f.t] - f.at - 1);
        ins.jf = static_cast<uint8_t>(at_[f.f] - f.at - 1);
      }
    }
    return code_;
  }

 private:
  struct Fixup { size_t at; Label t, f; };
  std::vector<sock_filter> code_;
  std::vector<size_t> at_;
  std::vector<Fixup> fixups_;
};

}  // namespace

std::vector<sock_filter> destination_filter(const std::vector<QueueAddress>& addresses, uint32_t queue) {
  Assembler a;
  auto accept = a.label(), reject = a.label(), nobodys = a.label(), v4 = a.label(), not_v4 = a.label(), v6 = a.label();
  auto verdict = [&](uint32_t owner) { return owner == queue ? accept : reject; };

  a.load_half(kEthertype);
  a.jeq(0x0800, v4, not_v4);
  a.place(not_v4);
  a.jeq(0x86dd, v6, nobodys);

  a.place(v4);
  a.load_word(kIpv4Dst);
  for (uint32_t q = 0; q < addresses.size(); q++) {
    if (addresses[q].v6) continue;
    auto next = a.label();
    a.jeq(word(addresses[q].v4()), verdict(q), next);
    a.place(next);
  }
  a.jump(nobodys);

  a.place(v6);
  for (uint32_t q = 0; q < addresses.size(); q++) {
    if (!addresses[q].v6) continue;
    auto next_address = a.label();
    for (int w = 0; w < 4; w++) {
      auto next_word = a.label();
      a.load_word(kIpv6Dst + 4 * w);
      a.jeq(word(addresses[q].bytes.data() + 4 * w), w == 3 ? verdict(q) : next_word, next_address);
      a.place(next_word);
    }
    a.place(next_address);
  }

  a.place(nobodys);  // ARP, ND, multicast, other protocols, other addresses
  a.ret(queue == 0 ? kWholeFrame : 0);
  a.place(accept);
  a.ret(kWholeFrame);
  a.place(reject);
  a.ret(0);
  return a.finish();
}

}  // namespace vitesse
