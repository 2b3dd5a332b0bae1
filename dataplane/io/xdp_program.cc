#include "io/xdp_program.h"

#include <linux/if_ether.h>
#include <stddef.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace vitesse {

namespace {

// Registers: r1-r5 arguments/scratch, r6-r9 kept across calls, r10 frame pointer.
enum Reg : uint8_t { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 };

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn mov_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn mov_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn add_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm); }
bpf_insn add_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU64 | BPF_ADD | BPF_X, dst, src, 0, 0); }
bpf_insn mul_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MUL | BPF_K, dst, 0, 0, imm); }
bpf_insn load(uint8_t size, uint8_t dst, uint8_t src, int16_t off) { return insn(BPF_LDX | BPF_MEM | size, dst, src, off, 0); }
bpf_insn store(uint8_t size, uint8_t dst, int16_t off, uint8_t src) { return insn(BPF_STX | BPF_MEM | size, dst, src, off, 0); }
bpf_insn store_imm(uint8_t size, uint8_t dst, int16_t off, int32_t imm) { return insn(BPF_ST | BPF_MEM | size, dst, 0, off, imm); }
bpf_insn call(int32_t helper) { return insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }
// A map's descriptor as a 64-bit immediate (two instruction slots); the
// kernel swaps it for the map's address at load time.
void load_map(std::vector<bpf_insn>& p, uint8_t dst, int map) {
  p.push_back(insn(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, map));
  p.push_back(insn(0, 0, 0, 0, 0));
}

// Jumps are relative; forward jumps are patched when their target is placed.
struct Patch {
  explicit Patch(std::vector<bpf_insn>& prog) : p(prog) {}
  std::vector<bpf_insn>& p;
  std::vector<size_t> from;
  size_t jump(uint8_t op, uint8_t dst, int32_t imm) {  // if dst op imm goto <label>
    from.push_back(p.size());
    p.push_back(insn(BPF_JMP | op | BPF_K, dst, 0, 0, imm));
    return p.size() - 1;
  }
  size_t jump_reg(uint8_t op, uint8_t dst, uint8_t src) {
    from.push_back(p.size());
    p.push_back(insn(BPF_JMP | op | BPF_X, dst, src, 0, 0));
    return p.size() - 1;
  }
  size_t always() {
    from.push_back(p.size());
    p.push_back(insn(BPF_JMP | BPF_JA, 0, 0, 0, 0));
    return p.size() - 1;
  }
  void place() {  // every jump recorded so far lands here
    for (size_t f : from) p[f].off = static_cast<int16_t>(p.size() - f - 1);
    from.clear();
  }
};

constexpr int16_t kCtxData = offsetof(xdp_md, data);
constexpr int16_t kCtxDataEnd = offsetof(xdp_md, data_end);
constexpr int16_t kCtxRxQueue = offsetof(xdp_md, rx_queue_index);
// Ethertypes as a little-endian 16-bit load of the big-endian field sees them.
constexpr int32_t kIpv4Le = 0x0008, kIpv6Le = 0xdd86;
constexpr int16_t kEthertypeOff = 12, kIpv4DstOff = ETH_HLEN + 16, kIpv6DstOff = ETH_HLEN + 24;
constexpr int16_t kKey = -16;  // the 16-byte address key on the stack

}  // namespace

