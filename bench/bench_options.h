// bench_options.h: the command line of the benchmark programs: "--key value" pairs, each handed to a callback
// that stores it and returns false for a key it does not know (one clear error, as for a missing value); and the
// "CxHxW" sample shapes they take.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sprint/core/error.h"
#include "sprint/core/shape.h"

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

/// "3x32x32" -> {3, 32, 32}; "784" -> {784}.
inline Shape parse_shape(const std::string& s) {
  std::vector<int64_t> dims;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = s.find('x', start);
    dims.push_back(std::stoll(s.substr(start, end - start)));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return Shape(dims.begin(), dims.end());
}

}  // namespace sprint::bench
