// What a route lookup returns: an index the caller assigned to the route
// (1..65535), or kNoRoute.
#pragma once

#include <cstdint>

namespace vitesse::route {

using RouteIndex = uint16_t;
inline constexpr RouteIndex kNoRoute = 0;

}  // namespace vitesse::route
