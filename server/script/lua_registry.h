// The fields LuaEngine keeps in the Lua registry, named in one place because
// its files share them: the engine's own pointer (for the time-limit hook),
// the sandbox's tables, and the environment of the script that is running
// (for loadstring). Internal to server/script/; scripts cannot reach the
// registry (the debug library is not offered).
#pragma once

namespace lockerd::server::script {

constexpr const char* kEngineKey = "lockerd.engine";        // The LuaEngine, light userdata.
constexpr const char* kBaseKey = "lockerd.base";            // Safe base functions.
constexpr const char* kLibsKey = "lockerd.libs";            // name -> real library table.
constexpr const char* kProxyMetaKey = "lockerd.proxymeta";  // name -> proxy metatable.
constexpr const char* kEnvMetaKey = "lockerd.envmeta";      // A run's environment's metatable.
constexpr const char* kEnvKey = "lockerd.env";              // The running script's environment.

}  // namespace lockerd::server::script
