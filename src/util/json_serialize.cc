#include "util/json_serialize.h"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>

namespace keycache {
namespace {

namespace json = boost::json;

void Append(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, member] : v.get_object()) {
        if (!first) out.push_back(',');
        first = false;
        out += json::serialize(json::string_view(key));  // Boost's string escaping
        out.push_back(':');
        Append(out, member);
      }
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const json::value& element : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        Append(out, element);
      }
      out.push_back(']');
      return;
    }
    case json::kind::double_:
      out += FormatJsonDouble(v.get_double());
      return;
    default:  // null, bool, integers, strings: Boost's own text
      out += json::serialize(v);
      return;
  }
}

}  // namespace

std::string FormatJsonDouble(double d) {
  if (!std::isfinite(d)) return "null";
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string text(buf, ec == std::errc{} ? end : buf);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string SerializeJson(const json::value& v) {
  std::string out;
  Append(out, v);
  return out;
}

}  // namespace keycache
