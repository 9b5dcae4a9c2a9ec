#!/bin/sh
echo "bazel coverage is not available offline (yeehaw_tf ships no coverage tools)" >&2
exit 1
