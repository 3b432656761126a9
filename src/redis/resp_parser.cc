#include "redis/resp_parser.h"

#include <hiredis/read.h>

#include <algorithm>
#include <new>
#include <utility>

namespace keycache {

namespace {

// Capacity reserved for an array before its elements arrive. The count in an array's header
// is the peer's claim: "*2000000000\r\n" must not cost 144 GB before a single element is sent.
constexpr std::size_t kMaxReserve = 1024;

// hiredis calls these while it parses. The reply is built in place: the root lives in the
// parser (privdata), each child in its parent's `elements`, appended as it arrives, so memory
// follows the bytes received. hiredis fills an array's children in order (idx 0, 1, ...) and
// keeps pointers only to the arrays still being filled, one per nesting level; a parent's
// vector grows only when its previous child is complete, so those pointers stay valid. hiredis
// frees only the root (via FreeObject).
RedisReply* Slot(const redisReadTask* task) {
  if (task->parent == nullptr) return static_cast<RedisReply*>(task->privdata);
  auto& siblings = static_cast<RedisReply*>(task->parent->obj)->elements;
  const auto idx = static_cast<std::size_t>(task->idx);
  if (idx >= siblings.size()) siblings.resize(idx + 1);
  return &siblings[idx];
}

void* CreateString(const redisReadTask* task, char* str, std::size_t len) {
  RedisReply* r = Slot(task);
  switch (task->type) {
    case REDIS_REPLY_ERROR:
      r->type = RedisReply::Type::kError;
      break;
    case REDIS_REPLY_STATUS:
      r->type = RedisReply::Type::kStatus;
      break;
    default:
      r->type = RedisReply::Type::kString;
      break;
  }
  r->str.assign(str, len);
  return r;
}

void* CreateArray(const redisReadTask* task, int elements) {
  if (elements < 0) return nullptr;  // hiredis reports a null object as an error
  RedisReply* r = Slot(task);
  r->type = RedisReply::Type::kArray;
  r->elements.clear();
  r->elements.reserve(std::min(static_cast<std::size_t>(elements), kMaxReserve));
  return r;
}

void* CreateInteger(const redisReadTask* task, long long value) {
  RedisReply* r = Slot(task);
  r->type = RedisReply::Type::kInteger;
  r->integer = value;
  return r;
}

void* CreateNil(const redisReadTask* task) {
  RedisReply* r = Slot(task);
  r->type = RedisReply::Type::kNil;
  return r;
}

void FreeObject(void* obj) { *static_cast<RedisReply*>(obj) = RedisReply(); }

redisReplyObjectFunctions kFunctions = {CreateString, CreateArray, CreateInteger, CreateNil,
                                        FreeObject};

}  // namespace

RespParser::RespParser() : reader_(redisReaderCreateWithFunctions(&kFunctions)) {
  if (reader_ == nullptr) throw std::bad_alloc();
  reader_->privdata = &root_;
  // Keep the reader's buffer between replies instead of shrinking it (hiredis default 16 KiB).
  reader_->maxbuf = 64 * 1024;
}

RespParser::~RespParser() { redisReaderFree(reader_); }

void RespParser::Feed(std::string_view bytes) {
  if (failed_ || bytes.empty()) return;
  if (redisReaderFeed(reader_, bytes.data(), bytes.size()) != REDIS_OK) failed_ = true;
}

Result<std::optional<RedisReply>> RespParser::Next() {
  if (failed_ || reader_->err != 0) {
    failed_ = true;
    return Errc::kBadInput;
  }
  void* reply = nullptr;
  if (redisReaderGetReply(reader_, &reply) != REDIS_OK) {
    failed_ = true;
    return Errc::kBadInput;
  }
  if (reply == nullptr) return std::optional<RedisReply>();
  std::optional<RedisReply> out(std::move(root_));
  root_ = RedisReply();
  return out;
}

std::string_view RespParser::error() const {
  return reader_->err != 0 ? std::string_view(reader_->errstr) : std::string_view();
}

}  // namespace keycache
