// dataset.h: Dataset, a labelled data set held in host memory, and the functions that make one: from the
// files of MNIST, Fashion-MNIST or CIFAR-10 in a data directory, or a seeded synthetic ("random")
// classification task. Images stay u8 (N, C, H, W); the DataLoader normalises them per channel while it
// gathers a batch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sprint/core/shape.h"
#include "sprint/core/tensor.h"

namespace sprint::data {

enum class Split { kTrain, kTest };

/// "train" / "test"
std::string_view split_name(Split split);

/// A data set in host memory. Copying a Dataset shares its tensors (Tensor handles are cheap).
struct Dataset {
  std::string name;  ///< "fashion-mnist", "mnist", "cifar10", "random"
  Tensor inputs;     ///< u8 (N, C, H, W) for images, or f32 (N, F) for feature data
  Tensor labels;     ///< i32 (N), each in [0, num_classes)
  int64_t num_classes = 10;
  /// Per channel; the loader maps u8 x -> (x / 255 - mean[c]) / std[c]. Empty for feature data.
  std::vector<float> mean, std;
  std::vector<std::string> class_names;  ///< num_classes entries

  /// N, the number of samples.
  int64_t size() const { return labels.defined() ? labels.dim(0) : 0; }
  /// Shape of one sample: (C, H, W) for images, e.g. (1, 28, 28); (F) for feature data.
  Shape sample_shape() const;
};

/// Loads `name` ("mnist", "fashion-mnist", "cifar10") from `<data_dir>/<name>/` with the official file names
/// (IDX raw or .gz; CIFAR-10 binary batches and batches.meta.txt), checks counts (60,000/10,000 MNIST-style,
/// 50,000/10,000 CIFAR-10), image sizes and label ranges, and fills in the standard normalisation constants
/// and class names. A missing file gives IoError: "<name> not found in <dir> (missing <file>): run `sprint
/// data fetch <name>`"; malformed files give FormatError; an unknown name gives InvalidArgument.
Dataset load_dataset(std::string_view name, Split split, const std::filesystem::path& data_dir);

/// A learnable synthetic task: n samples of `features` f32 features ~ N(0, 1), labels = argmax over `classes`
/// of W·x for a fixed random "teacher" W (classes, features) ~ N(0, 1). Everything derives from `seed`. No
/// normalisation (mean/std empty). Name "random".
Dataset make_random_dataset(int64_t n, int64_t features, int64_t classes, uint64_t seed);

/// Samples [first, first + count) of `dataset`: views of the same tensors (no copy), same constants and
/// names.
Dataset subset(const Dataset& dataset, int64_t first, int64_t count);

/// Images [0, count) of an image data set as the loader normalises them, (count, C, H, W) f32 NCHW on the host:
/// for data-dependent initialisation (airbench94's whitening conv). count is clipped to the data set's size.
Tensor normalized_images(const Dataset& dataset, int64_t count);

}  // namespace sprint::data
