// The settings table: one record per setting, holding its name, its --help
// line, how its words set the Config and how CONFIG GET shows it. LoadConfig
// (config.cc) applies config file lines and flags through it; HelpText and
// ConfigGet (settings.cc) read it back. Checks that involve several
// settings are LoadConfig's, after every value is read. Internal to
// server/config/.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "server/config/config.h"
#include "server/config/setting_values.h"

namespace lockerd::server::settings {

// A setter returns an error message, or an empty string when the value is good.
using Setter = std::function<std::string(Config&, const Values&)>;
using Getter = std::function<std::string(const Config&)>;

struct Setting {
  std::string_view name;
  std::string_view args;  // For --help.
  std::string_view help;
  Setter set;
  Getter get;
};

// Every setting, in --help's order.
const std::vector<Setting>& Settings();
// The setting called `name`, in any case; null when there is none.
const Setting* FindSetting(std::string_view name);

}  // namespace lockerd::server::settings
