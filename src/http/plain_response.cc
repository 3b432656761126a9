#include "http/plain_response.h"

#include <boost/beast/http/status.hpp>
#include <stdexcept>
#include <utility>

namespace keycache {

void AppendHeader(std::string& head, std::string_view name, std::string_view value) {
  head.append(name);
  head.append(": ");
  head.append(value);
  head.append("\r\n");
}

Response ToResponse(PlainResponse plain) {
  Response res{static_cast<boost::beast::http::status>(plain.status), 11};
  std::string_view rest = plain.head;
  while (!rest.empty()) {
    const std::size_t end = rest.find("\r\n");
    const std::string_view line = rest.substr(0, end);
    const std::size_t colon = line.find(": ");
    if (end == std::string_view::npos || colon == std::string_view::npos || colon == 0) {
      throw std::invalid_argument("malformed header line in a PlainResponse");
    }
    res.insert(line.substr(0, colon), line.substr(colon + 2));
    rest.remove_prefix(end + 2);
  }
  res.body() = std::move(plain.body);
  return res;
}

}  // namespace keycache
