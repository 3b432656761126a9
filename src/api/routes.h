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

Result<void> RegisterRoutes(Router& router, ApiDeps& deps);

}  // namespace keycache
