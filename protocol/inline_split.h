// Splits an inline command line into arguments the way Redis does
// (sdssplitargs): words separated by spaces, "double quoted" with C-style
// escapes (\n \r \t \b \a \\ \" \xHH), 'single quoted' with only \' escaped.
// A closing quote must be followed by a space or the end of the line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lockerd::protocol {

enum class InlineSplit { kOk, kUnbalancedQuotes, kTooManyArgs };

// Writes the arguments into (*args)[0..*count), reusing the strings already in
// *args so that a parser keeps their capacity.
InlineSplit SplitInlineArgs(std::string_view line, size_t args_count_max, std::vector<std::string>* args,
                     size_t* count);

}  // namespace lockerd::protocol
