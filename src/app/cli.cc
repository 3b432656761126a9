#include "app/cli.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "config/dotenv.h"
#include "config/value_parsers.h"
#include "http/http_client.h"

extern char** environ;

namespace keycache {
namespace {

namespace http = boost::beast::http;

struct Args {
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> options;  // --name value

  std::optional<std::string> One(const std::string& name) const {
    auto it = options.find(name);
    if (it == options.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::string> All(const std::string& name) const {
    std::vector<std::string> out;
    for (auto [it, end] = options.equal_range(name); it != end; ++it) out.push_back(it->second);
    return out;
  }
};

boost::json::array ScopesArray(const Args& args) {
  boost::json::array scopes;
  for (auto& s : args.All("scope")) scopes.emplace_back(s);
  return scopes;
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "keycached keys: %s\n(see `keycached keys --help`)\n", message.c_str());
  return 2;
}

std::optional<Args> ParseArgs(const std::vector<std::string>& in, std::string& error) {
  Args a;
  for (std::size_t i = 1; i < in.size(); ++i) {
    const std::string& s = in[i];
    if (s.rfind("--", 0) == 0) {
      std::string name = s.substr(2), value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else if (i + 1 < in.size()) {
        value = in[++i];
      } else {
        error = "option --" + name + " needs a value";
        return std::nullopt;
      }
      a.options.emplace(name, value);
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

struct Target {
  std::string host = "127.0.0.1";
  std::uint16_t port = 3333;
  std::string token;
};

std::optional<Target> ResolveTarget(std::string& error) {
  EnvMap dotenv;
  if (auto read = ReadDotEnv(".env"); read) dotenv = std::move(*read);
  const EnvMap env = MergeEnvironment(dotenv, environ);
  auto get = [&env](const char* name) -> std::string {
    auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
  };
  Target t;
  if (std::string url = get("KEYCACHE_URL"); !url.empty()) {
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed || parsed->scheme() != "http" || parsed->host().empty()) {
      error = "KEYCACHE_URL: \"" + url + "\" is not an http://host:port URL";
      return std::nullopt;
    }
    t.host = std::string(parsed->host());
    if (parsed->has_port())
      t.port = parsed->port_number();
    else
      t.port = 80;
  } else if (std::string admin_port = get("ADMIN_PORT"); !admin_port.empty()) {
    // The admin API has a listener of its own: the commands are admin requests.
    auto n = ParseInt(admin_port);
    if (!n || *n < 1 || *n > 65535) {
      error = "ADMIN_PORT: \"" + admin_port +
              "\" is not a port the CLI can reach (0 picks one at start: set KEYCACHE_URL)";
      return std::nullopt;
    }
    t.port = static_cast<std::uint16_t>(*n);
    if (std::string host = get("ADMIN_HOST"); !host.empty()) t.host = host;
  } else if (std::string port = get("PORT"); !port.empty()) {
    auto n = ParseInt(port);
    if (!n || *n < 1 || *n > 65535) {
      error = "PORT: \"" + port + "\" is not a port";
      return std::nullopt;
    }
    t.port = static_cast<std::uint16_t>(*n);
  }
  t.token = get("ADMIN_TOKEN");
  if (t.token.empty()) {
    std::string dir = get("KEYCACHE_DATA_DIR");
    if (dir.empty()) dir = "./var";
    std::ifstream in(dir + "/admin-token");
    std::getline(in, t.token);
    if (t.token.empty()) {
      error = "no admin token: set ADMIN_TOKEN or run from the directory holding var/admin-token";
      return std::nullopt;
    }
  }
  return t;
}

void PrintJson(const std::string& body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  std::printf("%s\n", ec ? body.c_str() : boost::json::serialize(v).c_str());
}

// Sends one request and maps the answer to an exit code.
int Call(const Target& t, http::verb verb, const std::string& path, const std::string& body,
         bool admin = true) {
  HttpClient client(t.host, t.port);
  HttpClient::Headers headers = {{"Content-Type", "application/json"}};
  if (admin) headers.emplace_back("Authorization", "Bearer " + t.token);
  auto res = client.Send(verb, path, body, headers);
  if (!res) {
    std::fprintf(stderr, "keycached keys: cannot reach keycached at %s:%u: %s\n", t.host.c_str(),
                 static_cast<unsigned>(t.port), res.error().message().c_str());
    return 3;
  }
  if (res->status >= 200 && res->status < 300) {
    PrintJson(res->body);
    return 0;
  }
  std::fprintf(stderr, "keycached keys: the server answered %u: %s\n", res->status,
               res->body.c_str());
  return res->status >= 500 ? 3 : 1;
}

std::string PathSegment(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

void PrintKeysUsage() {
  std::printf(
      "usage: keycached keys COMMAND [ARGS]\n"
      "  create --owner OWNER --name NAME [--scope SCOPE]... [--expires-in-days N | --expires-at "
      "RFC3339]\n"
      "  list --owner OWNER\n"
      "  show ID\n"
      "  revoke ID [--reason TEXT]\n"
      "  rotate ID [--grace SECONDS]\n"
      "  delete ID\n"
      "  usage ID\n"
      "  verify KEY [--scope SCOPE]...     exit 0 when valid, 1 when not\n"
      "The CLI talks to a running keycached: KEYCACHE_URL (default http://$ADMIN_HOST:$ADMIN_PORT\n"
      "when ADMIN_PORT is set, else http://127.0.0.1:$PORT, PORT 3333) and ADMIN_TOKEN (default:\n"
      "the contents of $KEYCACHE_DATA_DIR/admin-token, ./var).\n");
}

int RunKeysCommand(const std::vector<std::string>& in) {
  if (in.empty() || in[0] == "--help" || in[0] == "-h" || in[0] == "help") {
    PrintKeysUsage();
    return in.empty() ? 2 : 0;
  }
  std::string error;
  auto args = ParseArgs(in, error);
  if (!args) return UsageError(error);
  const std::string& cmd = in[0];
  auto need_id = [&]() -> std::optional<std::string> {
    if (args->positional.size() != 1) return std::nullopt;
    return args->positional[0];
  };
  static const std::map<std::string, std::vector<std::string>> kAllowed = {
      {"create", {"owner", "name", "scope", "expires-in-days", "expires-at"}},
      {"list", {"owner"}},
      {"show", {}},
      {"revoke", {"reason"}},
      {"rotate", {"grace"}},
      {"delete", {}},
      {"usage", {}},
      {"verify", {"scope"}}};
  auto allowed = kAllowed.find(cmd);
  if (allowed == kAllowed.end()) return UsageError("unknown command '" + cmd + "'");
  for (const auto& [name, value] : args->options) {
    const auto& ok = allowed->second;
    if (std::find(ok.begin(), ok.end(), name) == ok.end()) {
      return UsageError("'" + cmd + "' does not take --" + name);
    }
  }
  auto target = ResolveTarget(error);
  if (!target) return UsageError(error);

  if (cmd == "create") {
    auto owner = args->One("owner");
    auto name = args->One("name");
    if (!owner || !name || !args->positional.empty()) {
      return UsageError("create needs --owner and --name");
    }
    boost::json::object o;
    o["owner_id"] = *owner;
    o["name"] = *name;
    o["scopes"] = ScopesArray(*args);
    if (auto days = args->One("expires-in-days")) {
      auto n = ParseInt(*days);
      if (!n) return UsageError("--expires-in-days needs an integer");
      o["expires_in_days"] = *n;
    }
    if (auto at = args->One("expires-at")) o["expires_at"] = *at;
    return Call(*target, http::verb::post, "/v1/keys", boost::json::serialize(o));
  }
  if (cmd == "list") {
    auto owner = args->One("owner");
    if (!owner || !args->positional.empty()) return UsageError("list needs --owner");
    return Call(*target, http::verb::get, "/v1/owners/" + PathSegment(*owner) + "/keys", "");
  }
  if (cmd == "verify") {
    if (args->positional.size() != 1) return UsageError("verify needs exactly one KEY");
    boost::json::object o;
    o["key"] = args->positional[0];
    o["scopes"] = ScopesArray(*args);
    HttpClient client(target->host, target->port);
    auto res = client.Send(http::verb::post, "/v1/keys/verify", boost::json::serialize(o),
                           {{"Content-Type", "application/json"}});
    if (!res) {
      std::fprintf(stderr, "keycached keys: cannot reach keycached: %s\n",
                   res.error().message().c_str());
      return 3;
    }
    PrintJson(res->body);
    if (res->status != 200) return res->status >= 500 ? 3 : 1;
    boost::system::error_code ec;
    auto v = boost::json::parse(res->body, ec);
    const bool valid = !ec && v.is_object() && v.as_object().contains("valid") &&
                       v.as_object().at("valid") == true;
    return valid ? 0 : 1;
  }
  auto id = need_id();
  if (!id) return UsageError(cmd + " needs exactly one key ID");
  const std::string base = "/v1/keys/" + PathSegment(*id);
  if (cmd == "show") return Call(*target, http::verb::get, base, "");
  if (cmd == "usage") return Call(*target, http::verb::get, base + "/usage", "");
  if (cmd == "delete") return Call(*target, http::verb::delete_, base, "");
  if (cmd == "revoke") {
    boost::json::object o;
    if (auto reason = args->One("reason")) o["reason"] = *reason;
    return Call(*target, http::verb::post, base + "/revoke", boost::json::serialize(o));
  }
  // rotate
  boost::json::object o;
  if (auto grace = args->One("grace")) {
    auto n = ParseInt(*grace);
    if (!n) return UsageError("--grace needs an integer number of seconds");
    o["grace_seconds"] = *n;
  }
  return Call(*target, http::verb::post, base + "/rotate", boost::json::serialize(o));
}

}  // namespace keycache
