// The control for upward_include.cc: the same layer including from below itself compiles.
#include "common/error.h"
#include "fsutil/mount.h"
