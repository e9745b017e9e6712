// Placeholder CLI: `path` only, until the full command set lands.
#include <cstdio>
#include <string>

#include "prodigy/prodigy.h"

int main(int argc, char** argv) {
  try {
    auto storage = prodigy::GlobalStorage::Open(".");
    if (argc > 1 && std::string(argv[1]) == "path") std::puts(storage.location().db_path.c_str());
    return 0;
  } catch (const prodigy::Error& e) {
    std::fprintf(stderr, "prodigy-store: %s\n", e.what());
    return 1;
  }
}
