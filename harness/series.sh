#!/bin/bash
# series.sh: write the overlay as a git-am-able patch series against the
# pristine base, into .build/series/, then prove it: apply it with "git am"
# to a fresh repository of the base files it touches, and run
# scripts/checkpatch.pl --strict from the base tree on every patch.
#
# The series is described by series/NNNN-*.msg: a commit message (subject,
# blank line, body) followed by a "Files:" line and the overlay paths the
# patch carries (kernel paths; a .patch overlay is named by its target).
# Every overlay file belongs to exactly one patch, except MAINTAINERS: each
# patch carries the MAINTAINERS lines of the files it adds
# (harness/series-maintainers.py).
# Prints one "PASS|FAIL<TAB>name" line per check for make check.
. "$(dirname "$0")/lib.sh"

pristine=$(readlink -f "$PRISTINE_LINK")
work=$(readlink -f "$WORK_LINK")
[ -f "$work/.pt_share_overlay" ] || "$TOP/harness/kernel.sh" source >&2
out=$BUILD/series
repo=$BUILD/series-repo
rm -rf "$out" "$repo" "$repo.am"
mkdir -p "$out"

msgs=$(ls "$TOP"/series/*.msg 2>/dev/null | LC_ALL=C sort)
[ -n "$msgs" ] || die "no series/*.msg"

# Which overlay paths does each message claim?
claimed=$(for m in $msgs; do sed -n '/^Files:$/,$p' "$m" | tail -n +2; done | grep -v '^$' | LC_ALL=C sort)
overlay=$(grep -vxF MAINTAINERS "$work/.pt_share_overlay" | LC_ALL=C sort)
dups=$(echo "$claimed" | uniq -d)
missing=$(LC_ALL=C comm -23 <(echo "$overlay") <(echo "$claimed" | uniq))
extra=$(LC_ALL=C comm -13 <(echo "$overlay") <(echo "$claimed" | uniq))
[ -z "$dups" ] || die "claimed by two patches: $dups"
[ -z "$missing" ] || die "overlay files in no patch of series/: $missing"
[ -z "$extra" ] || die "series/ names files that are not in the overlay: $extra"

git_id=(-c user.name="pt_share developers" -c user.email="pt-share@example.org"
	-c init.defaultBranch=base -c commit.gpgsign=false)

# A repository holding the base version of every file the series touches.
base_repo() {
	local dir=$1 f
	mkdir -p "$dir"
	git "${git_id[@]}" -C "$dir" init -q
	for f in $overlay MAINTAINERS; do
		if [ -f "$pristine/$f" ]; then
			mkdir -p "$dir/$(dirname "$f")"
			cp "$pristine/$f" "$dir/$f"
			chmod u+w "$dir/$f"
		fi
	done
	git -C "$dir" add -A
	git "${git_id[@]}" -C "$dir" commit -q --allow-empty \
		-m "Linux $(make -s -C "$pristine" kernelversion) (Debian linux-source-6.12 $(base_pkg_version))"
}

base_repo "$repo"
for m in $msgs; do
	for f in $(sed -n '/^Files:$/,$p' "$m" | tail -n +2); do
		mkdir -p "$repo/$(dirname "$f")"
		cp "$work/$f" "$repo/$f"
		git -C "$repo" add "$f"
	done
	if grep -qxF MAINTAINERS "$work/.pt_share_overlay"; then
		added=$(git -C "$repo" diff --cached --name-only --diff-filter=A "$(git -C "$repo" rev-list --max-parents=0 HEAD)")
		# shellcheck disable=SC2086
		PRISTINE=$pristine/MAINTAINERS "$TOP/harness/series-maintainers.py" "$work/MAINTAINERS" \
			$added $(git -C "$repo" log --format= --name-only --diff-filter=A) \
			> "$repo/MAINTAINERS"
		git -C "$repo" add MAINTAINERS
	fi
	sed '/^Files:$/,$d' "$m" > "$out/msg"
	printf '\nSigned-off-by: pt_share developers <pt-share@example.org>\n' >> "$out/msg"
	git "${git_id[@]}" -C "$repo" commit -q -F "$out/msg"
done
rm -f "$out/msg"
git -C "$repo" format-patch -q --no-signature -o "$out" "HEAD~$(echo "$msgs" | wc -w)..HEAD"
n=$(ls "$out"/*.patch | wc -l)
log "wrote $n patches to ${out#"$TOP"/}/"

# Prove it: git am on a fresh base, then checkpatch on each patch.
base_repo "$repo.am"
if git "${git_id[@]}" -C "$repo.am" am -q "$out"/*.patch > "$BUILD/series-am.log" 2>&1 &&
   diff -r -x .git "$repo" "$repo.am" > /dev/null; then
	printf 'PASS\tseries: %d patches apply with git am on the base\n' "$n"
else
	cat "$BUILD/series-am.log" >&2
	printf 'FAIL\tseries: git am on the base\n'
fi
for p in "$out"/*.patch; do
	if (cd "$pristine" && perl scripts/checkpatch.pl --strict --quiet "$p") > "$out/cp.log" 2>&1; then
		printf 'PASS\tseries: checkpatch --strict %s\n' "$(basename "$p")"
	else
		sed 's/^/    /' "$out/cp.log" >&2
		printf 'FAIL\tseries: checkpatch --strict %s\n' "$(basename "$p")"
	fi
done
rm -f "$out/cp.log"
rm -rf "$repo.am"
