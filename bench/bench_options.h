// bench_options.h: the command line of the benchmark programs: "--key value" pairs, each handed to a callback
// that stores it and returns false for a key it does not know (one clear error, as for a missing value).
#pragma once

#include <string>

#include "sprint/core/error.h"

namespace sprint::bench {

template <class Store>
void parse_options(int argc, char** argv, Store&& store) {
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) throw InvalidArgument("missing value for " + key);
    const std::string value = argv[++i];
    if (!store(key, value)) throw InvalidArgument("unknown option " + key);
  }
}

}  // namespace sprint::bench
