// fuzz_smoke_test.cpp: runs the fuzz entry points (idx_fuzz.cpp, cifar10_fuzz.cpp, compiled here under their
// own names) on a few thousand seeded random and mutated inputs with g++, so every CI build exercises them
// even without clang/libFuzzer. Seeds are valid files; mutations flip, truncate, extend and rewrite header
// fields.
#include <gtest/gtest.h>

#include <png.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>

#include "data_test_util.h"
#include "sprint/core/rng.h"
#include "sprint/data/cifar10.h"
#include "sprint/data/idx.h"
#include "sprint/data/npy.h"
#include "sprint/data/safetensors.h"
#include "sprint/data/png_convert.h"
#include "sprint/train/parameter_mask.h"
#include "sprint/train/sparse_checkpoint.h"

extern "C" int sprint_fuzz_idx(const uint8_t* data, size_t size);
extern "C" int sprint_fuzz_cifar10(const uint8_t* data, size_t size);
extern "C" int sprint_fuzz_safetensors(const uint8_t* data, size_t size);
extern "C" int sprint_fuzz_npy(const uint8_t* data, size_t size);
extern "C" int sprint_fuzz_mask(const uint8_t* data, size_t size);

namespace sprint {
namespace {

uint8_t pattern(uint32_t i, uint32_t p) {
  return static_cast<uint8_t>(i * 13 + p);
}

std::string mutate(std::string s, Generator& rng) {
  const uint32_t n_edits = 1 + static_cast<uint32_t>(rng.below(4));
  for (uint32_t e = 0; e < n_edits; ++e) {
    switch (rng.below(6)) {
      case 0:  // flip bytes
        for (uint64_t k = 0, n = 1 + rng.below(8); k < n && !s.empty(); ++k)
          s[rng.below(s.size())] ^= static_cast<char>(1 + rng.below(255));
        break;
      case 1:  // truncate
        if (!s.empty()) s.resize(rng.below(s.size()));
        break;
      case 2:  // append random bytes
        for (uint64_t k = 0, n = rng.below(64); k < n; ++k) s.push_back(static_cast<char>(rng.below(256)));
        break;
      case 3: {  // overwrite a 32-bit header field with an edge value
        const uint32_t edges[] = {0u, 1u, 0x7fffffffu, 0xffffffffu, 28u, 60000u, 0x803u, 0x801u};
        const uint32_t v = edges[rng.below(8)];
        const size_t at = 4 * rng.below(4);
        if (s.size() >= at + 4)
          for (int b = 0; b < 4; ++b) s[at + static_cast<size_t>(b)] = static_cast<char>(v >> (24 - 8 * b));
        break;
      }
      case 4:  // duplicate a slice
        if (!s.empty()) {
          const size_t a = rng.below(s.size());
          s.insert(rng.below(s.size()), s.substr(a, rng.below(s.size() - a) + 1));
        }
        break;
      default:  // replace with random bytes of the same length
        for (char& c : s) c = static_cast<char>(rng.below(256));
        break;
    }
  }
  return s;
}

void run(int (*entry)(const uint8_t*, size_t), const std::string& s) {
  ASSERT_EQ(entry(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0);
}

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(FuzzSmoke, IdxEntryOnRandomAndMutatedInputs) {
  const std::vector<std::string> seeds = {
      testing::idx_images(4, 5, 6, pattern), testing::gzip(testing::idx_images(3, 7, 7, pattern)),
      testing::idx_labels({1, 2, 3, 9, 0}), testing::gzip(testing::idx_labels({4, 4, 4})), std::string()};
  // The seeds are valid: the mutations start from inputs the parsers accept.
  EXPECT_EQ(data::parse_idx_images(bytes_of(seeds[0]), "seed").numel(), 120);
  EXPECT_EQ(data::parse_idx_labels(bytes_of(seeds[2]), "seed", 10).numel(), 5);
  Generator rng(2024);
  for (const std::string& s : seeds) run(sprint_fuzz_idx, s);
  for (int i = 0; i < 3000; ++i) run(sprint_fuzz_idx, mutate(seeds[rng.below(seeds.size())], rng));
  for (int i = 0; i < 500; ++i) {
    std::string s(rng.below(300), '\0');
    for (char& c : s) c = static_cast<char>(rng.below(256));
    run(sprint_fuzz_idx, s);
  }
}

TEST(FuzzSmoke, Cifar10EntryOnRandomAndMutatedInputs) {
  std::vector<uint8_t> rgb(2 * 1024 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 7);
  const std::string png = testing::png(1024, 2, PNG_COLOR_TYPE_RGB, 8, rgb);
  const std::string records = testing::cifar_records({1, 9}, pattern);
  const std::vector<std::string> seeds = {
      std::string(1, '\0') + records,
      std::string(1, '\1') + "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n",
      std::string(1, '\2') + "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]",
      std::string(1, '\3') + std::string(1, '\1') + png,  // 2 labels: matches the PNG's 2 rows
  };
  EXPECT_EQ(data::parse_cifar10_batch(bytes_of(records), "seed", 2).labels.numel(), 2);
  EXPECT_EQ(data::cifar10_png_to_records(bytes_of(png), std::vector<uint8_t>{1, 1}, "seed").size(),
            2u * 3073u);
  Generator rng(77);
  for (const std::string& s : seeds) run(sprint_fuzz_cifar10, s);
  for (int i = 0; i < 3000; ++i) {
    std::string s = seeds[rng.below(seeds.size())];
    const char selector = s[0];
    s = mutate(s.substr(1), rng);
    run(sprint_fuzz_cifar10, std::string(1, selector) + s);
  }
  for (int i = 0; i < 500; ++i) {
    std::string s(rng.below(400), '\0');
    for (char& c : s) c = static_cast<char>(rng.below(256));
    run(sprint_fuzz_cifar10, s);
  }
}

std::string string_of(const std::vector<uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }

// Every file of tests/fuzz/corpus/<name>/ (inputs the libFuzzer runs kept), through `entry`.
void replay_corpus(int (*entry)(const uint8_t*, size_t), const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(SPRINT_FUZZ_CORPUS_DIR) / name;
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int n = 0;
  for (const auto& file : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(file.path(), std::ios::binary);
    run(entry, std::string(std::istreambuf_iterator<char>(in), {}));
    ++n;
  }
  EXPECT_GT(n, 0) << "empty corpus " << dir;
}

TEST(FuzzSmoke, SafetensorsEntryOnRandomAndMutatedInputs) {
  const Tensor w = Tensor::from_values<float>(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor count = Tensor::from_values<int64_t>(std::vector<int64_t>{5}, {});
  const std::vector<std::string> seeds = {
      string_of(data::encode_safetensors({{"fc.weight", w}, {"bn.num_batches_tracked", count}}, {{"step", "3"}})),
      string_of(data::encode_safetensors({{"x", w}}, {})), string_of(data::encode_safetensors({}, {}))};
  EXPECT_EQ(data::SafetensorsFile(std::vector<uint8_t>(seeds[0].begin(), seeds[0].end()), "seed").entries().size(),
            2u);
  Generator rng(4242);
  for (const std::string& s : seeds) run(sprint_fuzz_safetensors, s);
  for (int i = 0; i < 4000; ++i) run(sprint_fuzz_safetensors, mutate(seeds[rng.below(seeds.size())], rng));
  replay_corpus(sprint_fuzz_safetensors, "safetensors");
}

// A mask file and a small checkpoint on mask_fuzz.cpp's base (its content hash recorded, so that mutations reach
// the index checks).
TEST(FuzzSmoke, MaskEntryOnRandomAndMutatedInputs) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("sprint_fuzz_mask_" + std::to_string(::getpid()) + ".safetensors");
  const train::ParameterMask mask = train::top_k_mask(
      {{"w", Tensor::from_values<double>(std::vector<double>{3, 1, 4, 1, 5, 9, 2, 6, 5}, {3, 3})}}, 0.4, "");
  train::write_mask(path, mask);
  std::ifstream in(path, std::ios::binary);
  const std::string mask_file(std::istreambuf_iterator<char>(in), {});
  std::filesystem::remove(path);
  const Tensor w = Tensor::from_values(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor m = Tensor::from_values(std::vector<float>{0, 1}, {2});
  const data::SafetensorsFile base(data::encode_safetensors({{"w", w}, {"bn.running_mean", m}}, {{"format", "pt"}}),
                                   "base");
  const std::string sparse = string_of(data::encode_safetensors(
      {{"w.idx", Tensor::from_values(std::vector<int32_t>{1, 4}, {2})},
       {"w.val", Tensor::from_values(std::vector<float>{9, 9}, {2})},
       {"bn.running_mean", Tensor::from_values(std::vector<float>{7, 8}, {2})}},
      {{"format", "sprint-sparse"}, {"base_hash", train::content_hash(base)}}));
  const std::vector<std::string> seeds = {mask_file, sparse};
  Generator rng(77);
  for (const std::string& s : seeds) run(sprint_fuzz_mask, s);
  for (int i = 0; i < 3000; ++i) run(sprint_fuzz_mask, mutate(seeds[rng.below(seeds.size())], rng));
}

TEST(FuzzSmoke, NpyEntryOnRandomAndMutatedInputs) {
  const std::vector<std::string> seeds = {
      string_of(data::encode_npy(Tensor::from_values<float>(std::vector<float>{1, 2, 3, 4, 5, 6}, {1, 2, 3}))),
      string_of(data::encode_npy(Tensor::from_values<int64_t>(std::vector<int64_t>{1, 2}, {2})))};
  EXPECT_EQ(data::parse_npy(bytes_of(seeds[0]), "seed").numel(), 6);
  Generator rng(99);
  for (const std::string& s : seeds) run(sprint_fuzz_npy, s);
  for (int i = 0; i < 4000; ++i) run(sprint_fuzz_npy, mutate(seeds[rng.below(seeds.size())], rng));
  replay_corpus(sprint_fuzz_npy, "npy");
}

}  // namespace
}  // namespace sprint
