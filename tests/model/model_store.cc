#include "model/model_store.h"

namespace keycache::testing::model {

std::string_view StoreName(StoreKind kind) {
  return kind == StoreKind::kPostgres ? "postgres" : "sqlite";
}

::testing::AssertionResult ModelStore::Start() {
  if (!postgres()) return ::testing::AssertionSuccess();
  server_ = std::make_unique<PostgresServerProcess>();
  if (auto r = server_->Start(); !r) return r;
  return server_->CreateDatabase(kDatabase);
}

std::string ModelStore::Url() const {
  return postgres() ? server_->Url(kDatabase) : "sqlite:" + sqlite_path().string();
}

std::string ModelStore::IsolatedUrl() const {
  return postgres() ? server_->SocketUrl(kDatabase) : Url();
}

}  // namespace keycache::testing::model
