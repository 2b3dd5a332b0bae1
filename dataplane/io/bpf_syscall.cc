#include "io/bpf_syscall.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vitesse::bpf {

namespace {

long sys_bpf(int cmd, bpf_attr* attr) { return syscall(__NR_bpf, cmd, attr, sizeof *attr); }

uint64_t ptr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

std::string reason(int err) {
  std::string r = std::strerror(err);
  if (err == EPERM) r += " (not permitted: run as root, or with CAP_BPF and CAP_NET_ADMIN)";
  return r;
}

void set_name(char (&dst)[BPF_OBJ_NAME_LEN], const char* name) {
  std::strncpy(dst, name, BPF_OBJ_NAME_LEN - 1);
}

}  // namespace

Fd map_create(bpf_map_type type, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const char* name) {
  bpf_attr a{};
  a.map_type = type;
  a.key_size = key_size;
  a.value_size = value_size;
  a.max_entries = max_entries;
  set_name(a.map_name, name);
  long fd = sys_bpf(BPF_MAP_CREATE, &a);
  if (fd < 0 && errno == EINVAL) {  // kernels before 4.15 know no map names
    std::memset(a.map_name, 0, sizeof a.map_name);
    fd = sys_bpf(BPF_MAP_CREATE, &a);
  }
  if (fd < 0) throw std::runtime_error(std::string("bpf: creating map ") + name + ": " + reason(errno));
  return Fd(static_cast<int>(fd));
}

int map_update(int map, const void* key, const void* value, uint64_t flags) {
  bpf_attr a{};
  a.map_fd = static_cast<uint32_t>(map);
  a.key = ptr(key);
  a.value = ptr(value);
  a.flags = flags;
  return sys_bpf(BPF_MAP_UPDATE_ELEM, &a) == 0 ? 0 : -errno;
}

int map_delete(int map, const void* key) {
  bpf_attr a{};
  a.map_fd = static_cast<uint32_t>(map);
  a.key = ptr(key);
  return sys_bpf(BPF_MAP_DELETE_ELEM, &a) == 0 ? 0 : -errno;
}

Fd prog_load_xdp(const std::vector<bpf_insn>& insns, const char* name) {
  static const char license[] = "Apache-2.0";  // uses no GPL-only helper
  bpf_attr a{};
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.insns = ptr(insns.data());
  a.insn_cnt = static_cast<uint32_t>(insns.size());
  a.license = ptr(license);
  set_name(a.prog_name, name);
  long fd = sys_bpf(BPF_PROG_LOAD, &a);
  if (fd >= 0) return Fd(static_cast<int>(fd));
  int err = errno;
  // Load again with the verifier's log, only to explain the failure.
  std::string log(1 << 16, '\0');
  a.log_level = 1;
  a.log_buf = ptr(log.data());
  a.log_size = static_cast<uint32_t>(log.size());
  fd = sys_bpf(BPF_PROG_LOAD, &a);
  if (fd >= 0) return Fd(static_cast<int>(fd));  // a transient failure after all
  log.resize(std::strlen(log.c_str()));
  if (log.size() > 1500) log = "..." + log.substr(log.size() - 1500);
  throw std::runtime_error(std::string("bpf: loading XDP program ") + name + ": " + reason(err) +
                           (log.empty() ? "" : "\nverifier log:\n" + log));
}

Fd prog_by_id(uint32_t id) {
  bpf_attr a{};
  a.prog_id = id;
  long fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
  return Fd(fd < 0 ? -1 : static_cast<int>(fd));
}

std::string prog_name(int prog) {
  bpf_prog_info info{};
  bpf_attr a{};
  a.info.bpf_fd = static_cast<uint32_t>(prog);
  a.info.info_len = sizeof info;
  a.info.info = ptr(&info);
  if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) != 0) return {};
  return std::string(info.name, strnlen(info.name, sizeof info.name));
}

}  // namespace vitesse::bpf
