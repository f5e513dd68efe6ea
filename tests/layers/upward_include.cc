// Deliberately wrong: a file of the fsutil layer reaching up into the engine. It must not compile
// (lint.Layers, tests/layers/layers_test.sh); the build gives fsutil no way to see engine/.
#include "engine/engine.h"
