// IP headers the data plane refuses to forward although they parse: checked on
// the private side before encapsulation and on the public side on the outer
// header and on the inner packet after decapsulation.
//
//  - IPv4 loose and strict source routes (options 131 and 137): RFC 7126
//    §4.3-4.4 says drop them by default. They let a sender choose the path
//    beyond the gateway (past the remote site's filters, or back out of it);
//    Linux drops them too unless accept_source_route is set.
//  - An IPv6 payload length of 0: a jumbogram (RFC 2675), which Vitesse does
//    not support. Read as an ordinary length it would be forwarded cut to
//    its 40-octet header.
//
// The common case, an IPv4 header without options, costs one comparison.
#pragma once

#include <cstdint>

#include "net/headers.h"

namespace vitesse::net {

enum class HeaderVerdict : uint8_t { ok, malformed, source_route, jumbogram };

inline constexpr uint8_t kIpv4OptionEnd = 0;
inline constexpr uint8_t kIpv4OptionNop = 1;
inline constexpr uint8_t kIpv4OptionLsrr = 131;
inline constexpr uint8_t kIpv4OptionSsrr = 137;

// Walks the options of an IPv4 header of `ihl` octets (its IHL field × 4,
// already checked to be within the packet). An option list that does not
// parse is malformed: a source route could hide behind it from us but not
// from a more lenient host.
inline HeaderVerdict ipv4_options_verdict(const uint8_t* ip, uint32_t ihl) {
  for (uint32_t i = kIpv4HeaderLen; i < ihl;) {
    const uint8_t type = ip[i];
    if (type == kIpv4OptionEnd) break;
    if (type == kIpv4OptionNop) { ++i; continue; }
    if (i + 1 >= ihl) return HeaderVerdict::malformed;
    const uint32_t len = ip[i + 1];
    if (len < 2 || len > ihl - i) return HeaderVerdict::malformed;
    if (type == kIpv4OptionLsrr || type == kIpv4OptionSsrr) return HeaderVerdict::source_route;
    i += len;
  }
  return HeaderVerdict::ok;
}

inline HeaderVerdict ipv4_header_verdict(const uint8_t* ip, uint32_t ihl) {
  if (ihl == kIpv4HeaderLen) [[likely]] return HeaderVerdict::ok;
  return ipv4_options_verdict(ip, ihl);
}

inline HeaderVerdict ipv6_header_verdict(const uint8_t* ip) {
  return load_be16(ip + 4) == 0 ? HeaderVerdict::jumbogram : HeaderVerdict::ok;
}

}  // namespace vitesse::net
