// resident_loader_test.cpp: the device-resident batch source gives exactly the DataLoader's batches (same order,
// same normalised values, both layouts, short last batch, drop_last), keeps its batch buffers at fixed
// addresses, and allocates nothing per batch.
#include <gtest/gtest.h>

#include "sprint/data/loader.h"
#include "sprint/data/resident_loader.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::data {
namespace {

Dataset images(int64_t n) {
  Dataset d;
  d.name = "images";
  d.inputs = Tensor::empty({n, 3, 4, 5}, DType::kU8);
  d.labels = Tensor::empty({n}, DType::kI32);
  uint8_t* p = d.inputs.data_as<uint8_t>();
  for (int64_t i = 0; i < d.inputs.numel(); ++i) p[i] = static_cast<uint8_t>((i * 37 + i / 7) % 256);
  for (int64_t i = 0; i < n; ++i) d.labels.data_as<int32_t>()[i] = static_cast<int32_t>((i * 7) % 10);
  d.mean = {0.5f, 0.4f, 0.3f};
  d.std = {0.25f, 0.2f, 0.3f};
  return d;
}

void expect_same_epochs(BatchSource& a, BatchSource& b, int64_t epochs) {
  for (int64_t e = 0; e < epochs; ++e) {
    a.start_epoch(e);
    b.start_epoch(e);
    int64_t count = 0;
    while (true) {
      std::optional<Batch> x = a.next(), y = b.next();
      ASSERT_EQ(x.has_value(), y.has_value());
      if (!x) break;
      ++count;
      ASSERT_EQ(x->size, y->size);
      ASSERT_EQ(x->index, y->index);
      EXPECT_EQ(x->inputs.shape(), y->inputs.shape());
      EXPECT_EQ(x->inputs.memory_format(), y->inputs.memory_format());
      EXPECT_EQ(x->inputs.to_vector<float>(), y->inputs.to_vector<float>());
      EXPECT_EQ(x->labels.to_vector<int32_t>(), y->labels.to_vector<int32_t>());
    }
    EXPECT_EQ(count, a.batches_per_epoch());
  }
}

TEST(ResidentLoader, MatchesTheThreadedLoader) {
  const Dataset d = images(37);
  for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
    for (bool drop_last : {false, true}) {
      DataLoaderOptions o;
      o.batch_size = 8;
      o.seed = 3;
      o.format = format;
      o.drop_last = drop_last;
      o.num_workers = 2;
      DataLoader threaded(d, o);
      ResidentLoader resident(d, o);
      EXPECT_EQ(resident.batches_per_epoch(), drop_last ? 4 : 5);
      expect_same_epochs(threaded, resident, 3);
    }
  }
}

TEST(ResidentLoader, FixedBuffersAndNoAllocationPerBatch) {
  const Dataset d = images(64);
  DataLoaderOptions o;
  o.batch_size = 16;
  ResidentLoader loader(d, o);
  loader.start_epoch(0);
  const void* first = loader.next()->inputs.data();
  const int64_t before = cpu_allocator().stats().n_allocations;
  while (std::optional<Batch> b = loader.next()) EXPECT_EQ(b->inputs.data(), first);
  loader.start_epoch(1);
  while (std::optional<Batch> b = loader.next()) EXPECT_EQ(b->inputs.data(), first);
  EXPECT_EQ(cpu_allocator().stats().n_allocations, before);
  EXPECT_GT(loader.device_bytes(), d.inputs.n_bytes());
}

TEST(ResidentLoader, RejectsBadOptions) {
  const Dataset d = images(4);
  DataLoaderOptions o;
  o.batch_size = 0;
  EXPECT_THROW(ResidentLoader(d, o), InvalidArgument);
}

}  // namespace
}  // namespace sprint::data
