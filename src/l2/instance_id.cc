#include "l2/instance_id.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <cstdio>

namespace keycache {

std::string MakeInstanceId(const std::string& configured) {
  if (!configured.empty()) return configured;
  char host[64] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "keycached");
  unsigned char rnd[4] = {};
  RAND_bytes(rnd, sizeof rnd);
  char id[128];
  std::snprintf(id, sizeof id, "%s-%d-%02x%02x%02x%02x", host, static_cast<int>(getpid()), rnd[0],
                rnd[1], rnd[2], rnd[3]);
  return id;
}

}  // namespace keycache
