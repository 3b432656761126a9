// `keycached serve`: the composition root. Loads and validates the configuration, wires every
// component (the only place in the program that does), serves until SIGINT/SIGTERM, then shuts
// down gracefully: stop accepting, finish in-flight requests, flush usage, close the store.
#pragma once

#include <optional>
#include <vector>

#include "config/config.h"

namespace keycache {

// Returns the process exit code.
int Serve();

// The configuration from the environment and ./.env, validated; nullopt after printing every
// problem to stderr. Warnings (unknown variables with our prefixes) go to `*warnings` when given,
// else to stderr. Also used by `export` and `import`.
std::optional<Config> LoadValidatedConfig(std::vector<ConfigError>* warnings = nullptr);

}  // namespace keycache
