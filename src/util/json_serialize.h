// SerializeJson: boost::json::serialize, except that doubles are written as plain decimals
// (0.95, not Boost.JSON 1.81's 9.5E-1), in the shortest form that reads back as the same double
// (std::to_chars), with ".0" kept on integral values so a reader still sees a fraction. Very
// large or very small magnitudes keep an exponent (1e-07), which JSON allows. Non-finite doubles,
// which JSON cannot carry, are written as null. Pure function; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <string>

namespace keycache {

std::string SerializeJson(const boost::json::value& v);

// One double as SerializeJson writes it.
std::string FormatJsonDouble(double d);

}  // namespace keycache
