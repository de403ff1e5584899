// loader_test.cpp: DataLoader on the CPU: identical batches for any num_workers / prefetch, each sample once
// per epoch, order a function of (seed, epoch), drop_last and the short last batch, normalised values and
// layouts, exception propagation from workers, destruction mid-epoch, no allocations in steady state, and the
// data-parallel shards of every global batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "sprint/core/error.h"
#include "sprint/data/loader.h"
#include "sprint/data/resident_loader.h"
#include "sprint/ops/data.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::data {
namespace {

// Feature data whose row i is (i, -i, 0.5 i): a batch row names its sample.
Dataset id_dataset(int64_t n, int64_t classes = 10) {
  Dataset d;
  d.name = "ids";
  d.inputs = Tensor::empty({n, 3}, DType::kF32);
  d.labels = Tensor::empty({n}, DType::kI32);
  for (int64_t i = 0; i < n; ++i) {
    float* row = d.inputs.data_as<float>() + i * 3;
    row[0] = static_cast<float>(i);
    row[1] = -static_cast<float>(i);
    row[2] = 0.5f * static_cast<float>(i);
    d.labels.data_as<int32_t>()[i] = static_cast<int32_t>(i % classes);
  }
  d.num_classes = classes;
  return d;
}

// u8 images (N, 3, 4, 5) with per-channel constants.
Dataset image_dataset(int64_t n) {
  Dataset d;
  d.name = "images";
  d.inputs = Tensor::empty({n, 3, 4, 5}, DType::kU8);
  d.labels = Tensor::empty({n}, DType::kI32);
  uint8_t* p = d.inputs.data_as<uint8_t>();
  for (int64_t i = 0; i < d.inputs.numel(); ++i) p[i] = static_cast<uint8_t>((i * 29 + i / 60) % 256);
  for (int64_t i = 0; i < n; ++i) d.labels.data_as<int32_t>()[i] = static_cast<int32_t>((i * 3) % 10);
  d.mean = {0.5f, 0.25f, 0.125f};
  d.std = {0.2f, 0.3f, 0.4f};
  return d;
}

struct EpochData {
  std::vector<std::vector<float>> inputs;
  std::vector<std::vector<int32_t>> labels;
  std::vector<int64_t> sizes;
};

EpochData run_epoch(DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  EpochData e;
  int64_t expected_index = 0;
  while (std::optional<Batch> b = loader.next()) {
    EXPECT_EQ(b->index, expected_index++);
    EXPECT_EQ(b->inputs.dim(0), b->size);
    EXPECT_EQ(b->labels.dim(0), b->size);
    e.inputs.push_back(b->inputs.to_vector<float>());
    e.labels.push_back(b->labels.to_vector<int32_t>());
    e.sizes.push_back(b->size);
  }
  EXPECT_EQ(static_cast<int64_t>(e.sizes.size()), loader.batches_per_epoch());
  EXPECT_FALSE(loader.next().has_value()) << "stays at the end";
  return e;
}

// Sample ids of an epoch of id_dataset, in order.
std::vector<int64_t> ids_of(const EpochData& e) {
  std::vector<int64_t> ids;
  for (const auto& batch : e.inputs)
    for (size_t r = 0; r < batch.size(); r += 3) ids.push_back(static_cast<int64_t>(batch[r]));
  return ids;
}

DataLoaderOptions options(int64_t batch, int workers, int prefetch, uint64_t seed = 5) {
  DataLoaderOptions o;
  o.batch_size = batch;
  o.num_workers = workers;
  o.prefetch = prefetch;
  o.seed = seed;
  return o;
}

TEST(DataLoader, IdenticalBatchesForAnyWorkersAndPrefetch) {
  const Dataset ids = id_dataset(1003);
  const Dataset images = image_dataset(203);
  DataLoader reference_ids(ids, options(64, 0, 1));
  DataLoader reference_images(images, options(16, 0, 1));
  const EpochData want_ids = run_epoch(reference_ids, 3);
  const EpochData want_images = run_epoch(reference_images, 3);
  for (int workers : {0, 1, 3})
    for (int prefetch : {1, 4}) {
      SCOPED_TRACE(::testing::Message() << workers << " workers, prefetch " << prefetch);
      DataLoader a(ids, options(64, workers, prefetch));
      const EpochData got = run_epoch(a, 3);
      EXPECT_EQ(got.inputs, want_ids.inputs);
      EXPECT_EQ(got.labels, want_ids.labels);
      DataLoader b(images, options(16, workers, prefetch));
      const EpochData got_images = run_epoch(b, 3);
      EXPECT_EQ(got_images.inputs, want_images.inputs);
      EXPECT_EQ(got_images.labels, want_images.labels);
    }
}

TEST(DataLoader, EachSampleExactlyOncePerEpochWithMatchingLabels) {
  const Dataset ds = id_dataset(1000);
  DataLoader loader(ds, options(64, 2, 2));
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    const EpochData e = run_epoch(loader, epoch);
    std::vector<int64_t> ids = ids_of(e);
    // Labels travel with their samples.
    size_t k = 0;
    for (const auto& batch : e.labels)
      for (int32_t label : batch) EXPECT_EQ(label, ids[k++] % 10);
    std::sort(ids.begin(), ids.end());
    std::vector<int64_t> all(1000);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(ids, all) << "epoch " << epoch;
  }
}

