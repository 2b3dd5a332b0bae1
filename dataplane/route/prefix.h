// Route prefixes as the builder takes them: address bytes in network order
// and a length in bits. Text forms are "192.0.2.0/24" and "2001:db8::/32".
//
// Host bits (address bits past the length) are cleared rather than refused, so
// "10.1.2.3/8" means 10.0.0.0/8: operators paste interface addresses with
// their netmask and mean the network.
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
};

// Clears the bits of p.bytes past p.length (and every byte past the family's
// address).
void clear_host_bits(Prefix& p, Family f);

// Parses the text form of a prefix of family f into out (host bits cleared).
// Returns an empty string on success, otherwise what is wrong, e.g.
// `not an IPv4 prefix: "10.0.0.0/33" (length over 32)`.
std::string parse_prefix(std::string_view text, Family f, Prefix& out);

// Formats an address (network-order bytes) in its usual text form.
std::string format_address(const uint8_t* bytes, Family f);

}  // namespace vitesse::route
