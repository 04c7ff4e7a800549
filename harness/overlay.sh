#!/bin/bash
# Apply the repository's kernel overlay onto the work tree.
#
# Every file under one of OVERLAY_DIRS is either
#   - a new kernel file, copied to the same path (it must not exist in the
#     base tree), or
#   - <path>.patch, a unified diff of exactly one existing file, applied with
#     "patch -p1 --fuzz=0" to the pristine copy of <path>.
# A file is written to the work tree only when its content changes, so kbuild
# rebuilds only what the overlay change touched. Files that left the overlay
# are restored from the pristine tree.
. "$(dirname "$0")/lib.sh"

pristine=$(readlink -f "$PRISTINE_LINK")
work=$(readlink -f "$WORK_LINK")
[ -d "$pristine" ] && [ -d "$work" ] || die "no base tree; run harness/kernel.sh source"

manifest=$work/.pt_share_overlay
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# install_file SRC DST: replace DST by SRC's content if it differs. Writing a
# new inode (rename) keeps the hard-linked pristine copy untouched.
install_file() {
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		return 0
	fi
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2.pt_share_tmp"
	mv -f "$2.pt_share_tmp" "$2"
	echo "  overlay: updated ${2#"$work"/}" >&2
	changed=$((changed + 1))
}

changed=0
failed=0
# Files that the last mutation changed outside the overlay: restore them
# (the overlay's own files are rewritten below anyway).
if [ -f "$work/.pt_share_mutated" ]; then
	while read -r f; do
		# New files of the overlay are rewritten by the loop below.
		if [ -f "$pristine/$f" ]; then
			install_file "$pristine/$f" "$work/$f"
		fi
	done < "$work/.pt_share_mutated"
	rm -f "$work/.pt_share_mutated"
fi
: > "$tmp/new_manifest"
cd "$TOP"
files=$( (for d in $OVERLAY_DIRS; do if [ -d "$d" ]; then find "$d" -type f; fi; done; ls $OVERLAY_ROOT_FILES 2>/dev/null || true) | LC_ALL=C sort)
for f in $files; do
	case "$f" in
	*.patch)
		target=${f%.patch}
		if [ ! -f "$pristine/$target" ]; then
			echo "overlay: $f: $target does not exist in the base tree" >&2
			failed=1; continue
		fi
		others=$(grep -E '^\+\+\+ ' "$f" | awk '{print $2}' | sed 's,^b/,,' | grep -vxF "$target" || true)
		if [ -n "$others" ]; then
			echo "overlay: $f: patches files other than $target: $others" >&2
			failed=1; continue
		fi
		mkdir -p "$tmp/t/$(dirname "$target")"
		cp "$pristine/$target" "$tmp/t/$target"
		if ! patch -s -p1 --fuzz=0 --no-backup-if-mismatch -d "$tmp/t" < "$f" > "$tmp/patch.log" 2>&1; then
			echo "overlay: $f does not apply to $target of the base tree:" >&2
			sed 's/^/    /' "$tmp/patch.log" >&2
			failed=1; continue
		fi
		install_file "$tmp/t/$target" "$work/$target"
		rm -rf "$tmp/t"
		echo "$target" >> "$tmp/new_manifest"
		;;
	*)
		if [ -e "$pristine/$f" ]; then
			echo "overlay: $f exists in the base tree; change it with $f.patch instead" >&2
			failed=1; continue
		fi
		install_file "$f" "$work/$f"
		echo "$f" >> "$tmp/new_manifest"
		;;
	esac
done
[ $failed -eq 0 ] || die "the overlay does not apply (see above)"

# Restore files that are no longer part of the overlay.
if [ -f "$manifest" ]; then
	LC_ALL=C sort -u "$manifest" > "$tmp/old"
	LC_ALL=C sort -u "$tmp/new_manifest" > "$tmp/new"
	for f in $(LC_ALL=C comm -23 "$tmp/old" "$tmp/new"); do
		if [ -f "$pristine/$f" ]; then
			ln -f "$pristine/$f" "$work/$f"
			touch "$work/$f"
		else
			rm -f "$work/$f"
		fi
		echo "  overlay: restored ${f} from the base tree" >&2
		changed=$((changed + 1))
	done
fi
# MUTATION=FILE (harness/mutate.sh): a deliberate bug, a patch against a
# file of the work tree, applied on top of the overlay. patch(1) writes a
# new inode, so the pristine copy a work file is linked to stays intact.
# The next overlay restores every file the mutation named.
if [ -n "${MUTATION:-}" ]; then
	sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$MUTATION" > "$work/.pt_share_mutated"
	patch -s -p1 --fuzz=0 --no-backup-if-mismatch -d "$work" < "$MUTATION" ||
		die "mutation $MUTATION does not apply"
	echo "  overlay: mutation $(basename "$MUTATION") applied" >&2
	changed=$((changed + 1))
fi
cp "$tmp/new_manifest" "$manifest"
log "overlay applied: $(wc -l < "$manifest") files, $changed changed"
