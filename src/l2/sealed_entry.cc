#include "l2/sealed_entry.h"

#include <openssl/crypto.h>

#include <cstring>

namespace keycache {
namespace {

constexpr std::uint8_t kFormat = 1;
enum Kind : std::uint8_t { kFacts = 0, kMissing = 1, kBlob = 2 };
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kHeaderBytes = 2 + 8;  // format, kind, generation
constexpr std::size_t kMaxStringBytes = 1 << 20;
constexpr std::size_t kMaxScopes = 4096;

std::string DeriveSealKey(std::string_view pepper) {
  const KeyHash k = KeyHasher(pepper).Hash("keycache l2 seal v1");
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

void PutU64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Times are Unix ms (>= 0) or kNever; 0 encodes kNever so the common case takes one byte.
void PutTime(std::string& out, TimeMs t) {
  PutVarint(out, t == kNever || t < 0 ? 0 : static_cast<std::uint64_t>(t) + 1);
}

void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

// A bounds-checked reader over the payload; every Get fails once anything was out of bounds.
class Cursor {
 public:
  explicit Cursor(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }

  std::uint8_t Byte() {
    if (!Need(1)) return 0;
    return static_cast<std::uint8_t>(in_[pos_++]);
  }
  std::uint64_t U64() {
    if (!Need(8)) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= std::uint64_t{static_cast<std::uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += 8;
    return v;
  }
  std::uint64_t Varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = Byte();
      if (!ok_) return 0;
      v |= std::uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    ok_ = false;
    return 0;
  }
  TimeMs Time() {
    const std::uint64_t v = Varint();
    if (v == 0) return kNever;
    if (v - 1 >= static_cast<std::uint64_t>(kNever)) {
      ok_ = false;
      return kNever;
    }
    return static_cast<TimeMs>(v - 1);
  }
  std::string_view String() {
    const std::uint64_t n = Varint();
    if (n > kMaxStringBytes || !Need(n)) {
      ok_ = false;
      return {};
    }
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string_view Bytes(std::size_t n) {
    if (!Need(n)) return {};
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string_view Rest() { return Bytes(in_.size() - pos_); }

 private:
  bool Need(std::uint64_t n) {
    if (!ok_ || n > in_.size() - pos_) ok_ = false;
    return ok_;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

Result<void> Bad() { return make_error_code(Errc::kBadInput); }

}  // namespace

EntrySealer::EntrySealer(std::string_view pepper) : mac_(DeriveSealKey(pepper)) {}

void EntrySealer::AppendTag(std::string_view name, std::string& value) const {
  // The tag covers the name's length, the name and the payload, so an entry is valid only under
  // the Redis key it was written for.
  std::string input;
  input.reserve(8 + name.size() + value.size());
  PutU64(input, name.size());
  input.append(name).append(value);
  const KeyHash tag = mac_.Hash(input);
  value.append(reinterpret_cast<const char*>(tag.data()), kTagBytes);
}

bool EntrySealer::TagMatches(std::string_view name, std::string_view value) const {
  if (value.size() < kTagBytes) return false;
  const std::string_view payload = value.substr(0, value.size() - kTagBytes);
  std::string input;
  input.reserve(8 + name.size() + payload.size());
  PutU64(input, name.size());
  input.append(name).append(payload);
  const KeyHash tag = mac_.Hash(input);
  return CRYPTO_memcmp(tag.data(), value.data() + payload.size(), kTagBytes) == 0;
}

std::string EntrySealer::SealFacts(std::string_view name, std::uint64_t generation,
                                   const FactsAnswer& answer) const {
  const KeyFacts* facts = answer.found() ? &answer.facts() : nullptr;
  std::string out;
  out.reserve(96);
  out.push_back(static_cast<char>(kFormat));
  out.push_back(static_cast<char>(facts ? kFacts : kMissing));
  PutU64(out, generation);
  if (facts) {
    out.append(reinterpret_cast<const char*>(facts->hash.data()), facts->hash.size());
    PutTime(out, facts->expires_at);
    PutTime(out, facts->revoked_at);
    out.push_back(facts->enabled ? 1 : 0);
    PutString(out, facts->owner_id);
    PutVarint(out, facts->scopes.size());
    for (const std::string& s : facts->scopes) PutString(out, s);
  }
  AppendTag(name, out);
  return out;
}

Result<FactsEntry> EntrySealer::OpenFacts(std::string_view name, KeyId id,
                                          std::string_view value) const {
  if (value.size() < kHeaderBytes + kTagBytes || !TagMatches(name, value)) return Bad().error();
  Cursor c(value.substr(0, value.size() - kTagBytes));
  const std::uint8_t format = c.Byte();
  const std::uint8_t kind = c.Byte();
  FactsEntry entry;
  entry.generation = c.U64();
  if (format != kFormat || (kind != kFacts && kind != kMissing)) return Bad().error();
  if (kind == kMissing) {
    if (!c.ok() || !c.done()) return Bad().error();
    return entry;
  }
  auto facts = std::make_shared<KeyFacts>();
  facts->id = id;
  const std::string_view hash = c.Bytes(facts->hash.size());
  if (c.ok()) std::memcpy(facts->hash.data(), hash.data(), hash.size());
  facts->expires_at = c.Time();
  facts->revoked_at = c.Time();
  const std::uint8_t enabled = c.Byte();
  facts->enabled = enabled == 1;
  facts->owner_id = std::string(c.String());
  const std::uint64_t n = c.Varint();
  if (!c.ok() || n > kMaxScopes || enabled > 1) return Bad().error();
  facts->scopes.reserve(n);
  for (std::uint64_t i = 0; i < n && c.ok(); ++i) facts->scopes.emplace_back(c.String());
  if (!c.ok() || !c.done()) return Bad().error();
  entry.answer = FactsAnswer::Found(std::move(facts));
  return entry;
}

std::string EntrySealer::SealBlob(std::string_view name, std::uint64_t generation,
                                  std::string_view body) const {
  std::string out;
  out.reserve(kHeaderBytes + body.size() + kTagBytes);
  out.push_back(static_cast<char>(kFormat));
  out.push_back(static_cast<char>(kBlob));
  PutU64(out, generation);
  out.append(body);
  AppendTag(name, out);
  return out;
}

Result<BlobEntry> EntrySealer::OpenBlob(std::string_view name, std::string_view value) const {
  if (value.size() < kHeaderBytes + kTagBytes || !TagMatches(name, value)) return Bad().error();
  Cursor c(value.substr(0, value.size() - kTagBytes));
  const std::uint8_t format = c.Byte();
  const std::uint8_t kind = c.Byte();
  BlobEntry entry;
  entry.generation = c.U64();
  if (!c.ok() || format != kFormat || kind != kBlob) return Bad().error();
  entry.body = std::string(c.Rest());
  return entry;
}

}  // namespace keycache
