// eval_command.cpp: `sprint eval`: saved weights into a model, then accuracy and loss on a data set's test split,
// or the logits of a .npy array of inputs (the interface interop tests feed the same array to PyTorch and sprint).
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "sprint/backend/cpu/cpu_info.h"
#include "sprint/cli/commands.h"
#include "sprint/data/dataset.h"
#include "sprint/data/fetch.h"
#include "sprint/data/file_io.h"
#include "sprint/data/loader.h"
#include "sprint/data/npy.h"
#include "sprint/data/output_file.h"
#include "sprint/nn/models.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/checkpoint.h"
#include "sprint/train/evaluator.h"
#include "sprint/train/layouts.h"
#include "sprint/train/sparse_checkpoint.h"

namespace sprint::cli {
namespace {

/// "3x32x32" or "784" as a sample shape.
Shape parse_input_shape(const std::string& text) {
  Shape shape;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t x = std::min(text.find('x', start), text.size());
    const std::string part = text.substr(start, x - start);
    char* end = nullptr;
    const long long v = std::strtoll(part.c_str(), &end, 10);
    SPRINT_CHECK(!part.empty() && *end == '\0' && v >= 1 && shape.size() < Shape::kMaxDims - 1,
                 "--input-shape {}: expected CxHxW or F, e.g. 3x32x32", text);
    shape.push_back(v);
    start = x + 1;
  }
  SPRINT_CHECK(shape.size() == 1 || shape.size() == 3, "--input-shape {}: expected CxHxW or F, e.g. 3x32x32", text);
  return shape;
}


}  // namespace

int run_eval(const EvalArgs& a) {
  SPRINT_CHECK(a.dataset.has_value() != a.inputs.has_value(),
               "sprint eval needs exactly one of --dataset NAME (accuracy and loss) or --inputs X.npy (logits)");
  SPRINT_CHECK(!a.logits || a.inputs, "--logits OUT.npy goes with --inputs X.npy");
  SPRINT_CHECK(a.tta >= 0 && a.tta <= 2, "--tta {}: expected 0, 1 or 2", a.tta);
  SPRINT_CHECK(a.tta == 0 || a.dataset, "--tta needs --dataset (an image data set)");
  SPRINT_CHECK(!a.report || a.dataset, "--report goes with --dataset");
  if (a.logits) data::check_output_path(*a.logits, "--logits");
  if (a.report) data::check_output_path(*a.report, "--report");
  const int threads = resolve_threads(a.threads, a.model, cpu::available_cores());
  const Device device = parse_device(a.device);
  DeviceContext& context = device_context(device);
  cpu_context().set_num_threads(threads);
  const Stream stream = context.compute_stream();

  const std::filesystem::path checkpoint = train::resolve_checkpoint(a.checkpoint);
  const data::SafetensorsFile weights = train::read_weights(checkpoint);  // a small checkpoint: on its base
  data::Dataset test;
  Tensor inputs;
  Shape sample_shape;
  int64_t classes = a.num_classes;
  if (a.dataset) {
    const auto dir = data::resolve_data_dir(a.data_dir ? std::optional<std::filesystem::path>(*a.data_dir)
                                                       : std::nullopt);
    test = data::load_dataset(*a.dataset, data::Split::kTest, dir);
    if (a.limit_test > 0 && a.limit_test < test.size()) test = data::subset(test, 0, a.limit_test);
    sample_shape = test.sample_shape();
    classes = test.num_classes;
  } else {
    inputs = data::read_npy(*a.inputs);
    SPRINT_CHECK(inputs.dtype() == DType::kF32 && (inputs.ndim() == 2 || inputs.ndim() == 4) && inputs.dim(0) > 0,
                 "--inputs {}: expected a float32 array (N, C, H, W) or (N, F) with N >= 1, got {}", *a.inputs,
                 inputs.description());
    for (int i = 1; i < inputs.ndim(); ++i) sample_shape.push_back(inputs.dim(i));
    if (!a.input_shape.empty()) {
      const Shape given = parse_input_shape(a.input_shape);
      SPRINT_CHECK(given.product() == sample_shape.product(), "--input-shape {} does not fit --inputs {} ({})",
                   a.input_shape, *a.inputs, inputs.description());
      Shape full{inputs.dim(0)};
      for (int64_t d : given) full.push_back(d);
      inputs = inputs.reshape(full);
      sample_shape = given;
    }
  }

  Generator rng(0);
  nn::ModelOptions model_options;
  model_options.hidden = a.hidden;
  model_options.share_weights = a.share_weights;
  nn::Model model = nn::build_model(a.model, sample_shape, classes, rng, model_options);
  model.net->to_device(stream);
  train::load_model_state(stream, *model.net, weights, true);
  const train::Layouts layout = train::choose_layouts(a.memory_format, nn::has_convolutions(a.model), stream);
  train::Evaluator evaluator(stream, model);
  nn::RunContext ctx{stream, &rng, nn::BufferKey::evaluation(), layout.activations};

  if (a.dataset) {
    if (a.tta > 0)
      SPRINT_CHECK(test.inputs.dtype() == DType::kU8 && test.inputs.ndim() == 4,
                   "--tta needs an image data set; {} is not one", test.name);
    data::DataLoaderOptions lo;
    lo.batch_size = a.batch_size;
    lo.shuffle = false;
    lo.device = device;
    lo.format = layout.input;
    data::DataLoader loader(test, lo);
    const train::EvalStats e = evaluator.run(ctx, loader, a.tta);
    std::printf("%s on %s (%lld test samples%s): test accuracy %.2f%%, test loss %.4f\n", checkpoint.c_str(),
                a.dataset->c_str(), static_cast<long long>(e.samples),
                a.tta > 0 ? fmt::format(", test-time augmentation {}", a.tta).c_str() : "", 100.0 * e.accuracy,
                e.loss);
    if (a.report) {
      nlohmann::ordered_json j;
      j["model"] = a.model;
      j["dataset"] = *a.dataset;
      j["checkpoint"] = checkpoint.string();
      j["tta"] = a.tta;
      j["test_samples"] = e.samples;
      j["test_accuracy"] = e.accuracy;
      j["test_loss"] = e.loss;
      data::write_output_text(*a.report, j.dump(2) + "\n");
    }
    return 0;
  }

  model.net->eval();
  const int64_t n = inputs.dim(0);
  Tensor out;
  for (int64_t row = 0; row < n; row += a.batch_size) {
    const int64_t rows = std::min(a.batch_size, n - row);
    const Tensor chunk = inputs.rows(row, rows);
    const Tensor x = layout.input == MemoryFormat::kContiguous
                         ? ops::to_stream_device(stream, chunk)
                         : ops::cast_to(stream, ops::to_stream_device(stream, chunk), DType::kF32, layout.input);
    const Tensor logits = ops::to_host(stream, ops::cast_to(stream, evaluator.logits(ctx, x, 0), DType::kF32));
    if (!out.defined()) out = Tensor::empty({n, logits.dim(1)}, DType::kF32);
    std::memcpy(out.data_as<float>() + row * logits.dim(1), logits.data_as<float>(),
                static_cast<size_t>(logits.numel()) * sizeof(float));
  }
  std::printf("%s: logits (%lld, %lld) of %s\n", checkpoint.c_str(), static_cast<long long>(n),
              static_cast<long long>(out.dim(1)), a.inputs->c_str());
  if (a.logits) data::write_npy(*a.logits, out);
  return 0;
}

}  // namespace sprint::cli
