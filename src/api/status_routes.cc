#include <string>

#include "api/routes.h"
#include "api/status_page.h"

namespace keycache {

namespace http = boost::beast::http;

Result<void> RegisterStatusRoutes(Router& router, ApiDeps& /*deps*/) {
  const auto page = [](RequestContext&) {
    Response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/html; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    // Everything is inline; the script only talks to this origin.
    res.set("Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
            "connect-src 'self'; img-src 'self'; frame-ancestors 'none'");
    res.body() = std::string(StatusPageHtml());
    return res;
  };
  if (auto r = router.AddSync(http::verb::get, "/status", page); !r) return r;
  return router.AddSync(http::verb::get, "/", page);
}

}  // namespace keycache
