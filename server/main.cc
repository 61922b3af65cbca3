// lockerd's entry point: the run of server/run.h, with every rule of
// CLUSTER-SAFETY.md intact.
#include "server/run.h"

int main(int argc, char** argv) { return lockerd::server::RunLockerd(argc, argv); }
