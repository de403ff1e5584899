// main.cpp: trains a tiny Linear layer a few SGD steps through an installed sprint; prints "consumer ok".
#include <cstdio>

#include <sprint/nn/linear.h>
#include <sprint/nn/loss.h>
#include <sprint/optim/sgd.h>
#include <sprint/runtime/device_registry.h>

int main() {
  using namespace sprint;
  Generator rng(1);
  nn::Linear layer(nn::LinearOptions(4, 3), rng);
  nn::CrossEntropyLoss loss;
  optim::SGD sgd({{.params = layer.parameters()}}, optim::SGDOptions(0.5));
  nn::RunContext ctx{cpu_context().compute_stream()};
  Tensor x = Tensor::from_values(std::vector<float>{1, 0, 0, 0, 0, 1, 0, 0}, {2, 4});
  Tensor y = Tensor::from_values(std::vector<int32_t>{0, 2}, {2});
  double first = 0, last = 0;
  for (int step = 0; step < 20; ++step) {
    sgd.zero_grad();
    const double l = loss.forward(ctx, layer.forward(ctx, x), y).to_vector<double>()[0];
    layer.backward(ctx, loss.backward(ctx));
    sgd.step(ctx.stream);
    if (step == 0) first = l;
    last = l;
  }
  if (!(last < first)) {
    std::printf("loss did not fall: %f -> %f\n", first, last);
    return 1;
  }
  std::printf("consumer ok: loss %.4f -> %.4f\n", first, last);
  return 0;
}
