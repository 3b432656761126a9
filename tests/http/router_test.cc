#include "http/router.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <variant>

#include "http/http_json.h"

namespace keycache {
namespace {

using boost::beast::http::verb;

SyncHandler Named(std::string name) {
  return [name](RequestContext&) { return JsonResponse(200, name); };
}

Handler AsyncNamed(std::string name) {
  return [name](RequestContext&) -> boost::asio::awaitable<Response> {
    co_return JsonResponse(200, name);
  };
}

// Calls the matched synchronous handler and returns its body, to identify which route matched.
std::string Call(const Router::Match& match) {
  if (match.kind != Router::MatchKind::kFound) return "<no match>";
  const auto* sync = std::get_if<SyncHandler>(match.handler);
  if (sync == nullptr) return "<async>";
  Request req;
  RequestContext ctx{req, {}, "", "", {}, {}};
  return (*sync)(ctx).body();
}

TEST(RouterTest, MatchesLiteralsAndExtractsParams) {
  Router router;
  ASSERT_TRUE(router.AddSync(verb::post, "/v1/keys/{id}/rotate", Named("rotate")));
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/owners/{owner}/keys/{id}", Named("owner_key")));

  Router::ParamArray params;
  Router::Match m = router.Find(verb::post, "/v1/keys/kc_123/rotate", params);
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  EXPECT_EQ(Call(m), "rotate");
  ASSERT_EQ(m.param_count, 1u);
  EXPECT_EQ(params[0], "kc_123");
  EXPECT_EQ(router.pattern(m.route), "/v1/keys/{id}/rotate");

  m = router.Find(verb::get, "/v1/owners/alice/keys/k9", params);
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  ASSERT_EQ(m.param_count, 2u);
  Request req;
  RequestContext ctx{req, {}, "", "", {params.data(), m.param_count}, router.param_names(m.route)};
  EXPECT_EQ(ctx.Param("owner"), "alice");
  EXPECT_EQ(ctx.Param("id"), "k9");
  EXPECT_EQ(ctx.Param(0), "alice");
  EXPECT_EQ(ctx.Param(1), "k9");
  EXPECT_EQ(ctx.Param(2), "");
  EXPECT_EQ(ctx.Param("nope"), "");
}

TEST(RouterTest, UnknownPathIsNotFound) {
  Router router;
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/keys/{id}", Named("get")));
  Router::ParamArray params;
  EXPECT_EQ(router.Find(verb::get, "/v1/keys", params).kind, Router::MatchKind::kNotFound);
  EXPECT_EQ(router.Find(verb::get, "/v1/keys/a/b", params).kind, Router::MatchKind::kNotFound);
  EXPECT_EQ(router.Find(verb::get, "/v2/keys/a", params).kind, Router::MatchKind::kNotFound);
  // A parameter never matches an empty segment; a trailing slash is a different path.
  EXPECT_EQ(router.Find(verb::get, "/v1/keys/", params).kind, Router::MatchKind::kNotFound);
  EXPECT_EQ(router.Find(verb::get, "v1/keys/a", params).kind, Router::MatchKind::kNotFound);
  EXPECT_EQ(router.Find(verb::get, "", params).kind, Router::MatchKind::kNotFound);
  EXPECT_EQ(router.Find(verb::get, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r", params).kind,
            Router::MatchKind::kNotFound);
}

TEST(RouterTest, WrongMethodIsMethodNotAllowedWithAllowUnion) {
  Router router;
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/keys/{id}", Named("get")));
  ASSERT_TRUE(router.AddSync(verb::delete_, "/v1/keys/{id}", Named("delete")));
  ASSERT_TRUE(router.AddSync(verb::post, "/v1/keys/search", Named("search")));

  Router::ParamArray params;
  Router::Match m = router.Find(verb::put, "/v1/keys/abc", params);
  EXPECT_EQ(m.kind, Router::MatchKind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "DELETE, GET");
  EXPECT_EQ(router.pattern(m.route), "/v1/keys/{id}");

  // Both patterns match "/v1/keys/search": the methods of both are allowed.
  m = router.Find(verb::put, "/v1/keys/search", params);
  EXPECT_EQ(m.kind, Router::MatchKind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "DELETE, GET, POST");
  EXPECT_EQ(router.pattern(m.route), "/v1/keys/search");
}

TEST(RouterTest, LiteralSegmentsWinOverParamsWhateverTheOrderOfAdd) {
  Router router;
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/keys/{id}", Named("by_id")));
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/keys/search", Named("search")));
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/{a}/x", Named("param_first")));
  ASSERT_TRUE(router.AddSync(verb::get, "/{b}/keys/x", Named("param_root")));

  Router::ParamArray params;
  EXPECT_EQ(Call(router.Find(verb::get, "/v1/keys/search", params)), "search");
  EXPECT_EQ(Call(router.Find(verb::get, "/v1/keys/other", params)), "by_id");
  // "/v1/keys/x" matches three patterns; the first difference decides: literal "keys" at
  // position 1 beats "{a}", literal "v1" at position 0 beats "{b}".
  EXPECT_EQ(Call(router.Find(verb::get, "/v1/keys/x", params)), "by_id");
  EXPECT_EQ(Call(router.Find(verb::get, "/v2/keys/x", params)), "param_root");
}

TEST(RouterTest, FallsBackToALessSpecificPatternThatHasTheMethod) {
  Router router;
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/keys/search", Named("search")));
  ASSERT_TRUE(router.AddSync(verb::delete_, "/v1/keys/{id}", Named("delete")));
  Router::ParamArray params;
  Router::Match m = router.Find(verb::delete_, "/v1/keys/search", params);
  EXPECT_EQ(Call(m), "delete");
  ASSERT_EQ(m.param_count, 1u);
  EXPECT_EQ(params[0], "search");
}

// A path spelled exactly as an all-literal pattern is answered from the pattern's text; spelled
// any other way, or without the method there, the segments decide as for every other path.
TEST(RouterTest, APathSpelledAsALiteralPatternFindsItAndOnlyIt) {
  Router router;
  ASSERT_TRUE(router.AddSync(verb::get, "/", Named("root")));
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/auth", Named("auth")));
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/auth/*", Named("auth_rest")));
  ASSERT_TRUE(router.AddSync(verb::post, "/v1/{what}", Named("post_any")));
  Router::ParamArray params;
  Router::Match m = router.Find(verb::get, "/v1/auth", params);
  EXPECT_EQ(Call(m), "auth");
  EXPECT_EQ(router.pattern(m.route), "/v1/auth");
  EXPECT_EQ(m.param_count, 0u);
  EXPECT_EQ(Call(router.Find(verb::get, "/", params)), "root");
  EXPECT_EQ(Call(router.Find(verb::get, "/v1/auth/", params)), "auth_rest");
  EXPECT_EQ(Call(router.Find(verb::get, "/v1/auth/x/y", params)), "auth_rest");
  EXPECT_EQ(router.Find(verb::get, "/v2/auth", params).kind, Router::MatchKind::kNotFound);
  EXPECT_EQ(router.Find(verb::get, "v1/auth", params).kind, Router::MatchKind::kNotFound);
  // Not its method: the parameter pattern that has it.
  m = router.Find(verb::post, "/v1/auth", params);
  EXPECT_EQ(Call(m), "post_any");
  ASSERT_EQ(m.param_count, 1u);
  EXPECT_EQ(params[0], "auth");
  // No pattern has it: 405 naming the methods of every pattern that matches.
  m = router.Find(verb::delete_, "/v1/auth", params);
  EXPECT_EQ(m.kind, Router::MatchKind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, POST");
}

TEST(RouterTest, AsyncAndSyncHandlersAreKeptApart) {
  Router router;
  ASSERT_TRUE(router.Add(verb::get, "/a", AsyncNamed("a")));
  ASSERT_TRUE(router.AddSync(verb::get, "/s", Named("s")));
  Router::ParamArray params;
  Router::Match a = router.Find(verb::get, "/a", params);
  ASSERT_EQ(a.kind, Router::MatchKind::kFound);
  EXPECT_TRUE(std::holds_alternative<Handler>(*a.handler));
  Router::Match s = router.Find(verb::get, "/s", params);
  ASSERT_EQ(s.kind, Router::MatchKind::kFound);
  EXPECT_TRUE(std::holds_alternative<SyncHandler>(*s.handler));
}

TEST(RouterTest, FastPathHandlersNeedTheirFastPartAndAreKeptApart) {
  Router router;
  auto fast = [](RequestContext&) -> FastPathResult { return Response(); };
  EXPECT_EQ(router.AddFastPath(verb::get, "/f", FastPathHandler{}).error(), Errc::kBadInput);
  ASSERT_TRUE(router.AddFastPath(verb::get, "/f", FastPathHandler{fast}));
  // One pattern may mix kinds across methods.
  ASSERT_TRUE(router.AddSync(verb::post, "/f", Named("post")));
  Router::ParamArray params;
  Router::Match f = router.Find(verb::get, "/f", params);
  ASSERT_EQ(f.kind, Router::MatchKind::kFound);
  EXPECT_TRUE(std::holds_alternative<FastPathHandler>(*f.handler));
  EXPECT_EQ(Call(router.Find(verb::post, "/f", params)), "post");
}

TEST(RouterTest, RootAndRouteIndexesAreStable) {
  Router router;
  ASSERT_TRUE(router.AddSync(verb::get, "/", Named("root")));
  ASSERT_TRUE(router.AddSync(verb::get, "/health", Named("health")));
  ASSERT_TRUE(router.AddSync(verb::head, "/", Named("root_head")));
  EXPECT_EQ(router.route_count(), 2u);
  EXPECT_EQ(router.pattern(0), "/");
  EXPECT_EQ(router.pattern(1), "/health");
  EXPECT_EQ(router.pattern(7), "");
  EXPECT_EQ(router.pattern(Router::kNoRoute), "");
  Router::ParamArray params;
  Router::Match m = router.Find(verb::get, "/", params);
  EXPECT_EQ(m.route, 0);
  EXPECT_EQ(Call(m), "root");
}

TEST(RouterTest, RejectsMalformedPatterns) {
  Router router;
  for (std::string_view bad :
       {"", "v1/keys", "/v1/{}", "/v1/{id", "/v1/id}", "/v1/x{id}", "/v1/{i-d}", "/v1/{id}/{id}",
        "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17"}) {
    Result<void> r = router.AddSync(verb::get, bad, Named("x"));
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error(), Errc::kBadInput) << bad;
    }
  }
  EXPECT_EQ(router.AddSync(verb::get, "/ok", SyncHandler()).error(), Errc::kBadInput);
  EXPECT_EQ(router.AddSync(verb::unknown, "/ok", Named("x")).error(), Errc::kBadInput);
  EXPECT_EQ(router.route_count(), 0u);
}

TEST(RouterTest, RejectsDuplicatesAndAmbiguousPatterns) {
  Router router;
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/keys/{id}", Named("a")));
  EXPECT_EQ(router.AddSync(verb::get, "/v1/keys/{id}", Named("b")).error(), Errc::kConflict);
  EXPECT_EQ(router.AddSync(verb::post, "/v1/keys/{key}", Named("c")).error(), Errc::kConflict);
  EXPECT_TRUE(router.AddSync(verb::post, "/v1/keys/{id}", Named("d")));
  EXPECT_EQ(router.route_count(), 1u);
}

TEST(RouterTest, ATrailingStarMatchesTheRestOfThePathAsOneRoute) {
  Router router;
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/auth", Named("exact")));
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/auth/*", Named("rest")));
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/auth/health", Named("literal")));
  ASSERT_TRUE(router.AddSync(verb::get, "/v1/auth/{x}/y", Named("param")));
  Router::ParamArray params;
  EXPECT_EQ(Call(router.Find(verb::get, "/v1/auth", params)), "exact");
  for (const char* path : {"/v1/auth/", "/v1/auth/orders", "/v1/auth/orders/42/items",
                           "/v1/auth/a//b", "/v1/auth/x/z"}) {
    Router::Match m = router.Find(verb::get, path, params);
    EXPECT_EQ(Call(m), "rest") << path;
    EXPECT_EQ(m.param_count, 0u) << path;
    EXPECT_EQ(router.pattern(m.route), "/v1/auth/*") << "one route, one metrics label: " << path;
  }
  // More specific patterns win over the star, whatever the order of Add.
  EXPECT_EQ(Call(router.Find(verb::get, "/v1/auth/health", params)), "literal");
  EXPECT_EQ(Call(router.Find(verb::get, "/v1/auth/q/y", params)), "param");
  EXPECT_EQ(router.Find(verb::get, "/v1/other", params).kind, Router::MatchKind::kNotFound);
  EXPECT_EQ(router.Find(verb::post, "/v1/auth/x", params).kind,
            Router::MatchKind::kMethodNotAllowed);
}

TEST(RouterTest, AStarOnlyEndsAPattern) {
  Router router;
  for (const char* bad : {"/v1/*/x", "/v1/a*", "/*/*"}) {
    EXPECT_EQ(router.AddSync(verb::get, bad, Named("x")).error(), Errc::kBadInput) << bad;
  }
}

}  // namespace
}  // namespace keycache
