// recipe.h: training recipes, TOML files of `sprint train` settings (recipes/*.toml). Each top-level key is a
// long option of `sprint train` without its dashes (model = "airbench94", batch-size = 1024, nesterov = true,
// hidden = [256, 128]); `description` is the one line `sprint recipes` prints. Options given on the command
// line win over the recipe's.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sprint::cli {

struct Recipe {
  std::string name;  ///< file stem
  std::filesystem::path path;
  std::string description;  ///< the `description` key, or empty
  /// The settings as option tokens ({"--model", "airbench94"}, {"--nesterov=true"}, ...), one entry per key,
  /// in file order.
  std::vector<std::pair<std::string, std::vector<std::string>>> options;
};

/// The directory recipes are looked up in by name: $SPRINT_RECIPES, else `<executable
/// dir>/../share/sprint/recipes` when it exists, else the source tree's recipes/ (a build that is not
/// installed).
std::filesystem::path recipe_dir();

/// Loads `name_or_path`: a path when it names an existing file or ends in ".toml", else
/// `<recipe_dir>/<name>.toml`. Throws InvalidArgument for an unknown name (listing the known ones) and
/// FormatError (with the file, line and column) for malformed TOML or values that are not strings, numbers,
/// booleans or arrays of those.
Recipe load_recipe(const std::string& name_or_path);

/// Every recipe in recipe_dir(), sorted by name.
std::vector<Recipe> list_recipes();

/// `args` (argv without the program name, a `train` subcommand among them) with the recipe's options inserted
/// after `train`, leaving out every option the command line already gives (`given` says which, by long name
/// without dashes).
std::vector<std::string> with_recipe(const std::vector<std::string>& args, const Recipe& recipe,
                                     const std::vector<std::string>& given);

}  // namespace sprint::cli