TEST(DataLoader, OrderDependsOnlyOnSeedAndEpoch) {
  const Dataset ds = id_dataset(500);
  DataLoader a(ds, options(50, 1, 2, 11));
  DataLoader b(ds, options(50, 2, 3, 11));
  DataLoader c(ds, options(50, 1, 2, 12));
  const std::vector<int64_t> a0 = ids_of(run_epoch(a, 0));
  const std::vector<int64_t> a1 = ids_of(run_epoch(a, 1));
  EXPECT_NE(a0, a1) << "different epochs, different order";
  const std::vector<int64_t> b1 = ids_of(run_epoch(b, 1));
  const std::vector<int64_t> b0 = ids_of(run_epoch(b, 0));
  EXPECT_EQ(a0, b0) << "same (seed, epoch), same order, whatever came before";
  EXPECT_EQ(a1, b1);
  EXPECT_NE(ids_of(run_epoch(c, 0)), a0) << "different seed";
  EXPECT_EQ(ids_of(run_epoch(a, 0)), a0) << "repeatable";
  // shuffle = false keeps the dataset order.
  DataLoaderOptions o = options(64, 1, 2);
  o.shuffle = false;
  DataLoader plain(ds, o);
  std::vector<int64_t> all(500);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(ids_of(run_epoch(plain, 7)), all);
}

TEST(DataLoader, StartEpochAtABatchGivesTheRestOfTheFullEpoch) {
  const Dataset ds = id_dataset(1003);
  DataLoader full(ds, options(64, 2, 2));
  const EpochData want = run_epoch(full, 4);
  for (int workers : {0, 2})
    for (int64_t first : {int64_t{1}, int64_t{7}, int64_t{15}, full.batches_per_epoch()}) {
      SCOPED_TRACE(::testing::Message() << workers << " workers, from batch " << first);
      DataLoader resumed(ds, options(64, workers, 2));
      resumed.start_epoch(4, first);
      int64_t index = first;
      while (std::optional<Batch> b = resumed.next()) {
        EXPECT_EQ(b->index, index);
        EXPECT_EQ(b->inputs.to_vector<float>(), want.inputs[static_cast<size_t>(index)]);
        ++index;
      }
      EXPECT_EQ(index, full.batches_per_epoch());
    }
  EXPECT_THROW(full.start_epoch(0, full.batches_per_epoch() + 1), InvalidArgument);
  EXPECT_THROW(full.start_epoch(0, -1), InvalidArgument);
  // The resident loader skips the same way.
  ResidentLoader resident(ds, options(64, 0, 1));
  resident.start_epoch(4, 7);
  std::optional<Batch> b = resident.next();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->index, 7);
  EXPECT_EQ(b->inputs.to_vector<float>(), want.inputs[7]);
}

