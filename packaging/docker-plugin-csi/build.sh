#!/usr/bin/env bash
# Builds berth's Swarm CSI plugin (berth-csi as a managed Docker plugin with the interface types
# docker.csicontroller/1.0 and docker.csinode/1.0): packaging/docker-plugin/build.sh --csi.
# Usage: build.sh BUILD_BIN_DIR OUT_DIR [--create NAME]
set -euo pipefail
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../docker-plugin/build.sh" --csi "$@"
