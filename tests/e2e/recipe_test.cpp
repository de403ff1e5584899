// recipe_test.cpp: `sprint recipes` and `sprint train --recipe`: every shipped recipe parses and names only
// options of sprint train, options on the command line win over the recipe's, the report records the resolved
// settings, and broken recipes are one clear error line.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

TEST(Recipes, ListsEveryShippedRecipe) {
  CommandResult r = run_sprint({"recipes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"airbench94", "cifar10-fast", "mlp-mnist", "resnet10-baseline", "resnet10-optimized",
                           "resnet18-adam"})
    EXPECT_NE(r.out.find(std::string("  ") + name + " "), std::string::npos) << name << "\n" << r.out;
}

// Each shipped recipe resolves against sprint train's options: run it on the random data set for a moment with
// the model overridden (so no data set is needed); the data set, model-specific and length options are replaced.
TEST(Recipes, ShippedRecipesParse) {
  for (const char* name : {"airbench94", "cifar10-fast", "mlp-mnist", "resnet10-baseline", "resnet10-optimized",
                           "resnet18-adam"}) {
    CommandResult r = run_sprint({"train", "--recipe", name, "--dataset", "random", "--model", "mlp2", "--epochs",
                                  "1", "--batch-size", "16", "--eval-batch-size", "16", "--workers", "0",
                                  "--crop-pad", "0", "--flip", "none", "--cutout", "0", "--tta", "0",
                                  "--share-weights=false"});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_NE(r.out.find(std::string("recipe ") + name), std::string::npos) << r.out;
  }
}

TEST(Recipes, CommandLineWinsAndTheReportRecordsTheSettings) {
  TempDir dir;
  write(dir.path() / "mine.toml",
        "description = \"test\"\nmodel = \"mlp2\"\ndataset = \"random\"\nepochs = 2\nlr = 0.05\n"
        "hidden = [16, 8]\nnesterov = true\n");
  const auto report = dir.path() / "run.json";
  CommandResult r = run_sprint({"train", "--recipe", (dir.path() / "mine.toml").string(), "--epochs", "1",
                                "--report", report.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("nesterov=true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lr=0.05"), std::string::npos) << r.out;
  std::ifstream in(report);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["epochs"].size(), 1u);  // --epochs 1 beat the recipe's 2
  EXPECT_EQ(j["config"]["epochs"], "1");
  EXPECT_EQ(j["config"]["hidden"], "16,8");
  EXPECT_EQ(j["config"]["model"], "mlp2");
  EXPECT_EQ(j["config"]["optimizer"], "sgd");  // defaults are recorded too
}

TEST(Recipes, BrokenRecipesAreOneClearLine) {
  TempDir dir;
  write(dir.path() / "syntax.toml", "model = \n");
  write(dir.path() / "unknown.toml", "bogus-option = 3\n");
  write(dir.path() / "table.toml", "[section]\nlr = 1\n");
  // Exit codes: 3 for a malformed file (input data), 2 for a name or option sprint does not know (usage).
  const std::pair<std::string, int> cases[] = {{(dir.path() / "syntax.toml").string(), 3},
                                               {(dir.path() / "unknown.toml").string(), 2},
                                               {(dir.path() / "table.toml").string(), 3},
                                               {"no-such-recipe", 2},
                                               {(dir.path() / "missing.toml").string(), 2}};
  for (const auto& [recipe, code] : cases) {
    CommandResult r = run_sprint({"train", "--recipe", recipe});
    EXPECT_EQ(r.exit_code, code) << recipe;
    EXPECT_EQ(count_lines(r.err), 1) << recipe << ": " << r.err;
    EXPECT_NE(r.err.find("sprint: error: "), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace sprint::testing
