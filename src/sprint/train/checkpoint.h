// checkpoint.h: model weights as safetensors files with PyTorch's state_dict names, and checkpoint directories
// that let a killed run continue bit for bit.
//
// Weights: every parameter and buffer under its dotted path ("layer1.0.conv1.weight", "bn1.running_mean") plus
// BatchNorm's "num_batches_tracked" (i64 scalar), in the logical layout (KCRS, NCHW order) and the tensor's dtype:
// the file safetensors.torch.save_file(model.state_dict()) writes for the model's PyTorch twin, and the one
// safetensors.torch.load_file gives back. Metadata: "format" "pt", "model", "sprint_version", "step".
//
// A checkpoint directory holds, per save at optimizer step S, "step-<S>.safetensors" (the weights) and
// "step-<S>.state.safetensors" (optimizer moments "optimizer.<path>.<kind>", lookahead averages
// "lookahead.<path>", the epoch's loss sum, and in the metadata the run's position, RNG state, optimizer counters,
// parameter-group settings, the command that started the run and the epochs reported so far; a pipelined run
// adds "pipeline_boundaries" and "stage_generators" to the metadata and, with SpecTrain, "gradient.<path>"), and
// "latest.safetensors", a hard link to the newest complete save's weights. Every file is written atomically
// (temporary name, fsync, rename, fsync of the directory); "latest" moves last, so a kill at any moment leaves
// the previous save intact and loadable. Saves older than the newest `keep` are deleted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sprint/data/safetensors.h"
#include "sprint/nn/module.h"
#include "sprint/optim/optimizer.h"
#include "sprint/train/trainer.h"

namespace sprint::train {

/// The model's state_dict: host tensors in the logical layout, named and ordered as PyTorch's.
std::vector<data::NamedTensor> model_state_dict(const Stream& stream, nn::Module& net);

/// What load_model_state did: tensors loaded, the model's tensors the file lacks (left as they were), the
/// file's tensors the model has no place for, and those whose shape differs (left as they were).
struct LoadResult {
  std::vector<std::string> loaded, missing, unexpected, mismatched;
};

/// Copies the file's tensors into the model's existing storage (the parameters keep their addresses and
/// layouts), converting dtypes. strict: anything missing, unexpected or mismatched is a FormatError naming the
/// file and the tensors, and nothing is loaded; otherwise what matches is loaded and the rest reported.
LoadResult load_model_state(const Stream& stream, nn::Module& net, const data::SafetensorsFile& file, bool strict);

/// A checkpoint argument: a .safetensors file as given, or a checkpoint directory's latest.safetensors.
/// IoError when neither exists.
std::filesystem::path resolve_checkpoint(const std::filesystem::path& path);

/// Writes the model's weights to `path` atomically (metadata: format, model, sprint_version, step, and `extra`).
void save_weights(const std::filesystem::path& path, const Stream& stream, nn::Module& net, const std::string& model,
                  int64_t step, const std::map<std::string, std::string>& extra = {});

/// Everything a checkpoint saves besides the weights.
struct RunState {
  TrainerState trainer;
  optim::OptimizerProgress optimizer;
  std::vector<nn::NamedBuffer> optimizer_state;  ///< "<path>.<kind>" (Optimizer::named_state)
  std::string optimizer_groups;                  ///< Optimizer::describe_update_sets(), for the record
  std::vector<std::string> command;              ///< the arguments that started the run (resume replays them)
  std::string report_epochs;                     ///< JSON of the epochs reported so far
};

/// Saves into `dir` (created if needed) as described in the file comment and prunes to the newest `keep` saves.
/// Returns the weights file written.
std::filesystem::path save_checkpoint(const std::filesystem::path& dir, const Stream& stream, nn::Module& net,
                                      const std::string& model, const RunState& state, int keep);

/// A loaded checkpoint directory: its latest weights and the state saved with them.
struct LoadedCheckpoint {
  std::filesystem::path weights_path;
  data::SafetensorsFile weights;
  data::SafetensorsFile state;
  int64_t step = 0;
  RunState run;  ///< optimizer_state and trainer.lookahead left empty: take them from `state` (tensor())
};

/// Looks up the tensors of `file` named `prefix` + name ("optimizer.", "lookahead."), as Optimizer::load_state and
/// Trainer::restore take them: a new host tensor, or undefined when absent. `file` must outlive the function.
std::function<Tensor(const std::string&)> tensors_with_prefix(const data::SafetensorsFile& file, std::string prefix);

/// Reads `dir`'s latest save. IoError / FormatError naming the file when it is missing, broken or inconsistent.
LoadedCheckpoint load_checkpoint(const std::filesystem::path& dir);

}  // namespace sprint::train
