// The classic libpcap file format (not pcapng): a 24-byte file header, then
// records of a 16-byte header and the captured bytes. The writer picks the
// byte order by its magic number; readers accept both orders and both
// timestamp resolutions.
#pragma once

#include <cstdint>

namespace vitesse::pcap {

inline constexpr uint32_t kMagicMicros = 0xa1b2c3d4;
inline constexpr uint32_t kMagicNanos = 0xa1b23c4d;
inline constexpr uint32_t kMagicMicrosSwapped = 0xd4c3b2a1;
inline constexpr uint32_t kMagicNanosSwapped = 0x4d3cb2a1;
inline constexpr uint32_t kPcapngMagic = 0x0a0d0d0a;  // recognised only to name it in errors
inline constexpr uint32_t kLinktypeEthernet = 1;
// What we write as the snapshot length: larger than any frame we carry.
inline constexpr uint32_t kSnaplen = 262144;

struct FileHeader {
  uint32_t magic;
  uint16_t version_major;  // 2
  uint16_t version_minor;  // 4
  int32_t thiszone;
  uint32_t sigfigs;
  uint32_t snaplen;
  uint32_t linktype;
};
static_assert(sizeof(FileHeader) == 24);

struct RecordHeader {
  uint32_t ts_sec;
  uint32_t ts_frac;   // microseconds or nanoseconds, per the magic
  uint32_t incl_len;  // bytes stored in the file
  uint32_t orig_len;  // bytes on the wire
};
static_assert(sizeof(RecordHeader) == 16);

}  // namespace vitesse::pcap
