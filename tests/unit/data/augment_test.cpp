// augment_test.cpp: training augmentation. The oracle (cpu::ref::augment_sample) against hand-computed numpy.pad
// results; the loader (fast CPU path) against the oracle in every dtype and layout; the draws: translations within
// ±r covering every value, alternating flips, cutout areas; the same batches for any num_workers; no change at all
// when augmentation is off; and the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "sprint/core/error.h"
#include "sprint/data/augment.h"
#include "sprint/data/loader.h"
#include "sprint/data/sampler.h"
#include "sprint/ops/data.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::data {
namespace {

// ------------------------------------------------------------------------------------------------------------
// The oracle, by hand
// ------------------------------------------------------------------------------------------------------------

// One channel, 3 x 4: value = 4y + x.
const std::vector<double> kImage = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

std::vector<double> oracle(const ImageAugment& a, const SampleAugment& s, const std::vector<double>& in = kImage,
                           int64_t c = 1, int64_t h = 3, int64_t w = 4) {
  std::vector<double> out(in.size(), -1.0);
  cpu::ref::augment_sample(in, out, c, h, w, a, s);
  return out;
}

// numpy: np.pad(x, 2, mode='reflect')[1 + 2 : 1 + 2 + 3, -2 + 2 : -2 + 2 + 4] (shift y +1, x -2).
TEST(AugmentOracle, ReflectBorderIsNumpyPadReflect) {
  const ImageAugment a{.crop_padding = 2, .pad_mode = CropPadMode::kReflect};
  EXPECT_EQ(oracle(a, {.shift_y = 1, .shift_x = -2}),
            (std::vector<double>{6, 5, 4, 5, 10, 9, 8, 9, 6, 5, 4, 5}));
  EXPECT_EQ(oracle(a, {.shift_y = -2, .shift_x = 2}),
            (std::vector<double>{10, 11, 10, 9, 6, 7, 6, 5, 2, 3, 2, 1}));
  EXPECT_EQ(oracle(a, {}), kImage);
}

// numpy: np.pad(x, 2, mode='constant') cropped the same way.
TEST(AugmentOracle, ZeroBorderIsNumpyPadConstant) {
  const ImageAugment a{.crop_padding = 2, .pad_mode = CropPadMode::kZero};
  EXPECT_EQ(oracle(a, {.shift_y = 1, .shift_x = -2}), (std::vector<double>{0, 0, 4, 5, 0, 0, 8, 9, 0, 0, 0, 0}));
  EXPECT_EQ(oracle(a, {.shift_y = -1, .shift_x = 1}), (std::vector<double>{0, 0, 0, 0, 1, 2, 3, 0, 5, 6, 7, 0}));
}

// The flip comes first: x[:, ::-1], then the padded crop.
TEST(AugmentOracle, FlipThenTranslate) {
  const ImageAugment a{.crop_padding = 2, .pad_mode = CropPadMode::kReflect};
  EXPECT_EQ(oracle(a, {.flip = true}), (std::vector<double>{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8}));
  EXPECT_EQ(oracle(a, {.shift_y = 1, .shift_x = -2, .flip = true}),
            (std::vector<double>{5, 6, 7, 6, 9, 10, 11, 10, 5, 6, 7, 6}));
}

// A 3 x 3 square centred at (0, 0) covers rows/columns [-1, 2): 2 x 2 pixels remain; centred inside, all 9.
TEST(AugmentOracle, CutoutZeroesTheClippedSquare) {
  const ImageAugment a{.cutout = 3};
  std::vector<double> ones(2 * 5 * 6, 1.0);
  auto zeros = [](const std::vector<double>& v) { return std::count(v.begin(), v.end(), 0.0); };
  EXPECT_EQ(zeros(oracle(a, {.cut_y = -1, .cut_x = -1}, ones, 2, 5, 6)), 2 * 4);
  EXPECT_EQ(zeros(oracle(a, {.cut_y = 1, .cut_x = 2}, ones, 2, 5, 6)), 2 * 9);
  EXPECT_EQ(zeros(oracle(a, {.cut_y = 4, .cut_x = 5}, ones, 2, 5, 6)), 2 * 1);
  const std::vector<double> v = oracle(a, {.cut_y = -1, .cut_x = -1}, ones, 2, 5, 6);
  EXPECT_EQ(v[0], 0.0);
  EXPECT_EQ(v[7], 0.0);   // (1, 1)
  EXPECT_EQ(v[2], 1.0);   // (0, 2)
  EXPECT_EQ(v[12], 1.0);  // (2, 0)
}

TEST(AugmentOracle, RejectsShiftsBeyondThePadding) {
  std::vector<double> out(kImage.size());
  EXPECT_THROW(cpu::ref::augment_sample(kImage, out, 1, 3, 4, {.crop_padding = 1}, {.shift_y = 2}), InvalidArgument);
}

// The per-pixel source map (what the CUDA kernel uses) equals the oracle for every draw of a few samples.
TEST(AugmentOracle, SourcePixelMapMatchesTheOracle) {
  for (CropPadMode mode : {CropPadMode::kReflect, CropPadMode::kZero}) {
    const ImageAugment a{.crop_padding = 2, .pad_mode = mode, .flip = FlipMode::kRandom, .cutout = 2, .seed = 9};
    for (int64_t sample = 0; sample < 40; ++sample) {
      const SampleAugment s = augment_draw(a, sample, 3, 4);
      std::vector<double> in(kImage);
      for (double& v : in) v += 1.0;  // no zero in the image
      const std::vector<double> expected = oracle(a, s, in);
      for (int64_t y = 0; y < 3; ++y)
        for (int64_t x = 0; x < 4; ++x) {
          const int64_t p = augment_source_pixel(a, s, y, x, 3, 4);
          EXPECT_EQ(p < 0 ? 0.0 : in[static_cast<size_t>(p)], expected[static_cast<size_t>(y * 4 + x)]);
        }
    }
  }
}

// ------------------------------------------------------------------------------------------------------------
// Loader
// ------------------------------------------------------------------------------------------------------------

// u8 images (N, C, H, W), no pixel 0 so that a normalised 0 only comes from a zero border or the cutout when the
// mean is 0.
Dataset images(int64_t n, int64_t c, int64_t h, int64_t w, bool zero_mean = false) {
  Dataset d;
  d.name = "images";
  d.inputs = Tensor::empty({n, c, h, w}, DType::kU8);
  d.labels = Tensor::empty({n}, DType::kI32);
  uint8_t* p = d.inputs.data_as<uint8_t>();
  for (int64_t i = 0; i < d.inputs.numel(); ++i) p[i] = static_cast<uint8_t>(1 + (i * 37 + i / 11) % 255);
  for (int64_t i = 0; i < n; ++i) d.labels.data_as<int32_t>()[i] = static_cast<int32_t>(i % 10);
  for (int64_t k = 0; k < c; ++k) {
    d.mean.push_back(zero_mean ? 0.0f : 0.1f * static_cast<float>(k + 1));
    d.std.push_back(0.2f + 0.05f * static_cast<float>(k));
  }
  return d;
}

struct Batches {
  std::vector<std::vector<double>> inputs;
  std::vector<std::vector<int32_t>> labels;
};

Batches epoch_batches(DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  Batches b;
  while (std::optional<Batch> batch = loader.next()) {
    b.inputs.push_back(batch->inputs.to_vector<double>());
    b.labels.push_back(batch->labels.to_vector<int32_t>());
  }
  return b;
}

// The epoch's batches as the reference gather (the oracle after the reference normalisation) writes them.
std::vector<std::vector<double>> reference_batches(const Dataset& d, const DataLoaderOptions& o, int64_t epoch) {
  std::vector<int32_t> order(static_cast<size_t>(d.size()));
  fill_epoch_order(order, o.shuffle, o.seed, epoch);
  std::vector<std::vector<double>> out;
  for (int64_t first = 0; first < d.size(); first += o.batch_size) {
    const int64_t rows = std::min(o.batch_size, d.size() - first);
    Tensor idx = Tensor::from_values(std::vector<int32_t>(order.begin() + first, order.begin() + first + rows), {rows});
    Tensor x =
        Tensor::empty({rows, d.inputs.dim(1), d.inputs.dim(2), d.inputs.dim(3)}, o.dtype, cpu_allocator(), o.format);
    cpu::ref::gather_normalize(
        {.src = d.inputs, .indices = idx, .out = x, .mean = d.mean, .std = d.std,
         .augment = image_augment(o.augment, o.seed, epoch)});
    out.push_back(x.to_vector<double>());
  }
  return out;
}

const AugmentOptions kAll{.crop_padding = 2, .crop_pad_mode = CropPadMode::kReflect, .flip = FlipMode::kAlternating,
                          .cutout = 3};

TEST(AugmentLoader, MatchesTheReferenceInEveryDtypeLayoutAndMode) {
  const std::vector<AugmentOptions> settings = {
      kAll,
      {.crop_padding = 3, .crop_pad_mode = CropPadMode::kZero, .flip = FlipMode::kRandom},
      {.crop_padding = 1},
      {.flip = FlipMode::kRandom},
      {.cutout = 4},
      {.crop_padding = 2, .crop_pad_mode = CropPadMode::kZero, .flip = FlipMode::kAlternating, .cutout = 9}};
  for (int64_t c : {1, 3, 5}) {  // 5: beyond the loader's channels planned at once
    const Dataset d = images(23, c, 6, 7);
    for (const AugmentOptions& aug : settings)
      for (DType dtype : {DType::kF32, DType::kF64, DType::kF16, DType::kBF16})
        for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
          SCOPED_TRACE(::testing::Message() << c << " channels, " << aug.describe() << ", " << dtype_name(dtype)
                                            << (format == MemoryFormat::kContiguous ? ", nchw" : ", nhwc"));
          DataLoaderOptions o{.batch_size = 8, .seed = 3, .num_workers = 0, .dtype = dtype, .format = format};
          o.augment = aug;
          DataLoader loader(d, o);
          for (int64_t epoch : {0, 1}) EXPECT_EQ(epoch_batches(loader, epoch).inputs, reference_batches(d, o, epoch));
        }
  }
}

