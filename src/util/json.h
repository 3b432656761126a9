// ParseJson: boost::json::parse, except that numbers with a fraction or an exponent are read
// correctly rounded (std::from_chars). Boost.JSON 1.81 reads some decimals one unit in the last
// place off the nearest double while it writes doubles exactly, so JSON that is parsed, stored,
// and parsed again (key metadata) would change under the client. Pure function; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <string_view>

namespace keycache {

// The whole of `text` must be one JSON value (as boost::json::parse). On error: null and `ec`.
boost::json::value ParseJson(std::string_view text, boost::system::error_code& ec);

}  // namespace keycache
