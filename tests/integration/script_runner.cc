#include "integration/script_runner.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

namespace keycache::testing {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

ScriptRun RunScript(const std::string& name, const std::vector<std::string>& args,
                    const EnvVars& env, const std::filesystem::path& workdir) {
  const char* path = std::getenv("PATH");
  std::string command = "cd " + ShellQuote(workdir.string()) +
                        " && timeout 120 env -i PATH=" + ShellQuote(path ? path : "/usr/bin:/bin");
  for (const auto& [k, v] : env) command += " " + k + "=" + ShellQuote(v);
  command += " bash " + ShellQuote(KEYCACHE_SOURCE_DIR "/scripts/" + name);
  for (const auto& a : args) command += " " + ShellQuote(a);
  command += " 2>&1";
  ScriptRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.output.append(buffer, n);
  const int rc = ::pclose(pipe);
  run.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return run;
}

}  // namespace keycache::testing
