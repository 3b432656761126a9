#include "config/secret_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace keycache {
namespace {

// Closes the descriptor on every path out of a function.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool Close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

std::string Describe(std::string_view what, const std::filesystem::path& path, int err) {
  return std::string(what) + " \"" + path.string() + "\": " + std::strerror(err);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// A unique name beside `path`, so a crash leaves a stray temporary file but never blocks
// the next start (O_EXCL on a fixed name would).
std::filesystem::path TempPathFor(const std::filesystem::path& path) {
  // Should the CSPRNG fail, the pid still keeps processes apart.
  const std::string suffix = RandomHex(8).value_or("0");
  return path.parent_path() /
         ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" + suffix);
}

}  // namespace

std::optional<std::string> RandomHex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) return std::nullopt;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes);
  for (unsigned char b : raw) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  OPENSSL_cleanse(raw.data(), raw.size());
  return hex;
}

boost::system::result<SecretFile, SecretFileError> ReadSecretFile(
    const std::filesystem::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    return SecretFileError{Describe("cannot open", path, err), err == ENOENT};
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return SecretFileError{Describe("cannot stat", path, errno)};
  if (!S_ISREG(st.st_mode)) return SecretFileError{"\"" + path.string() + "\" is not a file"};
  if (static_cast<std::uint64_t>(st.st_size) > kMaxSecretFileBytes) {
    return SecretFileError{"\"" + path.string() + "\" is larger than " +
                           std::to_string(kMaxSecretFileBytes) + " bytes"};
  }
  SecretFile file;
  file.mode = st.st_mode & 07777;
  char buf[kMaxSecretFileBytes + 1];
  std::size_t len = 0;
  while (len < sizeof buf) {
    const ssize_t n = ::read(fd.get(), buf + len, sizeof buf - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SecretFileError{Describe("cannot read", path, errno)};
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  if (len > kMaxSecretFileBytes) {  // it grew after fstat
    return SecretFileError{"\"" + path.string() + "\" is larger than " +
                           std::to_string(kMaxSecretFileBytes) + " bytes"};
  }
  std::string_view content(buf, len);
  while (!content.empty() && std::strchr(" \t\r\n", content.back()) != nullptr) {
    content.remove_suffix(1);
  }
  file.value.assign(content);
  OPENSSL_cleanse(buf, sizeof buf);
  return file;
}

boost::system::result<CreateOutcome, std::string> CreateSecretFile(
    const std::filesystem::path& path, std::string_view content) {
  const std::filesystem::path temp = TempPathFor(path);
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Describe("cannot create", temp, errno);
  if (!WriteAll(fd.get(), content) || ::fsync(fd.get()) != 0 || !fd.Close()) {
    const int err = errno;
    ::unlink(temp.c_str());
    return Describe("cannot write", temp, err);
  }
  const int linked = ::link(temp.c_str(), path.c_str());
  const int link_err = errno;
  ::unlink(temp.c_str());
  if (linked != 0) {
    if (link_err == EEXIST) return CreateOutcome::kAlreadyExists;
    return Describe("cannot create", path, link_err);
  }
  // Make the new directory entry durable; a failure here does not undo the file.
  Fd dir(::open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
                O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) ::fsync(dir.get());
  return CreateOutcome::kCreated;
}

}  // namespace keycache
