#!/bin/sh
# Every citation of the design document names docs/DESIGN.md, and every
# "docs/DESIGN.md section N" (or "§N", "section N.M") it makes names a
# section that exists there ("## N." or "### N.M" heading).  Looks in
# include/, lib/, cmd/, tests/, fuzz/, examples/, bench/, docs/, scripts/ and
# README.md; a citation may wrap across comment lines.
# Usage: sh scripts/check-docs.sh [ROOT]   (default: the tree it sits in)
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
design=$root/docs/DESIGN.md
if [ ! -f "$design" ]; then
    echo "check-docs: $design: no such file" >&2
    exit 1
fi
cd "$root" || exit 2
files=$(grep -rlI 'DESIGN' include lib cmd tests fuzz examples bench docs scripts \
    README.md 2>/dev/null | grep -v -e '^docs/DESIGN\.md$' -e '^scripts/check-docs\.sh$')
# shellcheck disable=SC2086
perl -e '
    my $design = shift;
    open(my $d, "<", $design) or die "check-docs: $design: $!\n";
    my %have;
    while (<$d>) {
        $have{$1} = 1 if /^##+\s+(\d+(?:\.\d+)*)[.\s]/;
    }
    close($d);
    my $bad = 0;
    my $cites = 0;
    for my $f (@ARGV) {
        open(my $h, "<", $f) or die "check-docs: $f: $!\n";
        local $/;
        my $text = <$h>;
        close($h);
        # Any mention of DESIGN.md must be the repository path.
        while ($text =~ /(\S*)DESIGN\.md/g) {
            my $pre = $1;
            my $line = 1 + (() = substr($text, 0, pos($text)) =~ /\n/g);
            if ($pre !~ m{docs/$}) {
                print STDERR "$f:$line: cites \"${pre}DESIGN.md\": write docs/DESIGN.md\n";
                $bad++;
            }
        }
        # Cited sections, across a line break and a comment leader.
        while ($text =~ /DESIGN\.md[`\x27"\)]*,?[\s*\/#]*(?:\\fR)?\s*(?:section|\x{a7}|\xc2\xa7)\s*(\d+(?:\.\d+)*)/g) {
            my $sec = $1;
            my $line = 1 + (() = substr($text, 0, pos($text)) =~ /\n/g);
            $cites++;
            if (!$have{$sec}) {
                print STDERR "$f:$line: cites docs/DESIGN.md section $sec, which does not exist\n";
                $bad++;
            }
        }
    }
    if ($bad) {
        print STDERR "check-docs: $bad bad citation(s) of docs/DESIGN.md\n";
        exit 1;
    }
    print "check-docs: $cites section citation(s) of docs/DESIGN.md, all present\n";
' "$design" $files
