// recipe.cpp: reading recipe TOML files with toml++ and merging them into the command line.
#include "sprint/cli/recipe.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "sprint/core/error.h"

namespace sprint::cli {
namespace {

std::filesystem::path executable_dir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : exe.parent_path();
}

std::string scalar_text(const toml::node& node, const std::string& key, const std::filesystem::path& file) {
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* d = node.as_floating_point()) return fmt::format("{}", d->get());
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  const auto& where = node.source().begin;
  SPRINT_THROW(FormatError, "recipe {}:{}:{}: '{}' must be a string, number or boolean (or an array of them)",
               file.string(), where.line, where.column, key);
}

}  // namespace

std::filesystem::path recipe_dir() {
  if (const char* env = std::getenv("SPRINT_RECIPES"); env && *env) return env;
  const std::filesystem::path installed = executable_dir() / ".." / "share" / "sprint" / "recipes";
  std::error_code ec;
  if (std::filesystem::is_directory(installed, ec)) return installed;
  return SPRINT_SOURCE_RECIPE_DIR;
}

Recipe load_recipe(const std::string& name_or_path) {
  std::error_code ec;
  std::filesystem::path path = name_or_path;
  const bool is_file = name_or_path.ends_with(".toml") || std::filesystem::is_regular_file(path, ec);
  if (!is_file) {
    if (name_or_path.empty() || name_or_path.find('/') != std::string::npos)
      SPRINT_THROW(InvalidArgument, "--recipe '{}': not a recipe name or file", name_or_path);
    path = recipe_dir() / (name_or_path + ".toml");
    if (!std::filesystem::is_regular_file(path, ec)) {
      std::string known;
      for (const Recipe& r : list_recipes()) known += (known.empty() ? "" : ", ") + r.name;
      SPRINT_THROW(InvalidArgument, "unknown recipe '{}' (known: {}; or give a .toml file)", name_or_path,
                   known.empty() ? "none in " + recipe_dir().string() : known);
    }
  }
  if (!std::filesystem::is_regular_file(path, ec))
    SPRINT_THROW(InvalidArgument, "--recipe {}: no such file", path.string());
  toml::table table;
  try {
    table = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    SPRINT_THROW(FormatError, "recipe {}:{}:{}: {}", path.string(), where.line, where.column,
                 e.description());
  }
  Recipe r{.name = path.stem().string(), .path = path, .description = {}, .options = {}};
  for (const auto& [key_node, node] : table) {
    const std::string key(key_node.str());
    if (key == "description") {
      r.description = scalar_text(node, key, path);
      continue;
    }
    if (key == "recipe")
      SPRINT_THROW(InvalidArgument, "recipe {}: a recipe cannot name another recipe", path.string());
    if (const auto* array = node.as_array()) {
      std::string joined;
      for (const toml::node& item : *array)
        joined += (joined.empty() ? "" : ",") + scalar_text(item, key, path);
      r.options.push_back({key, {"--" + key, joined}});
    } else if (node.is_boolean()) {
      r.options.push_back({key, {"--" + key + "=" + scalar_text(node, key, path)}});
    } else {
      r.options.push_back({key, {"--" + key, scalar_text(node, key, path)}});
    }
  }
  return r;
}

std::vector<Recipe> list_recipes() {
  std::vector<Recipe> out;
  std::error_code ec;
  const std::filesystem::path dir = recipe_dir();
  if (!std::filesystem::is_directory(dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".toml")
      out.push_back(load_recipe(entry.path()));
  std::sort(out.begin(), out.end(), [](const Recipe& a, const Recipe& b) { return a.name < b.name; });
  return out;
}

std::vector<std::string> with_recipe(const std::vector<std::string>& args, const Recipe& recipe,
                                     const std::vector<std::string>& given) {
  const auto train = std::find(args.begin(), args.end(), "train");
  if (train == args.end()) SPRINT_THROW(InvalidArgument, "--recipe applies to `sprint train`");
  std::vector<std::string> out(args.begin(), train + 1);
  for (const auto& [key, tokens] : recipe.options)
    if (std::find(given.begin(), given.end(), key) == given.end())
      out.insert(out.end(), tokens.begin(), tokens.end());
  out.insert(out.end(), train + 1, args.end());
  return out;
}

}  // namespace sprint::cli
