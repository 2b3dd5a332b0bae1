#include "io/pcap_link.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include <sys/stat.h>

#include "io/pcap_format.h"

namespace vitesse {

namespace {

// stdio buffers big enough that a burst is one read/write system call at most.
constexpr size_t kFileBuffer = 1 << 20;
// A record claiming more than this is not a frame but a corrupt length.
constexpr uint32_t kMaxRecord = 1u << 26;

std::runtime_error file_error(const std::string& path, const std::string& what) {
  return std::runtime_error("pcap: " + path + ": " + what);
}

}  // namespace

PcapLink::PcapLink(const std::string& in_path, const std::string& out_path) : in_path_(in_path), out_path_(out_path) {
  try {
    if (!in_path.empty()) open_input(in_path);
    if (!out_path.empty()) open_output(out_path);
  } catch (...) {
    if (in_) std::fclose(in_);
    if (out_) std::fclose(out_);
    throw;
  }
}

PcapLink::~PcapLink() {
  if (in_) std::fclose(in_);
  if (out_) std::fclose(out_);
}

void PcapLink::open_input(const std::string& path) {
  in_ = std::fopen(path.c_str(), "rb");
  if (!in_) throw file_error(path, std::strerror(errno));
  std::setvbuf(in_, nullptr, _IOFBF, kFileBuffer);
  struct stat st;
  if (fstat(fileno(in_), &st) == 0 && S_ISREG(st.st_mode)) in_size_ = st.st_size;
  pcap::FileHeader h;
  size_t got = std::fread(&h, 1, sizeof h, in_);
  if (got >= 4 && h.magic == pcap::kPcapngMagic) throw file_error(path, "pcapng is not supported, only classic pcap");
  if (got < sizeof h) throw file_error(path, "not a pcap file (" + std::to_string(got) + " bytes, shorter than a pcap header)");
  if (h.magic == pcap::kMagicMicrosSwapped || h.magic == pcap::kMagicNanosSwapped) {
    swapped_ = true;
  } else if (h.magic != pcap::kMagicMicros && h.magic != pcap::kMagicNanos) {
    char m[16];
    std::snprintf(m, sizeof m, "0x%08x", h.magic);
    throw file_error(path, std::string("not a pcap file (magic ") + m + ")");
  }
  uint32_t linktype = field(h.linktype) & 0xffff;  // the upper bits carry FCS flags
  if (linktype != pcap::kLinktypeEthernet) {
    throw file_error(path, "linktype " + std::to_string(linktype) + ", only Ethernet (1) is supported");
  }
}

void PcapLink::open_output(const std::string& path) {
  out_ = std::fopen(path.c_str(), "wb");
  if (!out_) throw file_error(path, std::strerror(errno));
  std::setvbuf(out_, nullptr, _IOFBF, kFileBuffer);
  pcap::FileHeader h{pcap::kMagicMicros, 2, 4, 0, 0, pcap::kSnaplen, pcap::kLinktypeEthernet};
  if (std::fwrite(&h, sizeof h, 1, out_) != 1 || std::fflush(out_) != 0) throw file_error(path, std::strerror(errno));
}

uint32_t PcapLink::rx_burst(PacketPool& pool, Packet** pkts, uint32_t max) {
  if (!in_ || in_done_) return 0;
  uint32_t n = 0;
  uint64_t bytes = 0;
  while (n < max) {
    pcap::RecordHeader r;
    size_t got = std::fread(&r, 1, sizeof r, in_);
    if (got < sizeof r) {
      if (got != 0) rx_truncated_.set(1);
      in_done_ = true;
      break;
    }
    uint32_t len = field(r.incl_len);
    if (len > kMaxRecord) {  // not a length: the rest of the file cannot be trusted
      rx_truncated_.set(1);
      in_done_ = true;
      break;
    }
    if (len > kMaxFrame) {
      rx_oversize_.add(1);
      // fseek happily moves past the end, so compare with the file's size.
      if (std::fseek(in_, len, SEEK_CUR) != 0 || (in_size_ >= 0 && std::ftell(in_) > in_size_)) {
        rx_truncated_.set(1);
        in_done_ = true;
        break;
      }
      continue;
    }
    Packet* p = pool.alloc();
    if (!p) {
      // Out of buffers: put the header back so the record is read next time.
      std::fseek(in_, -static_cast<long>(sizeof r), SEEK_CUR);
      break;
    }
    if (std::fread(p->data, 1, len, in_) != len) {
      pool.free(p);
      rx_truncated_.set(1);
      in_done_ = true;
      break;
    }
    p->len = len;
    pkts[n++] = p;
    bytes += len;
  }
  rx_packets_.add(n);
  rx_bytes_.add(bytes);
  return n;
}

uint32_t PcapLink::tx_burst(Packet* const* pkts, uint32_t n) {
  if (!out_) return 0;
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  uint32_t sent = 0;
  uint64_t bytes = 0;
  for (; sent < n; sent++) {
    const Packet* p = pkts[sent];
    pcap::RecordHeader r{static_cast<uint32_t>(now.tv_sec), static_cast<uint32_t>(now.tv_nsec / 1000), p->len, p->len};
    if (std::fwrite(&r, sizeof r, 1, out_) != 1 || std::fwrite(p->data, 1, p->len, out_) != p->len) {
      tx_write_errors_.add(1);
      break;
    }
    bytes += p->len;
  }
  tx_packets_.add(sent);
  tx_bytes_.add(bytes);
  return sent;
}

void PcapLink::flush() {
  if (out_ && std::fflush(out_) != 0) tx_write_errors_.add(1);
}

std::vector<Link::Counter> PcapLink::counters() const {
  return {
      {"rx_packets", rx_packets_.get()},     {"rx_bytes", rx_bytes_.get()},
      {"rx_oversize", rx_oversize_.get()},   {"rx_truncated", rx_truncated_.get()},
      {"tx_packets", tx_packets_.get()},     {"tx_bytes", tx_bytes_.get()},
      {"tx_write_errors", tx_write_errors_.get()},
  };
}

}  // namespace vitesse