TEST(DataLoader, NextBeforeStartEpochIsEpochZero) {
  const Dataset ds = id_dataset(100);
  DataLoader a(ds, options(30, 1, 2));
  std::vector<int64_t> implicit;
  while (std::optional<Batch> b = a.next()) {
    const std::vector<float> v = b->inputs.to_vector<float>();
    for (size_t r = 0; r < v.size(); r += 3) implicit.push_back(static_cast<int64_t>(v[r]));
  }
  DataLoader b(ds, options(30, 1, 2));
  EXPECT_EQ(implicit, ids_of(run_epoch(b, 0)));
}

TEST(DataLoader, ShortLastBatchAndDropLast) {
  const Dataset ds = id_dataset(100);
  DataLoader keep(ds, options(32, 1, 2));
  EXPECT_EQ(keep.batches_per_epoch(), 4);
  const EpochData e = run_epoch(keep, 0);
  EXPECT_EQ(e.sizes, (std::vector<int64_t>{32, 32, 32, 4}));
  DataLoaderOptions o = options(32, 2, 2);
  o.drop_last = true;
  DataLoader drop(ds, o);
  EXPECT_EQ(drop.batches_per_epoch(), 3);
  const EpochData d = run_epoch(drop, 0);
  EXPECT_EQ(d.sizes, (std::vector<int64_t>{32, 32, 32}));
  std::vector<int64_t> ids = ids_of(d);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "no sample twice";
  DataLoader exact(ds, options(25, 1, 2));
  EXPECT_EQ(run_epoch(exact, 0).sizes, (std::vector<int64_t>{25, 25, 25, 25}));
  DataLoaderOptions big = options(1000, 1, 2);
  big.drop_last = true;
  DataLoader none(ds, big);
  EXPECT_EQ(none.batches_per_epoch(), 0);
  none.start_epoch(0);
  EXPECT_FALSE(none.next().has_value());
}

TEST(DataLoader, NormalisesImagesInEveryLayoutAndDtype) {
  const Dataset ds = image_dataset(40);
  DataLoaderOptions o = options(16, 1, 2);
  o.shuffle = false;
  DataLoader plain(ds, o);
  plain.start_epoch(0);
  std::optional<Batch> b = plain.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->inputs.shape(), (Shape{16, 3, 4, 5}));
  EXPECT_TRUE(b->inputs.is_contiguous());
  EXPECT_EQ(b->inputs.dtype(), DType::kF32);
  const std::vector<float> v = b->inputs.to_vector<float>();
  const uint8_t* raw = ds.inputs.data_as<uint8_t>();
  for (size_t i = 0; i < v.size(); ++i) {
    const size_t c = (i / 20) % 3;
    const float want = static_cast<float>((raw[i] / 255.0 - ds.mean[c]) / ds.std[c]);
    ASSERT_EQ(v[i], want) << i;
  }
  o.format = MemoryFormat::kChannelsLast;
  o.dtype = DType::kBF16;
  DataLoader nhwc(ds, o);
  nhwc.start_epoch(0);
  std::optional<Batch> c = nhwc.next();
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->inputs.is_channels_last());
  EXPECT_EQ(c->inputs.dtype(), DType::kBF16);
  const std::vector<float> w = c->inputs.to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(w[i], bf16_to_float(bf16_from_float(v[i]))) << i;
  // The short last batch of a channels-last loader is still channels-last.
  std::optional<Batch> last;
  while (std::optional<Batch> x = nhwc.next()) last = x;
  ASSERT_TRUE(last);
  EXPECT_EQ(last->size, 8);
  EXPECT_TRUE(last->inputs.is_channels_last());
}

