#include "model/model_run.h"

#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

namespace keycache::testing::model {

std::string EnvOr(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

std::uint64_t ModelSeed(const std::string& label) {
  std::uint64_t seed = std::random_device{}();
  if (const std::string s = EnvOr("KEYCACHE_MODEL_SEED"); !s.empty()) seed = std::stoull(s);
  std::cout << label << ": KEYCACHE_MODEL_SEED=" << seed << std::endl;
  return seed;
}

std::string Tail(const std::string& text, std::size_t lines) {
  std::size_t pos = text.size();
  for (std::size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

void WindDown(ModelDriver& driver, InstanceSet& instances, Ms bound, std::size_t sweep_keys) {
  driver.ResolveAll(std::chrono::seconds(15));
  driver.StopClients();
  std::this_thread::sleep_for(std::chrono::milliseconds(bound));
  driver.FinalSweep(sweep_keys);
  for (int i = 0; i < instances.size(); ++i) {
    int status = -1;
    if (!instances.Alive(i, &status)) driver.ReportCrash(i, status, instances.instance(i).log());
  }
}

void CheckCleanStops(ModelDriver& driver, InstanceSet& instances, const std::vector<int>& codes) {
  for (int i = 0; i < instances.size(); ++i) {
    const std::string log = instances.instance(i).log();
    const int code = codes[static_cast<std::size_t>(i)];
    if (code != 0) {
      driver.AddViolation("instance " + std::to_string(i) + " exited with " + std::to_string(code) +
                          " on SIGTERM; its log ends:\n" + Tail(log, 40));
    }
    for (const char* bad : {"AddressSanitizer", "LeakSanitizer", "runtime error:"}) {
      if (const auto at = log.find(bad); at != std::string::npos) {
        driver.AddViolation("instance " + std::to_string(i) + " logged a sanitizer report:\n" +
                            log.substr(at > 2000 ? at - 2000 : 0, 6000));
        break;
      }
    }
  }
}

}  // namespace keycache::testing::model