TEST(AugmentLoader, IdenticalBatchesForAnyWorkersAndPrefetch) {
  const Dataset d = images(61, 3, 8, 8);
  for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
    DataLoaderOptions base{.batch_size = 7, .seed = 11, .num_workers = 0, .format = format};
    base.augment = kAll;
    DataLoader serial(d, base);
    const Batches e0 = epoch_batches(serial, 0), e1 = epoch_batches(serial, 1);
    EXPECT_NE(e0.inputs, e1.inputs);
    for (int workers : {1, 3})
      for (int prefetch : {1, 2, 4}) {
        DataLoaderOptions o = base;
        o.num_workers = workers;
        o.prefetch = prefetch;
        DataLoader loader(d, o);
        const Batches b1 = epoch_batches(loader, 1), b0 = epoch_batches(loader, 0);  // any epoch order
        EXPECT_EQ(b0.inputs, e0.inputs) << workers << " workers, prefetch " << prefetch;
        EXPECT_EQ(b1.inputs, e1.inputs) << workers << " workers, prefetch " << prefetch;
        EXPECT_EQ(b0.labels, e0.labels);
      }
  }
}

TEST(AugmentLoader, OffIsBitIdenticalToThePlainGather) {
  const Dataset d = images(29, 3, 5, 6);
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    DataLoaderOptions plain{.batch_size = 8, .seed = 2, .num_workers = 2, .dtype = dtype};
    DataLoaderOptions off = plain;
    off.augment = {.crop_padding = 0, .crop_pad_mode = CropPadMode::kZero, .flip = FlipMode::kNone, .cutout = 0};
    EXPECT_FALSE(off.augment.enabled());
    DataLoader a(d, plain), b(d, off);
    const Batches x = epoch_batches(a, 4), y = epoch_batches(b, 4);
    EXPECT_EQ(x.inputs, y.inputs);
    // ... and equal to the gather without any augmentation argument.
    std::vector<int32_t> order(29);
    fill_epoch_order(order, true, 2, 4);
    Tensor idx = Tensor::from_values(std::vector<int32_t>(order.begin(), order.begin() + 8), {8});
    Tensor out = Tensor::empty({8, 3, 5, 6}, dtype);
    ops::gather_normalize(cpu_context().compute_stream(),
                          {.src = d.inputs, .indices = idx, .out = out, .mean = d.mean, .std = d.std});
    EXPECT_EQ(out.to_vector<double>(), x.inputs[0]);
  }
}

