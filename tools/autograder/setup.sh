#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (Ubuntu): it
# installs what grading needs, bubblewrap (the sandbox submissions compile in) included, and
# says whether that sandbox can run in this image. Made by `make autograder`
# (handouts/instructors.md). AUTOGRADER_ROOT stands for /autograder, to try it elsewhere.
set -euxo pipefail
SOURCE=${AUTOGRADER_ROOT:-/autograder}/source
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends make gcc libc6-dev binutils git \
	python3 python3-pytest python3-pytest-xdist qemu-system-x86 bubblewrap
# Archives do not always keep the executable bits.
chmod +x "$SOURCE/run_autograder" "$SOURCE/course/tools/need" "$SOURCE/course/tools/grade-submission" \
	"$SOURCE/course/tools/instructor/cc"
"$SOURCE/course/tools/need" build qemu grade sandbox
# Namespaces may be closed to the image's containers: then every submission is compiled with
# the fallback checks instead, and its intake (the top of the student's output) says so.
set +x
if /usr/bin/python3 "$SOURCE/course/tools/instructor/sandbox.py" probe; then
	echo "setup: submissions will be compiled in the sandbox."
else
	echo "setup: grading will use the fallback checks of tools/instructor/sandbox.py instead of the sandbox."
fi
