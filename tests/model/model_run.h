// What every model test does around its driver (model_driver.h): reading its settings from the
// environment, and after the instances were stopped gracefully, turning an exit status other
// than 0 or a sanitizer report in an instance's log into a violation. Plain functions; call them
// from the test's main thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/instance_set.h"
#include "model/model_driver.h"

namespace keycache::testing::model {

// The variable's value, or `fallback` when it is unset or empty.
std::string EnvOr(const char* name, std::string fallback = {});

// KEYCACHE_MODEL_SEED, or a random seed; printed with `label` either way.
std::uint64_t ModelSeed(const std::string& label);

// The last `lines` lines of `text`.
std::string Tail(const std::string& text, std::size_t lines);

// The end of a run, faults healed: settles every ambiguous change (bounded), stops the clients,
// waits out the bound, verifies up to `sweep_keys` keys on every instance once, and reports any
// instance that died.
void WindDown(ModelDriver& driver, InstanceSet& instances, Ms bound, std::size_t sweep_keys);

// After InstanceSet::StopAll(): a violation for each instance whose exit status (in `codes`) is
// not 0 and for each whose log carries a sanitizer report.
void CheckCleanStops(ModelDriver& driver, InstanceSet& instances, const std::vector<int>& codes);

}  // namespace keycache::testing::model