// Normalised images of one epoch as (sample index -> C·H·W values in NCHW order), without shuffling.
std::vector<std::vector<double>> samples_of_epoch(const Dataset& d, const AugmentOptions& aug, int64_t epoch) {
  DataLoaderOptions o{.batch_size = d.size(), .shuffle = false, .seed = 5, .num_workers = 0, .dtype = DType::kF64};
  o.augment = aug;
  DataLoader loader(d, o);
  const std::vector<double> all = epoch_batches(loader, epoch).inputs.at(0);
  const size_t per = all.size() / static_cast<size_t>(d.size());
  std::vector<std::vector<double>> out;
  for (size_t i = 0; i < static_cast<size_t>(d.size()); ++i)
    out.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(i * per),
                     all.begin() + static_cast<std::ptrdiff_t>((i + 1) * per));
  return out;
}

std::vector<double> mirrored(const std::vector<double>& v, int64_t c, int64_t h, int64_t w) {
  std::vector<double> m(v.size());
  for (int64_t k = 0; k < c * h; ++k)
    for (int64_t x = 0; x < w; ++x) m[static_cast<size_t>(k * w + x)] = v[static_cast<size_t>(k * w + w - 1 - x)];
  return m;
}

TEST(AugmentLoader, AlternatingFlipFlipsEachSampleInExactlyOneOfTwoEpochs) {
  const int64_t n = 200;
  const Dataset d = images(n, 2, 4, 5);
  const auto plain = samples_of_epoch(d, {}, 0);
  std::vector<std::vector<bool>> flipped;  // [epoch][sample]
  for (int64_t epoch = 0; epoch < 4; ++epoch) {
    const auto e = samples_of_epoch(d, {.flip = FlipMode::kAlternating}, epoch);
    std::vector<bool> f;
    for (int64_t i = 0; i < n; ++i) {
      const bool is_flipped = e[static_cast<size_t>(i)] == mirrored(plain[static_cast<size_t>(i)], 2, 4, 5);
      EXPECT_TRUE(is_flipped || e[static_cast<size_t>(i)] == plain[static_cast<size_t>(i)]) << "sample " << i;
      f.push_back(is_flipped);
    }
    flipped.push_back(f);
  }
  const auto n_flipped = std::count(flipped[0].begin(), flipped[0].end(), true);
  EXPECT_GT(n_flipped, n * 35 / 100);
  EXPECT_LT(n_flipped, n * 65 / 100);
  for (int64_t i = 0; i < n; ++i) {
    const auto s = static_cast<size_t>(i);
    EXPECT_NE(flipped[0][s], flipped[1][s]) << "sample " << i;  // exactly one of epochs 0 and 1
    EXPECT_EQ(flipped[2][s], flipped[0][s]);
    EXPECT_EQ(flipped[3][s], flipped[1][s]);
  }
  // Random flips are drawn anew: some sample is flipped in both epochs 0 and 1.
  const auto r0 = samples_of_epoch(d, {.flip = FlipMode::kRandom}, 0);
  const auto r1 = samples_of_epoch(d, {.flip = FlipMode::kRandom}, 1);
  int both = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto s = static_cast<size_t>(i);
    const auto m = mirrored(plain[s], 2, 4, 5);
    both += (r0[s] == m && r1[s] == m) ? 1 : 0;
  }
  EXPECT_GT(both, 20);
}

