// Runs the project's shell scripts (scripts/*.sh) the way an operator would, with exactly the
// environment a test gives them, and collects what they print and their exit code.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "support/keycached_process.h"

namespace keycache::testing {

// `s` single-quoted for sh.
std::string ShellQuote(const std::string& s);

struct ScriptRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs scripts/<name> in `workdir` with exactly `env` (plus PATH), to completion (the scripts
// bound their own waits; `timeout` bounds the run again at 120 s).
ScriptRun RunScript(const std::string& name, const std::vector<std::string>& args,
                    const EnvVars& env, const std::filesystem::path& workdir);

}  // namespace keycache::testing
