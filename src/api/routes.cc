#include "api/routes.h"

namespace keycache {

Result<void> RegisterRoutes(Router& router, ApiDeps& deps, RouteSet set) {
  if (set == RouteSet::kPublic) {
    for (auto fn : {RegisterVerifyRoutes, RegisterHealthRoutes, RegisterStatusRoutes}) {
      if (auto r = fn(router, deps); !r) return r;
    }
    return {};
  }
  // Verification first: "/v1/keys/verify" must be a literal route beside "/v1/keys/{id}".
  for (auto fn : {RegisterVerifyRoutes, RegisterKeyRoutes, RegisterAdminRoutes,
                  RegisterHealthRoutes, RegisterStatusRoutes}) {
    if (auto r = fn(router, deps); !r) return r;
  }
  return {};
}

}  // namespace keycache
