#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (Ubuntu): it
# installs what grading needs. Made by `make autograder` (handouts/instructors.md).
set -euxo pipefail
SOURCE=/autograder/source
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends make gcc libc6-dev binutils git \
	python3 python3-pytest python3-pytest-xdist qemu-system-x86
# Archives do not always keep the executable bits.
chmod +x "$SOURCE/run_autograder" "$SOURCE/course/tools/need" "$SOURCE/course/tools/grade-submission"
"$SOURCE/course/tools/need" build qemu grade