TEST(AugmentLoader, TranslationsStayWithinThePaddingAndCoverIt) {
  const int64_t n = 300, h = 9, w = 8, r = 3;
  const Dataset d = images(n, 1, h, w);
  const auto plain = samples_of_epoch(d, {}, 0);
  const auto shifted = samples_of_epoch(d, {.crop_padding = r, .crop_pad_mode = CropPadMode::kZero}, 0);
  std::set<int> seen_y, seen_x;
  for (int64_t i = 0; i < n; ++i) {
    const auto& in = plain[static_cast<size_t>(i)];
    const auto& out = shifted[static_cast<size_t>(i)];
    // Find the shift that explains the output: out(y, x) = in(y + dy, x + dx), zero outside.
    int found = 0;
    for (int dy = -r; dy <= r; ++dy)
      for (int dx = -r; dx <= r; ++dx) {
        bool match = true;
        for (int64_t y = 0; y < h && match; ++y)
          for (int64_t x = 0; x < w && match; ++x) {
            const int64_t sy = y + dy, sx = x + dx;
            const double v = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? in[static_cast<size_t>(sy * w + sx)] : 0.0;
            match = out[static_cast<size_t>(y * w + x)] == v;
          }
        if (match) {
          ++found;
          seen_y.insert(dy);
          seen_x.insert(dx);
        }
      }
    EXPECT_EQ(found, 1) << "sample " << i;
  }
  EXPECT_EQ(seen_y.size(), static_cast<size_t>(2 * r + 1));
  EXPECT_EQ(seen_x.size(), static_cast<size_t>(2 * r + 1));
}

