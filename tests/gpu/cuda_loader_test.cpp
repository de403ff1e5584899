// cuda_loader_test.cpp: the CUDA batch sources deliver the CPU DataLoader's batches for the same options and seed:
// the threaded DataLoader with device = cuda (pinned staging + copy stream) and the ResidentLoader, for u8 images
// (1, 3 and 4 channels; f32 / f16 / bf16; NCHW / NHWC) and f32 feature data, with and without shuffling and
// drop_last, over two epochs and an epoch abandoned half-way. Same order, same labels, same values: bit for bit,
// except the resident path's float affine form for more than 3 channels (within 1e-6).
#include <gtest/gtest.h>

#include <optional>

#include "gpu/gpu_test_util.h"
#include "sprint/data/loader.h"
#include "sprint/data/resident_loader.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

data::Dataset images(int64_t n, int64_t channels) {
  data::Dataset d;
  d.name = "images";
  d.inputs = Tensor::empty({n, channels, 5, 6}, DType::kU8);
  d.labels = Tensor::empty({n}, DType::kI32);
  uint8_t* p = d.inputs.data_as<uint8_t>();
  for (int64_t i = 0; i < d.inputs.numel(); ++i) p[i] = static_cast<uint8_t>((i * 53 + i / 11) % 256);
  for (int64_t i = 0; i < n; ++i) d.labels.data_as<int32_t>()[i] = static_cast<int32_t>((i * 3 + i / 5) % 10);
  const float mean[] = {0.4914f, 0.4822f, 0.4465f, 0.5f}, std[] = {0.2470f, 0.2435f, 0.2616f, 0.3f};
  d.mean.assign(mean, mean + channels);
  d.std.assign(std, std + channels);
  return d;
}

class CudaLoaderTest : public CudaTest {
 protected:
  /// Pulls both sources through `epochs` epochs (and, at the end, half an epoch abandoned by start_epoch) and
  /// compares every batch. rtol 0: bit for bit.
  void expect_same_batches(data::BatchSource& cpu, data::BatchSource& gpu, double rtol = 0.0) {
    ASSERT_EQ(gpu.batches_per_epoch(), cpu.batches_per_epoch());
    auto compare_epoch = [&](int64_t epoch, int64_t max_batches) {
      cpu.start_epoch(epoch);
      gpu.start_epoch(epoch);
      for (int64_t b = 0; b < max_batches; ++b) {
        SCOPED_TRACE(::testing::Message() << "epoch " << epoch << " batch " << b);
        std::optional<data::Batch> x = cpu.next(), y = gpu.next();
        ASSERT_EQ(y.has_value(), x.has_value());
        if (!x) return;
        EXPECT_EQ(y->index, x->index);
        ASSERT_EQ(y->size, x->size);
        ASSERT_TRUE(y->inputs.device().is_cuda());
        ASSERT_EQ(y->inputs.shape(), x->inputs.shape());
        EXPECT_EQ(y->inputs.dtype(), x->inputs.dtype());
        if (x->inputs.ndim() == 4) {
          EXPECT_EQ(y->inputs.memory_format(), x->inputs.memory_format());
        }
        EXPECT_EQ(values<int32_t>(y->labels), x->labels.to_vector<int32_t>());
        if (rtol == 0.0) {
          EXPECT_EQ(values<float>(y->inputs), x->inputs.to_vector<float>());  // logical order
        } else {
          EXPECT_TRUE(all_close(y->inputs, x->inputs, rtol, rtol));
        }
      }
    };
    const int64_t all = cpu.batches_per_epoch() + 1;  // one more next(): both must end the epoch
    compare_epoch(0, all);
    compare_epoch(1, all);
    compare_epoch(2, cpu.batches_per_epoch() / 2);  // abandoned half-way ...
    compare_epoch(3, all);                          // ... and the next epoch starts cleanly
  }
};

TEST_F(CudaLoaderTest, DataLoaderOnCudaEqualsTheCpuLoader) {
  for (int64_t channels : {1, 3})
    for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16})
      for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast})
        for (int workers : {0, 2}) {
          SCOPED_TRACE(::testing::Message() << channels << " channels, " << dtype_name(dtype) << ", "
                                            << (format == MemoryFormat::kContiguous ? "nchw" : "nhwc") << ", "
                                            << workers << " workers");
          const data::Dataset d = images(53, channels);
          data::DataLoaderOptions o;
          o.batch_size = 16;
          o.seed = 9;
          o.dtype = dtype;
          o.format = format;
          o.num_workers = workers;
          data::DataLoader cpu_loader(d, o);
          o.device = cuda_device(0);
          data::DataLoader gpu_loader(d, o);
          expect_same_batches(cpu_loader, gpu_loader);
        }
}

TEST_F(CudaLoaderTest, FeatureDataOnBothCudaSources) {
  const data::Dataset d = data::make_random_dataset(77, 12, 4, 5);
  for (bool shuffle : {true, false})
    for (bool drop_last : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "shuffle " << shuffle << ", drop_last " << drop_last);
      data::DataLoaderOptions o;
      o.batch_size = 10;
      o.seed = 4;
      o.shuffle = shuffle;
      o.drop_last = drop_last;
      o.num_workers = 1;
      data::DataLoaderOptions on_gpu = o;
      on_gpu.device = cuda_device(0);
      data::DataLoader cpu_loader(d, o), gpu_loader(d, on_gpu);
      expect_same_batches(cpu_loader, gpu_loader);
      data::DataLoader cpu_again(d, o);
      data::ResidentLoader resident(d, on_gpu);
      expect_same_batches(cpu_again, resident);
    }
}

TEST_F(CudaLoaderTest, ResidentImagesWithoutShuffleAndWithDropLast) {
  const data::Dataset d = images(50, 3);
  data::DataLoaderOptions o;
  o.batch_size = 8;
  o.shuffle = false;
  o.drop_last = true;
  o.format = MemoryFormat::kChannelsLast;
  data::DataLoader cpu_loader(d, o);
  o.device = cuda_device(0);
  data::ResidentLoader resident(d, o);
  EXPECT_EQ(resident.batches_per_epoch(), 6);
  expect_same_batches(cpu_loader, resident);
}

// Beyond 3 channels the resident kernel normalises with x · scale + shift in float instead of the CPU's table
// (float rounding, with cancellation near the mean: compared within 1e-6 absolute).
TEST_F(CudaLoaderTest, ResidentImagesWithFourChannelsWithinFloatRounding) {
  const data::Dataset d = images(37, 4);
  for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
    data::DataLoaderOptions o;
    o.batch_size = 12;
    o.seed = 2;
    o.format = format;
    data::DataLoader cpu_loader(d, o);
    o.device = cuda_device(0);
    data::ResidentLoader resident(d, o);
    expect_same_batches(cpu_loader, resident, 1e-6);
  }
}

}  // namespace
}  // namespace sprint::testing
