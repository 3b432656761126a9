// The REST surface of keycache: registers every route on a Router. Each Register* function
// lives in its own file; RegisterRoutes calls them all. Handlers capture `deps` by reference,
// so `deps` must outlive the Router.
#pragma once

#include "api/api_deps.h"
#include "http/router.h"
#include "util/error.h"

namespace keycache {

Result<void> RegisterKeyRoutes(Router& router, ApiDeps& deps);     // /v1/keys..., /v1/owners...
Result<void> RegisterVerifyRoutes(Router& router, ApiDeps& deps);  // /v1/keys/verify, /v1/auth
Result<void> RegisterAdminRoutes(Router& router, ApiDeps& deps);   // /admin/cache/...
Result<void> RegisterHealthRoutes(Router& router, ApiDeps& deps);  // /health/..., /metrics
Result<void> RegisterStatusRoutes(Router& router, ApiDeps& deps);  // /status and /: the page

// kAll: every route (one listener, or the admin listener); kPublic: what may face the network
// when the admin API has a listener of its own — verification, health, metrics, status page.
enum class RouteSet { kAll, kPublic };
Result<void> RegisterRoutes(Router& router, ApiDeps& deps, RouteSet set = RouteSet::kAll);

}  // namespace keycache
