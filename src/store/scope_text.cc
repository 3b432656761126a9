#include "store/scope_text.h"

#include <algorithm>

namespace keycache {

std::string EncodeScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const std::string& s : scopes) {
    if (!out.empty()) out.push_back('\n');
    out.append(s);
  }
  return out;
}

std::vector<std::string> DecodeScopes(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::size_t start = 0;
  while (true) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      out.emplace_back(text.substr(start));
      return out;
    }
    out.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
}

bool ScopesEncodable(const std::vector<std::string>& scopes) {
  return std::none_of(scopes.begin(), scopes.end(), [](const std::string& s) {
    return s.empty() || s.find('\n') != std::string::npos;
  });
}

}  // namespace keycache
