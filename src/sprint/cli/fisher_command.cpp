// fisher_command.cpp: `sprint fisher`: a model's weights (a checkpoint, or its seeded initialisation) scored by the
// empirical Fisher information (or uniformly at random), and the mask of the top fraction written for
// `sprint train --mask`.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "sprint/backend/cpu/cpu_info.h"
#include "sprint/cli/augment_flags.h"
#include "sprint/cli/commands.h"
#include "sprint/data/augment.h"
#include "sprint/data/dataset.h"
#include "sprint/data/fetch.h"
#include "sprint/data/output_file.h"
#include "sprint/nn/models.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/checkpoint.h"
#include "sprint/train/fisher.h"
#include "sprint/train/layouts.h"
#include "sprint/train/parameter_mask.h"
#include "sprint/train/sparse_checkpoint.h"

namespace sprint::cli {

int run_fisher(const FisherArgs& a) {
  SPRINT_CHECK(!(a.checkpoint && a.save_init), "--save-init writes the initialisation, which --checkpoint replaces");
  SPRINT_CHECK(a.method == "fisher" || (a.samples == 256 && a.crop_pad == 0 && a.cutout == 0 && a.flip == "none"),
               "--samples and the augmentation options choose the Fisher's examples; --method {} uses none", a.method);
  data::check_output_path(a.out, "--out");
  if (a.report) data::check_output_path(*a.report, "--report");
  if (a.save_init) data::check_output_path(*a.save_init, "--save-init");
  const data::AugmentOptions augment = augment_from_flags(a.crop_pad, a.crop_mode, a.flip, a.cutout);
  const int threads = resolve_threads(a.threads, a.model, cpu::available_cores());
  const Device device = parse_device(a.device);
  DeviceContext& context = device_context(device);
  cpu_context().set_num_threads(threads);
  const Stream stream = context.compute_stream();

  const auto dir = data::resolve_data_dir(a.data_dir ? std::optional<std::filesystem::path>(*a.data_dir) : std::nullopt);
  data::Dataset train_set = data::load_dataset(a.dataset, data::Split::kTrain, dir);
  if (a.limit_train > 0 && a.limit_train < train_set.size()) train_set = data::subset(train_set, 0, a.limit_train);
  Generator init_rng(a.seed);  // as sprint train --seed initialises the model
  nn::ModelOptions model_options;
  model_options.hidden = a.hidden;
  model_options.share_weights = a.share_weights;
  nn::Model model = nn::build_model(a.model, train_set.sample_shape(), train_set.num_classes, init_rng, model_options);
  SPRINT_CHECK(!model.init_from_data || a.checkpoint,
               "{} initialises from the data when training starts: score a checkpoint (--checkpoint) instead", a.model);
  model.net->to_device(stream);
  std::string scored = fmt::format("the initialisation of {} (seed {})", a.model, a.seed);
  if (a.checkpoint) {
    const std::filesystem::path path = train::resolve_checkpoint(*a.checkpoint);
    train::load_model_state(stream, *model.net, train::read_weights(path), true);
    scored = path.string();
  }
  if (a.save_init) {
    train::save_weights(*a.save_init, stream, *model.net, a.model, 0, {{"seed", std::to_string(a.seed)}});
    std::printf("initial weights written to %s\n", a.save_init->c_str());
  }

  const std::string classifier = train::classifier_prefix(*model.net);
  train::ParameterMask mask;
  double seconds = 0.0;
  int64_t samples = 0;
  if (a.method == "fisher") {
    const train::Layouts layout = train::choose_layouts(a.memory_format, nn::has_convolutions(a.model), stream);
    const train::FisherScores f = train::empirical_fisher(
        stream, model, train_set,
        {.samples = a.samples, .seed = a.seed, .augment = augment, .input_format = layout.input,
         .activation_format = layout.activations, .device = device});
    mask = train::top_k_mask(f.scores, a.keep, classifier);
    mask.method = "fisher";
    mask.samples = samples = f.samples;
    seconds = f.seconds;
    std::printf("empirical Fisher of %s over %lld %s examples of %s (batch 1, eval mode, f32): %.2f s\n",
                scored.c_str(), static_cast<long long>(f.samples), augment.enabled() ? "augmented" : "plain",
                a.dataset.c_str(), f.seconds);
  } else if (a.method == "random") {
    Generator rng(a.seed ^ 0x5DEECE66Dull);
    mask = train::random_mask(*model.net, a.keep, classifier, rng);
  } else {
    mask = train::dense_mask(*model.net);
    mask.keep_ratio = 1.0;
  }
  mask.model = a.model;
  train::write_mask(a.out, mask);
  std::printf("%s mask: %lld of %lld parameters kept (%.4g%%; keep %g), classifier %s kept whole (%lld); written to "
              "%s (hash %s)\n",
              mask.method.c_str(), static_cast<long long>(mask.kept()), static_cast<long long>(mask.total()),
              100.0 * static_cast<double>(mask.kept()) / static_cast<double>(mask.total()), mask.keep_ratio,
              mask.classifier.empty() ? "(none)" : mask.classifier.c_str(),
              static_cast<long long>(mask.classifier_size()),
              a.out.c_str(), mask.hash().c_str());
  if (a.report) {
    nlohmann::ordered_json j;
    j["model"] = a.model;
    j["dataset"] = a.dataset;
    j["scored"] = scored;
    j["method"] = mask.method;
    j["keep_ratio"] = mask.keep_ratio;
    j["samples"] = samples;
    j["seconds"] = seconds;
    j["kept"] = mask.kept();
    j["total"] = mask.total();
    j["classifier"] = classifier;
    j["hash"] = mask.hash();
    nlohmann::ordered_json per = nlohmann::ordered_json::object();
    for (const auto& e : mask.entries)
      per[e.name] = {{"kept", std::count(e.keep.begin(), e.keep.end(), uint8_t{1})}, {"total", e.keep.size()}};
    j["parameters"] = per;
    data::write_output_text(*a.report, j.dump(2) + "\n");
  }
  return 0;
}

}  // namespace sprint::cli
