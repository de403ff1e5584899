// resident_data_test.cpp: the GPU-resident data path gives exactly the CPU DataLoader's batches: same order, and
// the same normalised values bit for bit (the kernel looks pixels up in the CPU's table), in both layouts and for
// f32, f16 and bf16 inputs; with a training augmentation too.
#include <gtest/gtest.h>

#include "gpu_test_util.h"
#include "sprint/data/loader.h"
#include "sprint/data/resident_loader.h"

namespace sprint::testing {
namespace {

data::Dataset images(int64_t n, int64_t channels) {
  data::Dataset d;
  d.name = "images";
  d.inputs = Tensor::empty({n, channels, 6, 5}, DType::kU8);
  d.labels = Tensor::empty({n}, DType::kI32);
  uint8_t* p = d.inputs.data_as<uint8_t>();
  for (int64_t i = 0; i < d.inputs.numel(); ++i) p[i] = static_cast<uint8_t>((i * 37 + i / 7) % 256);
  for (int64_t i = 0; i < n; ++i) d.labels.data_as<int32_t>()[i] = static_cast<int32_t>((i * 7) % 10);
  // FashionMNIST's and CIFAR-10's statistics: values whose float affine form is not always the table's.
  if (channels == 1) {
    d.mean = {0.2860f};
    d.std = {0.3530f};
  } else {
    d.mean = {0.4914f, 0.4822f, 0.4465f};
    d.std = {0.2470f, 0.2435f, 0.2616f};
  }
  return d;
}

class ResidentDataTest : public CudaTest {
 protected:
  /// Runs `epochs` epochs of a CPU DataLoader and a ResidentLoader with options `o` and expects equal batches.
  void expect_same_batches(const data::Dataset& d, data::DataLoaderOptions o, int64_t epochs) {
    data::DataLoader cpu_loader(d, o);
    o.device = cuda_device(0);
    data::ResidentLoader gpu_loader(d, o);
    for (int64_t epoch = 0; epoch < epochs; ++epoch) {
      cpu_loader.start_epoch(epoch);
      gpu_loader.start_epoch(epoch);
      while (true) {
        std::optional<data::Batch> x = cpu_loader.next(), y = gpu_loader.next();
        ASSERT_EQ(x.has_value(), y.has_value());
        if (!x) break;
        ASSERT_EQ(x->size, y->size);
        EXPECT_EQ(y->inputs.memory_format(), o.format);
        // Logical order, converted to float: exact for f16/bf16 too, so equal floats mean equal bits.
        EXPECT_EQ(values<float>(y->inputs), x->inputs.to_vector<float>());
        EXPECT_EQ(values<int32_t>(y->labels), x->labels.to_vector<int32_t>());
      }
    }
  }
};

const char* format_name(MemoryFormat format) { return format == MemoryFormat::kContiguous ? "nchw" : "nhwc"; }

TEST_F(ResidentDataTest, BatchesEqualTheCpuLoaderBitForBit) {
  for (int64_t channels : {1, 3}) {
    const data::Dataset d = images(53, channels);
    for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
      for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
        SCOPED_TRACE(::testing::Message() << channels << " channels, " << dtype_name(dtype) << ", "
                                          << format_name(format));
        expect_same_batches(d, {.batch_size = 16, .seed = 5, .dtype = dtype, .format = format}, 2);
      }
    }
  }
}

// The training augmentation runs in the gather kernel from (seed, epoch, sample): the same values as the CPU
// loader's fast path, bit for bit, for every mode, both layouts and over several epochs (alternating flips).
TEST_F(ResidentDataTest, AugmentedBatchesEqualTheCpuLoaderBitForBit) {
  const std::vector<data::AugmentOptions> settings = {
      {.crop_padding = 2, .crop_pad_mode = CropPadMode::kReflect, .flip = FlipMode::kAlternating, .cutout = 3},
      {.crop_padding = 4, .crop_pad_mode = CropPadMode::kZero, .flip = FlipMode::kRandom},
      {.cutout = 8}};
  for (int64_t channels : {1, 3}) {
    const data::Dataset d = images(53, channels);
    for (const data::AugmentOptions& aug : settings)
      for (DType dtype : {DType::kF32, DType::kBF16})
        for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
          SCOPED_TRACE(::testing::Message() << channels << " channels, " << aug.describe() << ", "
                                            << dtype_name(dtype) << ", " << format_name(format));
          expect_same_batches(d, {.batch_size = 16, .seed = 5, .dtype = dtype, .format = format, .augment = aug}, 3);
        }
  }
}

}  // namespace
}  // namespace sprint::testing
