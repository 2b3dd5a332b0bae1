#include "route/prefix.h"

#include <arpa/inet.h>

#include <charconv>

namespace vitesse::route {

void clear_host_bits(Prefix& p, Family f) {
  for (unsigned i = 0; i < p.bytes.size(); ++i) {
    const unsigned first_bit = i * 8;
    if (i >= address_bytes(f) || first_bit >= p.length) {
      p.bytes[i] = 0;
    } else if (p.length < first_bit + 8) {
      p.bytes[i] &= static_cast<uint8_t>(0xff00u >> (p.length - first_bit));
    }
  }
}

std::string parse_prefix(std::string_view text, Family f, Prefix& out) {
  const unsigned max_len = address_bits(f);
  const char* what = f == Family::ipv4 ? "not an IPv4 prefix: \"" : "not an IPv6 prefix: \"";
  auto fail = [&](const char* why) { return what + std::string(text) + "\" (" + why + ")"; };

  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return fail("no /length");
  const std::string_view len_text = text.substr(slash + 1);
  unsigned len = 0;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (len_text.empty() || ec != std::errc() || end != len_text.data() + len_text.size() ||
      len_text.size() > 3) {
    return fail("length is not a decimal number");
  }
  if (len > max_len) return fail(f == Family::ipv4 ? "length over 32" : "length over 128");

  // inet_pton needs a terminated string; addresses are short.
  char addr[64];
  if (slash >= sizeof addr) return fail("bad address");
  text.copy(addr, slash);
  addr[slash] = '\0';
  Prefix p;
  if (inet_pton(f == Family::ipv4 ? AF_INET : AF_INET6, addr, p.bytes.data()) != 1) return fail("bad address");
  p.length = static_cast<uint8_t>(len);
  p.family = f;
  clear_host_bits(p, f);
  out = p;
  return {};
}

std::string parse_prefix(std::string_view text, Prefix& out) {
  const bool v6 = text.substr(0, text.find('/')).find(':') != std::string_view::npos;
  return parse_prefix(text, v6 ? Family::ipv6 : Family::ipv4, out);
}

std::string format_address(const uint8_t* bytes, Family f) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(f == Family::ipv4 ? AF_INET : AF_INET6, bytes, buf, sizeof buf);
  return buf;
}

}  // namespace vitesse::route
