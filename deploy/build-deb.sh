#!/bin/sh
# Builds the Debian package from this tree: dpkg-buildpackage -b on a copy
# of the project's files (tracked, and untracked ones git does not ignore),
# with deploy/debian as its debian/ directory (the tree's top level keeps
# the project's own layout; docs/packaging.md).
#
# Usage: deploy/build-deb.sh [OUTDIR]     (default OUTDIR: build-deb)
#   The .deb lands in OUTDIR, the build tree in OUTDIR/ftpproxy-VERSION
#   (its _build/ holds the programs as built, which tests/run-all.sh tests).
#   JOBS (default 2) compile jobs; DEB_BUILD_OPTIONS and dpkg-buildflags'
#   DEB_CXXFLAGS_APPEND etc. pass through. The last line printed is the
#   .deb's path. Needs the build dependencies (deploy/install-build-deps.sh).
set -eu
REPO=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
OUT=${1:-$REPO/build-deb}
JOBS=${JOBS:-2}

die() { echo "build-deb.sh: $*" >&2; exit 1; }

# One version: CMakeLists.txt's project() and the package's changelog.
cmake_version=$(sed -n 's/^project(ftpproxy VERSION \([0-9.]*\).*/\1/p' "$REPO/CMakeLists.txt")
deb_version=$(dpkg-parsechangelog -l "$REPO/deploy/debian/changelog" -S Version)
[ -n "$cmake_version" ] || die "no 'project(ftpproxy VERSION x.y.z' line in CMakeLists.txt"
case "$deb_version" in
    "$cmake_version" | "$cmake_version"[+~]*) ;;
    *) die "deploy/debian/changelog says $deb_version, CMakeLists.txt says $cmake_version: add a changelog entry (dch -v $cmake_version)" ;;
esac

mkdir -p "$OUT"
OUT=$(CDPATH= cd -- "$OUT" && pwd)
src="$OUT/ftpproxy-$deb_version"
rm -rf "$src"
mkdir -p "$src"
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard) |
        (cd "$REPO" && tar --null --no-recursion -T - -cf -) | tar -C "$src" -xf -
else
    # A release tarball: everything but build trees.
    (cd "$REPO" && tar --exclude='./build*' --exclude=./.deps -cf - .) | tar -C "$src" -xf -
fi
rm -rf "$src/debian"
cp -R "$REPO/deploy/debian" "$src/debian"

(cd "$src" && DEB_BUILD_OPTIONS="parallel=$JOBS ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -b -us -uc)

deb="$OUT/ftpproxy_${deb_version}_$(dpkg-architecture -qDEB_HOST_ARCH).deb"
[ -f "$deb" ] || die "dpkg-buildpackage did not write $deb"
echo "$deb"
