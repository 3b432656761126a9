// keycached: the API key service and its admin CLI.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "app/archive_command.h"
#include "app/cli.h"
#include "app/serve.h"

namespace {

void PrintUsage() {
  std::printf(
      "usage: keycached COMMAND\n"
      "  serve            run the service (configuration from the environment and ./.env)\n"
      "  keys ...         manage keys through a running service (`keycached keys --help`)\n"
      "  export --out FILE\n"
      "                   write every key record (hashes, never keys) and its usage to FILE\n"
      "  import --in FILE [--skip-existing]\n"
      "                   add the records of an export file to the store (DATABASE_URL)\n"
      "  version          print the version\n"
      "  --help           this text\n"
      "Configuration: docs/configuration.md. Port 3333, SQLite under ./var/ by default.\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintUsage();
    return args.empty() ? 2 : 0;
  }
  try {
    if (args[0] == "serve") {
      if (args.size() > 1) {
        std::fprintf(
            stderr, "keycached serve: takes no arguments (configure with environment variables)\n");
        return 2;
      }
      return keycache::Serve();
    }
    if (args[0] == "keys") return keycache::RunKeysCommand({args.begin() + 1, args.end()});
    if (args[0] == "export") return keycache::RunExportCommand({args.begin() + 1, args.end()});
    if (args[0] == "import") return keycache::RunImportCommand({args.begin() + 1, args.end()});
    if (args[0] == "version" || args[0] == "--version") {
      std::printf("keycached 0.1.0\n");
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "keycached: fatal: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "keycached: unknown command '%s' (see keycached --help)\n", args[0].c_str());
  return 2;
}
