// main() of the test binaries that inject network faults: before gtest starts (and before any
// thread exists) the process moves into a network namespace of its own, so that its servers,
// veth pairs and firewall rules never touch the machine's network. A failure is kept and
// reported by each test that needs the namespace (NetworkIsolationError); nothing is skipped.
#include <gtest/gtest.h>

#include "support/netns.h"

int main(int argc, char** argv) {
  keycache::testing::IsolateNetwork();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
