// dataset.cpp: load_dataset for MNIST / Fashion-MNIST (IDX) and CIFAR-10 (binary batches), the synthetic
// "random" task, and subset views. Each data set is one table entry: file names, counts, constants, classes.
#include "sprint/data/dataset.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "sprint/core/error.h"
#include "sprint/core/rng.h"
#include "sprint/data/cifar10.h"
#include "sprint/data/file_io.h"
#include "sprint/data/idx.h"
#include "sprint/ops/data.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::data {
namespace {

// ------------------------------------------------------------------------------------------------------------
// The known data sets
// ------------------------------------------------------------------------------------------------------------
struct IdxDatasetInfo {
  std::string_view name;
  bool gz_canonical;  // how `sprint data fetch` stores the files (names in the not-found message)
  float mean, std;
  std::array<const char*, 10> classes;
};

constexpr IdxDatasetInfo kMnist{
    "mnist", false, 0.1307f, 0.3081f, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}};
constexpr IdxDatasetInfo kFashionMnist{"fashion-mnist",
                                       true,
                                       0.2860f,
                                       0.3530f,
                                       {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                        "Shirt", "Sneaker", "Bag", "Ankle boot"}};

constexpr int64_t kIdxTrainCount = 60000, kIdxTestCount = 10000, kIdxSide = 28;
constexpr int64_t kCifarTrainBatches = 5;
const std::vector<float> kCifarMean = {0.4914f, 0.4822f, 0.4465f};
const std::vector<float> kCifarStd = {0.2470f, 0.2435f, 0.2616f};

[[noreturn]] void throw_not_found(std::string_view name, const std::filesystem::path& dir,
                                  std::string_view file) {
  SPRINT_THROW(IoError, "{} not found in {} (missing {}): run `sprint data fetch {}`", name, dir.string(),
               file, name);
}

// The IDX file `base` in `dir`, raw or .gz (raw preferred when both exist).
std::filesystem::path find_idx_file(const IdxDatasetInfo& info, const std::filesystem::path& dir,
                                    const std::string& base) {
  const std::filesystem::path raw = dir / base, gz = dir / (base + ".gz");
  if (std::filesystem::is_regular_file(raw)) return raw;
  if (std::filesystem::is_regular_file(gz)) return gz;
  throw_not_found(info.name, dir, info.gz_canonical ? base + ".gz" : base);
}

Dataset load_idx_dataset(const IdxDatasetInfo& info, Split split, const std::filesystem::path& data_dir) {
  const std::filesystem::path dir = data_dir / std::string(info.name);
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  const int64_t expected = split == Split::kTrain ? kIdxTrainCount : kIdxTestCount;
  const std::filesystem::path images_path = find_idx_file(info, dir, prefix + "-images-idx3-ubyte");
  const std::filesystem::path labels_path = find_idx_file(info, dir, prefix + "-labels-idx1-ubyte");

  Dataset d;
  d.name = std::string(info.name);
  d.inputs = read_idx_images(images_path);
  d.labels = read_idx_labels(labels_path, 10);
  const int64_t n_images = d.inputs.dim(0), n_labels = d.labels.dim(0);
  if (n_images != n_labels)
    SPRINT_THROW(FormatError, "{} {}: {} has {} images but {} has {} labels", info.name, split_name(split),
                 images_path.string(), n_images, labels_path.string(), n_labels);
  if (n_images != expected)
    SPRINT_THROW(FormatError, "{} {}: {} has {} images, expected {} (wrong or incomplete file?)", info.name,
                 split_name(split), images_path.string(), n_images, expected);
  if (d.inputs.dim(2) != kIdxSide || d.inputs.dim(3) != kIdxSide)
    SPRINT_THROW(FormatError, "{} {}: {} holds {}x{} images, expected 28x28", info.name, split_name(split),
                 images_path.string(), d.inputs.dim(2), d.inputs.dim(3));
  d.num_classes = 10;
  d.mean = {info.mean};
  d.std = {info.std};
  d.class_names.assign(info.classes.begin(), info.classes.end());
  return d;
}

Dataset load_cifar10(Split split, const std::filesystem::path& data_dir) {
  const std::string_view name = "cifar10";
  const std::filesystem::path dir = data_dir / std::string(name);
  std::vector<std::string> files;
  if (split == Split::kTrain) {
    for (int64_t b = 1; b <= kCifarTrainBatches; ++b)
      files.push_back("data_batch_" + std::to_string(b) + ".bin");
  } else {
    files.push_back("test_batch.bin");
  }
  for (const std::string& f : files)
    if (!std::filesystem::is_regular_file(dir / f)) throw_not_found(name, dir, f);
  if (!std::filesystem::is_regular_file(dir / "batches.meta.txt"))
    throw_not_found(name, dir, "batches.meta.txt");

  const auto n = static_cast<int64_t>(files.size()) * kCifar10RecordsPerBatch;
  Dataset d;
  d.name = std::string(name);
  d.inputs = Tensor::empty({n, 3, 32, 32}, DType::kU8);
  d.labels = Tensor::empty({n}, DType::kI32);
  for (size_t i = 0; i < files.size(); ++i) {
    const std::filesystem::path path = dir / files[i];
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    count_cifar10_records(bytes, path.string(), kCifar10RecordsPerBatch);
    const int64_t first = static_cast<int64_t>(i) * kCifar10RecordsPerBatch;
    decode_cifar10_records(bytes, path.string(), d.inputs.data_as<uint8_t>() + first * kCifar10ImageBytes,
                           d.labels.data_as<int32_t>() + first);
  }
  d.num_classes = kCifar10Classes;
  d.mean = kCifarMean;
  d.std = kCifarStd;
  d.class_names = read_cifar10_meta(dir / "batches.meta.txt");
  return d;
}

}  // namespace

