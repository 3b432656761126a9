// `keycached serve`: the composition root. Loads and validates the configuration, wires every
// component (the only place in the program that does), serves until SIGINT/SIGTERM, then shuts
// down gracefully: stop accepting, finish in-flight requests, flush usage, close the store.
#pragma once

namespace keycache {

// Returns the process exit code.
int Serve();

}  // namespace keycache
