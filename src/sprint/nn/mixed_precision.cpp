// mixed_precision.cpp: use_mixed_precision.
#include "sprint/nn/mixed_precision.h"

#include "sprint/nn/cast.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/linear.h"

namespace sprint::nn {
namespace {
void compute_in(Module& m, DType compute, const Stream& stream) {
  if (dynamic_cast<Conv2d*>(&m) || dynamic_cast<Linear*>(&m))
    for (const ParameterPtr& p : m.parameters()) p->use_compute_dtype(stream, compute);  // shared ones once
  for (auto& [name, child] : m.children()) compute_in(*child, compute, stream);
}
}  // namespace

void use_mixed_precision(Model& model, DType compute, const Stream& stream) {
  SPRINT_CHECK(compute == DType::kF16 || compute == DType::kBF16,
               "mixed precision computes in f16 or bf16, not {}", dtype_name(compute));
  SPRINT_CHECK(model.net != nullptr, "mixed precision needs a built model");
  for (const ParameterPtr& p : model.net->parameters())
    SPRINT_CHECK(!p->has_master(), "the model already computes in mixed precision ({} has an f32 master)", p->name());
  for (const ParameterPtr& p : model.net->parameters())
    SPRINT_CHECK(p->master_value().dtype() == DType::kF32,
                 "mixed precision starts from f32 parameters; {} is {}", p->name(),
                 p->master_value().description());
  compute_in(*model.net, compute, stream);
  model.net->insert_front(std::make_shared<Cast>(compute), "input_cast");
  model.net->add(std::make_shared<Cast>(DType::kF32), "output_cast");
}

}  // namespace sprint::nn
