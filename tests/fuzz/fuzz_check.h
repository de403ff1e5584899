// fuzz_check.h: shared by the fuzz entry points. FUZZ_CHECK traps (a crash libFuzzer and the smoke test both
// report) when a parser accepted an input but returned something inconsistent with it.
#pragma once

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

// The entry point's name: libFuzzer's by default; the smoke test compiles each target under its own name.
#ifndef SPRINT_FUZZ_ENTRY
#define SPRINT_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