TEST(DataLoader, SubsetViews) {
  const Dataset all = id_dataset(300);
  const Dataset part = subset(all, 100, 50);
  DataLoaderOptions o = options(16, 2, 2);
  DataLoader loader(part, o);
  std::vector<int64_t> ids = ids_of(run_epoch(loader, 0));
  std::sort(ids.begin(), ids.end());
  std::vector<int64_t> want(50);
  std::iota(want.begin(), want.end(), 100);
  EXPECT_EQ(ids, want);
}

TEST(DataLoader, WorkerExceptionIsRethrownByNext) {
  for (int workers : {0, 1, 3}) {
    SCOPED_TRACE(::testing::Message() << workers << " workers");
    Dataset ds = id_dataset(100);
    ds.labels.data_as<int32_t>()[37] = 99;  // outside [0, 10)
    DataLoaderOptions o = options(10, workers, 3);
    o.shuffle = false;
    DataLoader loader(ds, o);
    loader.start_epoch(0);
    for (int b = 0; b < 3; ++b) ASSERT_TRUE(loader.next().has_value()) << "batch " << b << " is fine";
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        loader.next();
        ADD_FAILURE() << "expected the worker's exception";
      } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("label 99 of sample 37 is out of range [0, 10)"),
                  std::string::npos)
            << e.what();
      }
    }
    ds.labels.data_as<int32_t>()[37] = 7;  // repaired: a new epoch works again
    const EpochData e = run_epoch(loader, 1);
    EXPECT_EQ(e.sizes.size(), 10u);
  }
}

TEST(DataLoader, DestructionMidEpochJoinsCleanly) {
  const Dataset ds = id_dataset(5000);
  for (int workers : {1, 4}) {
    {
      DataLoader loader(ds, options(8, workers, 4));
      loader.start_epoch(0);
      ASSERT_TRUE(loader.next());
      ASSERT_TRUE(loader.next());
    }  // workers are blocked on full slots here
    { DataLoader never_started(ds, options(8, workers, 4)); }
    {
      DataLoader restarted(ds, options(8, workers, 4));
      restarted.start_epoch(0);
      restarted.next();
      restarted.start_epoch(1);  // abandons epoch 0 mid-way
      const std::vector<int64_t> ids = ids_of(run_epoch(restarted, 1));
      EXPECT_EQ(ids.size(), 5000u);
    }
  }
}

TEST(DataLoader, NoAllocationsInSteadyState) {
  const Dataset images = image_dataset(300);
  for (int workers : {0, 2}) {
    SCOPED_TRACE(::testing::Message() << workers << " workers");
    DataLoader loader(images, options(32, workers, 2));
    const int64_t before = cpu_allocator().stats().n_allocations;
    for (int64_t epoch = 0; epoch < 3; ++epoch) {
      loader.start_epoch(epoch);
      int64_t n = 0;
      while (std::optional<Batch> b = loader.next()) n += b->size;
      EXPECT_EQ(n, 300);
    }
    EXPECT_EQ(cpu_allocator().stats().n_allocations, before) << "no tensor allocation per batch or epoch";
  }
}

// A batch size beyond the data set gives one batch of N samples, and the loader's buffers hold N rows, not
// batch_size rows (a 10-sample set with batch 10^6 would otherwise reserve 3 x 240 MB here).
TEST(DataLoader, BatchLargerThanTheDataSetCostsOnlyTheDataSet) {
  const Dataset images = image_dataset(10);
  const int64_t before = cpu_allocator().stats().allocated_bytes;
  DataLoader loader(images, options(1000000, 1, 2));
  EXPECT_LT(cpu_allocator().stats().allocated_bytes - before, int64_t{1} << 20);
  loader.start_epoch(0);
  std::optional<Batch> b = loader.next();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->size, 10);
  EXPECT_EQ(b->inputs.dim(0), 10);
  EXPECT_FALSE(loader.next().has_value());
  const int64_t resident_before = cpu_allocator().stats().allocated_bytes;
  DataLoaderOptions o = options(1000000, 0, 1);
  ResidentLoader resident(images, o);
  EXPECT_LT(cpu_allocator().stats().allocated_bytes - resident_before, int64_t{1} << 20);
  std::optional<Batch> r = resident.next();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->inputs.to_vector<float>(), b->inputs.to_vector<float>());
}

