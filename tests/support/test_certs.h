// MakeTestPki: a throwaway PKI for TLS tests, generated with the `openssl` command-line tool.
// Plain functions; each call writes its own files.
#pragma once

#include <filesystem>
#include <string>

namespace keycache::testing {

struct TestPki {
  bool ok = false;
  std::string error;        // what failed when !ok
  std::string ca_cert;      // the test CA
  std::string server_cert;  // signed by the CA; SAN IP:127.0.0.1, DNS:localhost
  std::string server_key;
  std::string client_cert;  // signed by the CA (for mutual TLS)
  std::string client_key;
  std::string other_ca_cert;      // an unrelated CA
  std::string other_server_cert;  // signed by other_ca; same SANs as server_cert
  std::string other_server_key;
};

// Writes the files into `dir` (which must exist). Takes a second or so.
TestPki MakeTestPki(const std::filesystem::path& dir);

}  // namespace keycache::testing
