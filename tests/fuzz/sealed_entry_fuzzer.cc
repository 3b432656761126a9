// Fuzzes EntrySealer (l2/sealed_entry.h). Arbitrary values under arbitrary names: whatever
// opens must be exactly what sealing its contents gives (so only our own seals open). Facts
// and a blob drawn from the input: they open to themselves under their name only, not as the
// other kind, and not after one byte is flipped or the value is cut short.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "l2/sealed_entry.h"

namespace keycache {
namespace {

const EntrySealer& Sealer() {
  static const EntrySealer sealer("fuzz pepper: at least thirty-two bytes long");
  return sealer;
}

TimeMs ConsumeTime(FuzzedDataProvider& p) {
  // Times are Unix ms >= 0, or kNever.
  return p.ConsumeBool() ? kNever : p.ConsumeIntegralInRange<TimeMs>(0, kNever - 1);
}

KeyFacts ConsumeFacts(FuzzedDataProvider& p, KeyId id) {
  KeyFacts f;
  f.id = id;
  for (auto& b : f.hash) b = p.ConsumeIntegral<std::uint8_t>();
  f.expires_at = ConsumeTime(p);
  f.revoked_at = ConsumeTime(p);
  f.enabled = p.ConsumeBool();
  f.owner_id = p.ConsumeRandomLengthString(200);
  const int scopes = p.ConsumeIntegralInRange(0, 8);
  for (int i = 0; i < scopes; ++i) f.scopes.push_back(p.ConsumeRandomLengthString(80));
  return f;
}

bool SameFacts(const KeyFacts& a, const KeyFacts& b) {
  return a.id == b.id && a.hash == b.hash && a.expires_at == b.expires_at &&
         a.revoked_at == b.revoked_at && a.enabled == b.enabled && a.owner_id == b.owner_id &&
         a.scopes == b.scopes;
}

// A value that was not sealed by us must not open; one that opens must be our canonical seal.
void CheckForeign(std::string_view name, KeyId id, std::string_view value) {
  const EntrySealer& s = Sealer();
  if (Result<FactsEntry> f = s.OpenFacts(name, id, value)) {
    FUZZ_CHECK(s.SealFacts(name, f->generation, f->answer) == value);
  }
  if (Result<BlobEntry> b = s.OpenBlob(name, value)) {
    FUZZ_CHECK(s.SealBlob(name, b->generation, b->body) == value);
  }
}

// `sealed` opens only as itself: one flipped byte, a missing last byte or another name refuse.
template <class Open>
void CheckTamper(std::string sealed, std::string_view name, std::size_t at, std::uint8_t mask,
                 Open open) {
  FUZZ_CHECK(!open(std::string(name) + "x", sealed));
  FUZZ_CHECK(!open(name, std::string_view(sealed).substr(0, sealed.size() - 1)));
  sealed[at % sealed.size()] ^= static_cast<char>(mask == 0 ? 1 : mask);
  FUZZ_CHECK(!open(name, sealed));
}

}  // namespace
}  // namespace keycache

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keycache;
  FuzzedDataProvider p(data, size);
  const EntrySealer& s = Sealer();
  const std::string name = p.ConsumeRandomLengthString(64);
  const KeyId id = p.ConsumeIntegral<KeyId>();
  const std::uint64_t generation = p.ConsumeIntegral<std::uint64_t>();
  const std::size_t at = p.ConsumeIntegral<std::size_t>();
  const std::uint8_t mask = p.ConsumeIntegral<std::uint8_t>();
  const bool missing = p.ConsumeBool();
  const KeyFacts facts = ConsumeFacts(p, id);
  const std::string rest = p.ConsumeRemainingBytesAsString();

  CheckForeign(name, id, rest);

  const FactsAnswer answer =
      missing ? FactsAnswer::Absent() : FactsAnswer::Found(std::make_shared<const KeyFacts>(facts));
  const std::string sealed_facts = s.SealFacts(name, generation, answer);
  const Result<FactsEntry> opened = s.OpenFacts(name, id, sealed_facts);
  FUZZ_CHECK(opened && opened->generation == generation);
  FUZZ_CHECK(missing ? !opened->answer.found()
                     : opened->answer.found() && SameFacts(opened->answer.facts(), facts));
  FUZZ_CHECK(!s.OpenBlob(name, sealed_facts));
  CheckTamper(sealed_facts, name, at, mask, [&](std::string_view n, std::string_view v) {
    return s.OpenFacts(n, id, v).has_value();
  });

  const std::string sealed_blob = s.SealBlob(name, generation, rest);
  const Result<BlobEntry> blob = s.OpenBlob(name, sealed_blob);
  FUZZ_CHECK(blob && blob->generation == generation && blob->body == rest);
  FUZZ_CHECK(!s.OpenFacts(name, id, sealed_blob));
  CheckTamper(sealed_blob, name, at, mask,
              [&](std::string_view n, std::string_view v) { return s.OpenBlob(n, v).has_value(); });
  return 0;
}