TEST(DataLoader, InvalidOptions) {
  const Dataset ds = id_dataset(10);
  DataLoaderOptions o = options(0, 1, 2);
  EXPECT_THROW(DataLoader(ds, o), InvalidArgument);
  o = options(4, 1, 0);
  EXPECT_THROW(DataLoader(ds, o), InvalidArgument);
  o = options(4, -1, 2);
  EXPECT_THROW(DataLoader(ds, o), InvalidArgument);
  o = options(4, 1, 2);
  o.format = MemoryFormat::kChannelsLast;
  EXPECT_THROW(DataLoader(ds, o), InvalidArgument);  // feature data has no channels
  o = options(4, 1, 2);
  o.dtype = DType::kI32;
  EXPECT_THROW(DataLoader(ds, o), InvalidArgument);
  Dataset images = image_dataset(10);
  images.mean = {0.5f};
  EXPECT_THROW(DataLoader(images, options(4, 1, 2)), InvalidArgument);
}

TEST(DataLoader, CudaDeviceWithoutCudaGivesAClearError) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  const Dataset ds = id_dataset(10);
  DataLoaderOptions o = options(4, 1, 2);
  o.device = cuda_device(0);
  EXPECT_THROW(DataLoader(ds, o), Error);
}

// Data parallelism: two sharded loaders (batch B each) hand out, batch by batch, the two halves of what one
// loader with batch 2B hands out: the same global order, the short last batch split evenly.
TEST(DataLoader, ShardsSplitEveryGlobalBatch) {
  const Dataset ds = id_dataset(1000);  // 1000 = 15 x 64 + 40: a short last global batch
  DataLoader whole(ds, options(64, 2, 2));
  const EpochData all = run_epoch(whole, 3);
  std::vector<EpochData> parts;
  for (int r = 0; r < 2; ++r) {
    DataLoaderOptions o = options(32, r == 0 ? 0 : 2, 2);
    o.shard = {r, 2};
    DataLoader part(ds, o);
    EXPECT_EQ(part.batches_per_epoch(), whole.batches_per_epoch());
    parts.push_back(run_epoch(part, 3));
  }
  for (size_t b = 0; b < all.sizes.size(); ++b) {
    SCOPED_TRACE(b);
    EXPECT_EQ(parts[0].sizes[b] + parts[1].sizes[b], all.sizes[b]);
    EXPECT_EQ(parts[0].sizes[b], all.sizes[b] / 2);
    std::vector<float> joined = parts[0].inputs[b];
    joined.insert(joined.end(), parts[1].inputs[b].begin(), parts[1].inputs[b].end());
    EXPECT_EQ(joined, all.inputs[b]);
  }
  // The resident loader shards the same way.
  DataLoaderOptions o = options(32, 0, 1);
  o.shard = {1, 2};
  ResidentLoader resident(ds, o);
  resident.start_epoch(3);
  for (size_t b = 0; b < all.sizes.size(); ++b) {
    std::optional<Batch> batch = resident.next();
    ASSERT_TRUE(batch.has_value());
    EXPECT_EQ(batch->inputs.to_vector<float>(), parts[1].inputs[b]) << b;
  }
}

TEST(DataLoader, ShardsThatCannotShareTheLastBatchAreAnError) {
  const Dataset ds = id_dataset(65);  // one sample left for two ranks of batch 32
  DataLoaderOptions o = options(32, 0, 1);
  o.shard = {0, 2};
  EXPECT_THROW(DataLoader(ds, o), InvalidArgument);
  o.drop_last = true;
  EXPECT_EQ(DataLoader(ds, o).batches_per_epoch(), 1);
  o.shard = {2, 2};
  EXPECT_THROW(DataLoader(ds, o), InvalidArgument);
}

}  // namespace
}  // namespace sprint::data