std::string_view split_name(Split split) {
  return split == Split::kTrain ? "train" : "test";
}

Shape Dataset::sample_shape() const {
  SPRINT_CHECK(inputs.defined(), "dataset {} has no inputs", name);
  Shape s;
  for (int i = 1; i < inputs.ndim(); ++i) s.push_back(inputs.dim(i));
  return s;
}

Dataset load_dataset(std::string_view name, Split split, const std::filesystem::path& data_dir) {
  if (name == kMnist.name) return load_idx_dataset(kMnist, split, data_dir);
  if (name == kFashionMnist.name) return load_idx_dataset(kFashionMnist, split, data_dir);
  if (name == "cifar10") return load_cifar10(split, data_dir);
  SPRINT_THROW(InvalidArgument,
               "unknown data set \"{}\": expected one of mnist, fashion-mnist, cifar10 (or use "
               "make_random_dataset for \"random\")",
               name);
}

Dataset make_random_dataset(int64_t n, int64_t features, int64_t classes, uint64_t seed) {
  SPRINT_CHECK(n > 0 && features > 0 && classes >= 2,
               "make_random_dataset needs n > 0, features > 0 and classes >= 2, got {}, {}, {}", n, features,
               classes);
  SPRINT_CHECK(n <= INT32_MAX, "make_random_dataset: at most 2^31 - 1 samples (i32 indices), got {}", n);
  Generator rng(seed);
  Generator teacher_rng = rng.fork();
  std::vector<float> teacher(static_cast<size_t>(classes * features));  // W (K, F)
  for (float& w : teacher) w = teacher_rng.normal();

  Dataset d;
  d.name = "random";
  d.inputs = Tensor::empty({n, features}, DType::kF32);
  d.labels = Tensor::empty({n}, DType::kI32);
  float* x = d.inputs.data_as<float>();
  int32_t* y = d.labels.data_as<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    float* row = x + i * features;
    for (int64_t f = 0; f < features; ++f) row[f] = rng.normal();
    // label = argmax_k (W x)_k, ties to the lowest k.
    int64_t best = 0;
    double best_score = 0.0;
    for (int64_t k = 0; k < classes; ++k) {
      const float* w = teacher.data() + k * features;
      double score = 0.0;
      for (int64_t f = 0; f < features; ++f) score += static_cast<double>(w[f]) * static_cast<double>(row[f]);
      if (k == 0 || score > best_score) {
        best = k;
        best_score = score;
      }
    }
    y[i] = static_cast<int32_t>(best);
  }
  d.num_classes = classes;
  for (int64_t k = 0; k < classes; ++k) d.class_names.push_back("class " + std::to_string(k));
  return d;
}

Dataset subset(const Dataset& dataset, int64_t first, int64_t count) {
  SPRINT_CHECK(first >= 0 && count >= 0 && first + count <= dataset.size(),
               "subset [{}, {}) is out of range for {} with {} samples", first, first + count, dataset.name,
               dataset.size());
  Dataset s = dataset;  // shares the tensors; copies the small vectors
  s.inputs = dataset.inputs.rows(first, count);
  s.labels = dataset.labels.rows(first, count);
  return s;
}

Tensor normalized_images(const Dataset& dataset, int64_t count) {
  SPRINT_CHECK(dataset.inputs.defined() && dataset.inputs.dtype() == DType::kU8 && dataset.inputs.ndim() == 4,
               "{} is not an image data set: no images to initialise from", dataset.name);
  const int64_t n = std::min(count, dataset.size()), c = dataset.inputs.dim(1);
  SPRINT_CHECK(static_cast<int64_t>(dataset.mean.size()) == c && static_cast<int64_t>(dataset.std.size()) == c,
               "{} has no normalisation constants for its {} channels", dataset.name, c);
  std::vector<int32_t> first(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) first[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  const Tensor indices = Tensor::from_values(first, {n});
  Tensor out = Tensor::empty({n, c, dataset.inputs.dim(2), dataset.inputs.dim(3)}, DType::kF32,
                             cpu_allocator());
  // The loaders' own gather: the same normalisation, bit for bit.
  ops::gather_normalize(cpu_context().compute_stream(),
                        {.src = dataset.inputs, .indices = indices, .out = out, .mean = dataset.mean, .std = dataset.std});
  return out;
}

}  // namespace sprint::data
