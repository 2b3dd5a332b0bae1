// The data plane's one prefix type (routes, the inbound policy, the route
// builders): address bytes in network order, a length in bits, the family.
// Text forms are "192.0.2.0/24" and "2001:db8::/32".
//
// Host bits (address bits past the length): the configuration refuses them
// with the network the operator probably meant (config/semantics.ts), before
// anything reaches the data plane; here they are cleared, so "10.1.2.3/8" from
// a test, a benchmark or the route addon means 10.0.0.0/8 and every consumer
// matches the same network.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace vitesse::route {

enum class Family : uint8_t { ipv4 = 4, ipv6 = 6 };

inline constexpr unsigned address_bits(Family f) { return f == Family::ipv4 ? 32 : 128; }
inline constexpr unsigned address_bytes(Family f) { return address_bits(f) / 8; }

struct Prefix {
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4
  uint8_t length = 0;
  Family family = Family::ipv4;
};

// Clears the bits of p.bytes past p.length (and every byte past the family's
// address).
void clear_host_bits(Prefix& p, Family f);

// Parses the text form of a prefix of family f into out (host bits cleared).
// Returns an empty string on success, otherwise what is wrong, e.g.
// `not an IPv4 prefix: "10.0.0.0/33" (length over 32)`.
std::string parse_prefix(std::string_view text, Family f, Prefix& out);
// The same, of the family the text is written in (a ':' makes it IPv6).
std::string parse_prefix(std::string_view text, Prefix& out);

// Formats an address (network-order bytes) in its usual text form.
std::string format_address(const uint8_t* bytes, Family f);

}  // namespace vitesse::route
