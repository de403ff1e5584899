// recipes_command.cpp: `sprint recipes`: every recipe with its one-line description and where it was found.
#include <cstdio>

#include "sprint/cli/commands.h"
#include "sprint/cli/recipe.h"

namespace sprint::cli {

int run_recipes() {
  const std::vector<Recipe> recipes = list_recipes();
  std::printf("recipes in %s (sprint train --recipe NAME; options given on the command line win):\n",
              recipe_dir().string().c_str());
  for (const Recipe& r : recipes) std::printf("  %-20s %s\n", r.name.c_str(), r.description.c_str());
  if (recipes.empty()) std::printf("  (none)\n");
  return 0;
}

}  // namespace sprint::cli