TEST(AugmentLoader, CutoutZeroesExactlyTheClippedSquare) {
  const int64_t n = 300, c = 3, h = 7, w = 6, size = 4;
  const Dataset d = images(n, c, h, w, /*zero_mean=*/true);  // normalised pixels are > 0: zeros are the cutout
  const auto out = samples_of_epoch(d, {.cutout = size}, 2);
  const ImageAugment a = image_augment({.cutout = size}, 5, 2);
  int clipped = 0, whole = 0;
  for (int64_t i = 0; i < n; ++i) {
    const SampleAugment s = augment_draw(a, i, h, w);
    const int64_t rows = std::min<int64_t>(s.cut_y + size, h) - std::max(s.cut_y, 0);
    const int64_t cols = std::min<int64_t>(s.cut_x + size, w) - std::max(s.cut_x, 0);
    const auto& v = out[static_cast<size_t>(i)];
    EXPECT_EQ(std::count(v.begin(), v.end(), 0.0), c * rows * cols) << "sample " << i;
    EXPECT_GE(s.cut_y + size / 2, 0);
    EXPECT_LT(s.cut_y + size / 2, h);
    (rows * cols == size * size ? whole : clipped)++;
  }
  EXPECT_GT(whole, 0);
  EXPECT_GT(clipped, 0);
}

TEST(AugmentLoader, InvalidOptionsGiveClearErrors) {
  const Dataset d = images(4, 1, 5, 6);
  auto make = [&](const AugmentOptions& aug, const Dataset& set) {
    DataLoaderOptions o{.batch_size = 2};
    o.augment = aug;
    DataLoader loader(set, o);
  };
  EXPECT_THROW(make({.crop_padding = 5}, d), InvalidArgument);  // reflection needs r < min(H, W)
  EXPECT_NO_THROW(make({.crop_padding = 4}, d));
  EXPECT_THROW(make({.cutout = -1}, d), InvalidArgument);
  Dataset features;
  features.name = "features";
  features.inputs = Tensor::empty({4, 3}, DType::kF32);
  features.labels = Tensor::from_values(std::vector<int32_t>{0, 1, 0, 1}, {4});
  try {
    make({.flip = FlipMode::kRandom}, features);
    ADD_FAILURE() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("needs an image data set"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(make({}, features));
}

TEST(AugmentOptions, NamesRoundTrip) {
  EXPECT_EQ(parse_flip_mode("alternate"), FlipMode::kAlternating);
  EXPECT_EQ(parse_crop_pad_mode("zero"), CropPadMode::kZero);
  EXPECT_THROW(parse_flip_mode("sideways"), InvalidArgument);
  EXPECT_THROW(parse_crop_pad_mode("wrap"), InvalidArgument);
  EXPECT_EQ(kAll.describe(), "crop 2 (reflect), flip alternate, cutout 3");
  EXPECT_EQ(AugmentOptions{}.describe(), "none");
}

}  // namespace
}  // namespace sprint::data
