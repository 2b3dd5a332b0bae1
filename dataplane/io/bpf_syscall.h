// The few bpf(2) commands the af-xdp driver needs, over the raw system call
// (kernel UAPI headers only; no libbpf). Each returns a file descriptor or
// throws std::runtime_error with the kernel's reason; for a program the
// verifier refuses, the reason includes the end of its log.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/unique_fd.h"

namespace vitesse::bpf {

using Fd = UniqueFd;

Fd map_create(bpf_map_type type, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const char* name);
// 0 on success, else -errno.
int map_update(int map, const void* key, const void* value, uint64_t flags = BPF_ANY);
int map_delete(int map, const void* key);

Fd prog_load_xdp(const std::vector<bpf_insn>& insns, const char* name);

// An attached program we did not load: its id → a descriptor and its name.
// Returns an empty Fd if the program is gone.
Fd prog_by_id(uint32_t id);
std::string prog_name(int prog);

}  // namespace vitesse::bpf
