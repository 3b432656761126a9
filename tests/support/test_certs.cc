#include "support/test_certs.h"

#include <cstdlib>
#include <fstream>

namespace keycache::testing {

namespace {

bool Run(const std::string& command, TestPki& pki) {
  const std::string quiet = command + " >/dev/null 2>&1";
  if (std::system(quiet.c_str()) == 0) return true;
  pki.ok = false;
  pki.error = "failed: " + command;
  return false;
}

std::string Q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

bool MakeCa(const std::filesystem::path& dir, const std::string& name, TestPki& pki) {
  return Run(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
      " -subj '/CN=" +
          name + "' -keyout " + Q(dir / (name + ".key")) + " -out " + Q(dir / (name + ".crt")) +
          " -addext basicConstraints=critical,CA:TRUE"
          " -addext keyUsage=critical,keyCertSign,cRLSign",
      pki);
}

bool MakeLeaf(const std::filesystem::path& dir, const std::string& ca, const std::string& name,
              const std::string& extensions, TestPki& pki) {
  const auto ext = dir / (name + ".ext");
  std::ofstream(ext) << extensions << "\n";
  return Run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
             " -subj '/CN=" +
                 name + "' -keyout " + Q(dir / (name + ".key")) + " -out " +
                 Q(dir / (name + ".csr")),
             pki) &&
         Run("openssl x509 -req -days 2 -in " + Q(dir / (name + ".csr")) + " -CA " +
                 Q(dir / (ca + ".crt")) + " -CAkey " + Q(dir / (ca + ".key")) +
                 " -CAcreateserial -out " + Q(dir / (name + ".crt")) + " -extfile " + Q(ext),
             pki);
}

}  // namespace

TestPki MakeTestPki(const std::filesystem::path& dir) {
  TestPki pki;
  const std::string server_ext =
      "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
      "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost";
  const std::string client_ext =
      "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
      "extendedKeyUsage=clientAuth";
  if (!MakeCa(dir, "ca", pki) || !MakeCa(dir, "other_ca", pki) ||
      !MakeLeaf(dir, "ca", "server", server_ext, pki) ||
      !MakeLeaf(dir, "ca", "client", client_ext, pki) ||
      !MakeLeaf(dir, "other_ca", "other_server", server_ext, pki)) {
    return pki;
  }
  pki.ok = true;
  pki.ca_cert = (dir / "ca.crt").string();
  pki.server_cert = (dir / "server.crt").string();
  pki.server_key = (dir / "server.key").string();
  pki.client_cert = (dir / "client.crt").string();
  pki.client_key = (dir / "client.key").string();
  pki.other_ca_cert = (dir / "other_ca.crt").string();
  pki.other_server_cert = (dir / "other_server.crt").string();
  pki.other_server_key = (dir / "other_server.key").string();
  return pki;
}

}  // namespace keycache::testing