std::vector<bpf_insn> XdpSteering::program(uint32_t queues, bool by_destination, int xsks, int addrs) {
  std::vector<bpf_insn> p;
  if (!by_destination) {
    // slot = rx_queue * queues + rx_queue
    p.push_back(load(BPF_W, R2, R1, kCtxRxQueue));
    p.push_back(mul_imm(R2, static_cast<int32_t>(queues + 1)));
  } else {
    Patch to_steer(p), to_v4(p), to_lookup(p);
    p.push_back(mov_reg(R6, R1));                   // r6 = ctx
    p.push_back(mov_imm(R7, 0));                    // r7 = queue (0 unless an address says otherwise)
    p.push_back(load(BPF_W, R2, R6, kCtxData));     // r2 = data
    p.push_back(load(BPF_W, R3, R6, kCtxDataEnd));  // r3 = data_end
    p.push_back(mov_reg(R4, R2));
    p.push_back(add_imm(R4, ETH_HLEN));
    to_steer.jump_reg(BPF_JGT, R4, R3);             // no room for an Ethernet header
    p.push_back(load(BPF_H, R5, R2, kEthertypeOff));
    to_v4.jump(BPF_JEQ, R5, kIpv4Le);
    to_steer.jump(BPF_JNE, R5, kIpv6Le);
    // IPv6: key = destination address
    p.push_back(mov_reg(R4, R2));
    p.push_back(add_imm(R4, kIpv6DstOff + 16));
    to_steer.jump_reg(BPF_JGT, R4, R3);
    for (int16_t w = 0; w < 16; w += 4) {
      p.push_back(load(BPF_W, R5, R2, kIpv6DstOff + w));
      p.push_back(store(BPF_W, R10, kKey + w, R5));
    }
    to_lookup.always();
    // IPv4: key = ::ffff:<destination>
    to_v4.place();
    p.push_back(mov_reg(R4, R2));
    p.push_back(add_imm(R4, kIpv4DstOff + 4));
    to_steer.jump_reg(BPF_JGT, R4, R3);
    p.push_back(store_imm(BPF_DW, R10, kKey, 0));
    p.push_back(store_imm(BPF_W, R10, kKey + 8, static_cast<int32_t>(0xffff0000u)));  // bytes 00 00 ff ff
    p.push_back(load(BPF_W, R5, R2, kIpv4DstOff));
    p.push_back(store(BPF_W, R10, kKey + 12, R5));
    // r0 = addrs[key]; a known address names its queue
    to_lookup.place();
    load_map(p, R1, addrs);
    p.push_back(mov_reg(R2, R10));
    p.push_back(add_imm(R2, kKey));
    p.push_back(call(BPF_FUNC_map_lookup_elem));
    to_steer.jump(BPF_JEQ, R0, 0);
    p.push_back(load(BPF_W, R7, R0, 0));
    // slot = rx_queue * queues + queue
    to_steer.place();
    p.push_back(load(BPF_W, R2, R6, kCtxRxQueue));
    p.push_back(mul_imm(R2, static_cast<int32_t>(queues)));
    p.push_back(add_reg(R2, R7));
  }
  // return bpf_redirect_map(xsks, slot, XDP_PASS): an empty slot passes the
  // frame to the kernel.
  load_map(p, R1, xsks);
  p.push_back(mov_imm(R3, XDP_PASS));
  p.push_back(call(BPF_FUNC_redirect_map));
  p.push_back(exit_insn());
  return p;
}

XdpSteering::XdpSteering(uint32_t queues, const std::vector<QueueAddress>& addresses) : queues_(queues) {
  xsks_ = bpf::map_create(BPF_MAP_TYPE_XSKMAP, 4, 4, queues * queues, "vitesse_xsks");
  bool by_destination = !addresses.empty();
  if (by_destination) {
    addrs_ = bpf::map_create(BPF_MAP_TYPE_HASH, 16, 4, queues, "vitesse_addrs");
    for (uint32_t q = 0; q < addresses.size(); q++) {
      int err = bpf::map_update(addrs_.get(), addresses[q].bytes.data(), &q);
      if (err < 0) throw std::runtime_error("bpf: filling the address map: " + std::string(strerror(-err)));
    }
  }
  prog_ = bpf::prog_load_xdp(program(queues, by_destination, xsks_.get(), addrs_.get()), kProgramName);
}

int XdpSteering::set_socket(uint32_t slot, int xsk) { return bpf::map_update(xsks_.get(), &slot, &xsk); }

int XdpSteering::clear_socket(uint32_t slot) { return bpf::map_delete(xsks_.get(), &slot); }

}  // namespace vitesse
